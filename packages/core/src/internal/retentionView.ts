/** What readers and `/stats` are told of retention: the per-topic view and a cursor's `pruned_before`. */
import type { Stats } from "@event-aggregator/api/Schemas"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Event from "../Event.js"
import type * as EventStore from "../EventStore.js"
import * as Retention from "../Retention.js"
import { EventPruned } from "./errors.js"

type PerTopic = Stats["per_topic"]

/** The per-topic counters with what is stored now, the oldest stored seq and the topic's settings. */
export const perTopic = (
  counters: PerTopic,
  report: ReadonlyMap<string, EventStore.TopicRetention>,
  policy: Retention.Policy
): PerTopic => {
  const out: Record<string, PerTopic[string]> = {}
  for (const [topic, c] of Object.entries(counters)) {
    const r = report.get(topic)
    out[topic] = {
      ...c,
      stored: c.unique_processed - (r?.pruned ?? 0),
      oldest_seq: r === undefined ? null : r.oldest,
      key_records: r?.keyRecords ?? 0,
      ...Retention.describe(Retention.ruleOf(policy, topic))
    }
  }
  return out
}

/**
 * The `pruned_before` of a cursor: set when events after `after` (of `topic`, if given) were
 * pruned; the first seq past every pruned one of that selection. Undefined when none were.
 */
export const prunedBefore = (
  report: ReadonlyMap<string, EventStore.TopicRetention>,
  topic: string | undefined,
  after: number
): number | undefined => {
  let through = 0
  if (topic === undefined) for (const r of report.values()) through = Math.max(through, r.prunedThrough)
  else through = report.get(topic)?.prunedThrough ?? 0
  return through > after ? through + 1 : undefined
}

/** `get` of a store: a key whose event was pruned while its key is still remembered fails with `EventPruned`. */
export const get = (store: EventStore.EventStore["Type"]) =>
(key: Event.Key): Effect.Effect<Option.Option<Event.StoredEvent>, EventStore.StoreError | EventPruned> =>
  Effect.flatMap(store.get(key), (found) =>
    found._tag === "Some" || store.keyRecord === undefined ? Effect.succeed(found) : Effect.flatMap(
      store.keyRecord(key),
      (seq) =>
        seq._tag === "None" ? Effect.succeed(found) : Effect.fail(
          new EventPruned({
            message: `the event ${key.topic}/${key.event_id} (seq ${seq.value}) left retention; its key is still remembered`,
            seq: seq.value
          })
        )
    ))
