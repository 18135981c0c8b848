/**
 * The shapes the HTTP contract and the library share: an event, a stored event, a problem of a
 * rejected batch, the counters, the page bounds. The core validates and stores events of these
 * shapes; clients read them.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { EventId, Source, Timestamp, Topic } from "./Fields.js"

/**
 * A payload: the JSON text of a JSON object, exactly as it was published (every digit of every
 * number, every escape, the publisher's whitespace). On the wire it is the object itself; in
 * the library it is this text (`JSON.parse` it, or use a lossless parser for integers beyond 2^53).
 *
 * @since 0.1.0
 */
export const Payload = Schema.String.pipe(Schema.brand("@event-aggregator/Payload")).annotations({
  identifier: "Payload",
  description: "any JSON object (may be {}), returned exactly as published",
  jsonSchema: { type: "object" }
})

/** @since 0.1.0 */
export type Payload = typeof Payload.Type

const fields = {
  topic: Topic,
  event_id: EventId,
  timestamp: Timestamp,
  source: Source,
  payload: Payload
}

/**
 * A validated event: the fields publishers send, the payload as its JSON text. Build events
 * from unknown input with `validate`.
 *
 * @since 0.1.0
 */
export const Event = Schema.Struct(fields).annotations({
  identifier: "Event",
  parseOptions: { onExcessProperty: "error" }
})

/** @since 0.1.0 */
export type Event = typeof Event.Type

/**
 * An event as stored: the published fields plus its position in the log and commit time.
 *
 * @since 0.1.0
 */
export const StoredEvent = Schema.Struct({
  ...fields,
  seq: Schema.Number,
  received_at: Schema.String
}).annotations({ identifier: "StoredEvent" })

/** @since 0.1.0 */
export type StoredEvent = typeof StoredEvent.Type

/**
 * Present when events after the reader's cursor (of its topic, if it gave one) were removed by
 * retention: every event with a `seq` below it that followed the cursor may be gone. The page holds
 * what is still stored, from the oldest on.
 *
 * @since 0.1.0
 */
export const PrunedBefore = Schema.Number.annotations({
  identifier: "PrunedBefore",
  description: "events after the cursor and below this seq were removed by retention (RETENTION); the page continues from the oldest stored one"
})

/**
 * A page of the log: `next_after` is the seq to pass as `after` for the next page, or null when
 * nothing more is stored right now.
 *
 * @since 0.1.0
 */
export const Page = Schema.Struct({
  events: Schema.Array(StoredEvent),
  next_after: Schema.NullOr(Schema.Number),
  pruned_before: Schema.optional(PrunedBefore)
}).annotations({ identifier: "Page" })

/** @since 0.1.0 */
export type Page = typeof Page.Type

/** One problem of a rejected batch: which event, which field, what is wrong. */
export const Issue = Schema.Struct({
  index: Schema.Number,
  path: Schema.String,
  message: Schema.String
}).annotations({ identifier: "Issue" })

/** @since 0.1.0 */
export type Issue = typeof Issue.Type

/** Counters of one topic, as reported by `stats`. */
export const TopicStats = Schema.Struct({
  unique_processed: Schema.Number,
  duplicate_dropped: Schema.Number,
  conflicts: Schema.Number,
  /** Events of the topic stored now (unique_processed minus those pruned by retention). */
  stored: Schema.optional(Schema.Number),
  /** The oldest stored `seq` of the topic; null when none is stored. */
  oldest_seq: Schema.optional(Schema.NullOr(Schema.Number)),
  /** How long the topic's events are stored (`RETENTION` or its override): `forever`, `30d`. */
  retention: Schema.optional(Schema.String),
  /** How long the topic's keys are remembered (`DEDUP_WINDOW` or its override). */
  dedup_window: Schema.optional(Schema.String),
  /** Keys whose event was pruned, still remembered (a duplicate of one is still a duplicate). */
  key_records: Schema.optional(Schema.Number)
}).annotations({ identifier: "TopicStats" })

/**
 * A snapshot of the aggregator's counters, as `GET /stats` returns it. At every instant
 * `received == unique_processed + duplicate_dropped + pending`.
 *
 * @since 0.1.0
 */
export const Stats = Schema.Struct({
  received: Schema.Number,
  unique_processed: Schema.Number,
  duplicate_dropped: Schema.Number,
  conflicts: Schema.Number,
  pending: Schema.Number,
  topics: Schema.Array(Schema.String),
  per_topic: Schema.Record({ key: Schema.String, value: TopicStats }),
  uptime: Schema.Number,
  started_at: Schema.String,
  workers: Schema.Number,
  queue_capacity: Schema.NullOr(Schema.Number),
  /** Followers of the log in this process, and how many of them are reading the store to catch up. */
  followers: Schema.Number,
  followers_catching_up: Schema.Number,
  /** The retention settings every topic without an override follows. */
  retention: Schema.optional(Schema.Struct({ retention: Schema.String, dedup_window: Schema.String }))
}).annotations({ identifier: "Stats" })

/** @since 0.1.0 */
export type Stats = typeof Stats.Type

/** Most events one page holds. */
export const MAX_LIMIT = 10_000

/** Events per page when the reader does not say. */
export const DEFAULT_LIMIT = 1_000
