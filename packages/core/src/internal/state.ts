/** The Aggregator's state: queued requests, counters held in a Ref, and the stats snapshot made of them. */
import type * as Deferred from "effect/Deferred"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import type * as Event from "../Event.js"
import * as EventStore from "../EventStore.js"
import type { Keyed } from "./idempotent.js"

/** One publish in the queue; `done` is absent for a queued ack. */
export interface Request {
  readonly events: ReadonlyArray<Event.Event>
  readonly done: Deferred.Deferred<ReadonlyArray<EventStore.Outcome>, EventStore.StoreError> | undefined
  /** Commits of it that failed so far (a queued ack is tried again until it commits). */
  readonly failures: number
  /** A keyed publish's record, stored by the commit of its events. */
  readonly keyed?: Keyed | undefined
}

/** Received is not kept: it is unique + duplicates + pending, so the invariant holds by construction. */
export interface State {
  readonly unique: number
  readonly duplicates: number
  readonly conflicts: number
  readonly pending: number
  readonly perTopic: HashMap.HashMap<string, EventStore.TopicCounters>
  readonly closing: boolean
}

/** The totals of persisted counters, as the committed part of a State. */
export const committed = (counters: EventStore.Counters): Pick<State, "unique" | "duplicates" | "conflicts" | "perTopic"> => {
  let unique = 0
  let duplicates = 0
  let conflicts = 0
  for (const c of counters.per_topic.values()) {
    unique += c.unique_processed
    duplicates += c.duplicate_dropped
    conflicts += c.conflicts
  }
  return { unique, duplicates, conflicts, perTopic: HashMap.fromIterable(counters.per_topic) }
}

export const addTopic = (
  map: HashMap.HashMap<string, EventStore.TopicCounters>,
  topic: string,
  delta: EventStore.TopicCounters
) =>
  HashMap.modifyAt(map, topic, (current) => Option.some(EventStore.addCounters(Option.getOrUndefined(current), delta)))

/** The counters of a state as `stats` reports them (process fields added by the caller). */
export const counters = (s: State) => {
  const entries = Array.from(s.perTopic).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return {
    received: s.unique + s.duplicates + s.pending,
    unique_processed: s.unique,
    duplicate_dropped: s.duplicates,
    conflicts: s.conflicts,
    pending: s.pending,
    topics: entries.map(([topic]) => topic),
    per_topic: Object.fromEntries(entries) as Record<string, EventStore.TopicCounters>
  }
}
