/** The Aggregator's errors (re-exported by `Aggregator`). */
import * as Schema from "effect/Schema"

/**
 * The queue holds `capacity` events already; retry later (HTTP 503 with `Retry-After`).
 *
 * @since 0.1.0
 */
export class QueueFull extends Schema.TaggedError<QueueFull>()("QueueFull", {
  message: Schema.String,
  capacity: Schema.Number
}) {}

/**
 * One request holds more events than the whole queue (`QUEUE_MAXSIZE`): it can never be taken,
 * so retrying is pointless (HTTP 413); send smaller batches.
 *
 * @since 0.1.0
 */
export class BatchTooLarge extends Schema.TaggedError<BatchTooLarge>()("BatchTooLarge", {
  message: Schema.String,
  capacity: Schema.Number
}) {}

/**
 * The aggregator is draining for shutdown and takes no new events.
 *
 * @since 0.1.0
 */
export class ShuttingDown extends Schema.TaggedError<ShuttingDown>()("ShuttingDown", {
  message: Schema.String
}) {}

/**
 * The event of that key left retention (`RETENTION`) while its key is still remembered
 * (`DEDUP_WINDOW`): a re-send is still a duplicate of `seq` (HTTP 410).
 *
 * @since 0.1.0
 */
export class EventPruned extends Schema.TaggedError<EventPruned>()("EventPruned", {
  message: Schema.String,
  seq: Schema.Number
}) {}

/**
 * The process follows the log `MAX_FOLLOWERS` times already (HTTP 503); try later or elsewhere.
 *
 * @since 0.1.0
 */
export class TooManyFollowers extends Schema.TaggedError<TooManyFollowers>()("TooManyFollowers", {
  message: Schema.String,
  limit: Schema.Number
}) {}
