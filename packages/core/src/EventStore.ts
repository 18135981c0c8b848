/**
 * The storage contract: a deduplicating, append-only event log with per-topic counters. Every
 * store (memory, SQLite, PostgreSQL) implements it with the same semantics.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Event from "./Event.js"
import type * as Retention from "./Retention.js"
import type * as Idempotency from "./Idempotency.js"

/**
 * A store could not do its work (I/O, a locked or corrupt file, a lost connection). The request
 * that caused it changed nothing.
 *
 * @since 0.1.0
 */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  operation: Schema.Literal("append", "read", "open", "prune"),
  cause: Schema.Defect
}) {
  /** Turns any failure or defect of `effect` into a `StoreError` for `operation`. */
  static refail<A, E, R>(
    operation: StoreError["operation"],
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, StoreError, R> {
    return Effect.catchAllCause(effect, (cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.failCause(cause as Cause.Cause<never>)
        : Effect.fail(new StoreError({ operation, cause: Cause.squash(cause) })))
  }

  override get message(): string {
    // Effect.try wraps what it caught in an UnknownException; report the original.
    const cause = Cause.isUnknownException(this.cause) ? this.cause.error : this.cause
    const detail = cause instanceof Error ? cause.message : String(cause)
    return `event store ${this.operation} failed: ${detail}`
  }
}

/**
 * What became of one appended event. `seq` is the new event's position when `accepted`, and the
 * stored original's when `duplicate` or `conflict` (a later copy whose fields differ).
 *
 * @since 0.1.0
 */
export interface Outcome {
  readonly status: "accepted" | "duplicate" | "conflict"
  readonly seq: number
}

/**
 * What an append did: one outcome per event, in order, and the counter changes per topic it
 * committed (in first-seen order).
 *
 * @since 0.1.0
 */
export interface Appended {
  readonly outcomes: ReadonlyArray<Outcome>
  readonly deltas: ReadonlyMap<string, TopicCounters>
  /** The `received_at` the new events were stored with. */
  readonly receivedAt: string
}

/**
 * Seqs `from` to `to` were committed together (by this process or, with a shared store, another).
 *
 * @since 0.1.0
 */
export interface Committed {
  readonly from: number
  readonly to: number
}

/** Persisted counters of one topic. `conflicts` is a subset of `duplicate_dropped`. */
export interface TopicCounters {
  readonly unique_processed: number
  readonly duplicate_dropped: number
  readonly conflicts: number
}

/** Counters plus a change (`current` absent: the change alone). */
export const addCounters = (current: TopicCounters | undefined, delta: TopicCounters): TopicCounters =>
  current === undefined ? delta : {
    unique_processed: current.unique_processed + delta.unique_processed,
    duplicate_dropped: current.duplicate_dropped + delta.duplicate_dropped,
    conflicts: current.conflicts + delta.conflicts
  }

/**
 * Persisted counters: per topic, as committed. Totals are their sums.
 *
 * @since 0.1.0
 */
export interface Counters {
  readonly per_topic: ReadonlyMap<string, TopicCounters>
}

/** A page request: events with `seq > after`, ascending, at most `limit`, of `topic` if given. */
export interface ReadOptions {
  readonly topic?: string | undefined
  readonly after: number
  readonly limit: number
}

/**
 * One pruning step: remove at most `maxRows` events past their topic's retention at `now` (epoch
 * ms; compared with `received_at`), keeping a key record for those still inside their dedup window,
 * and forget at most `maxRows` key records past their window. One short transaction.
 *
 * @since 0.1.0
 */
export interface PruneRequest {
  readonly now: number
  readonly policy: Retention.Policy
  readonly maxRows: number
}

/**
 * What one pruning step did. `more`: it stopped at `maxRows`, another step has work.
 *
 * @since 0.1.0
 */
export interface Pruned {
  readonly pruned: number
  readonly recorded: number
  readonly forgotten: number
  readonly more: boolean
}

/** Nothing pruned, nothing left to do. */
export const nothingPruned: Pruned = { pruned: 0, recorded: 0, forgotten: 0, more: false }

/**
 * What retention did to one topic, persisted: events pruned (lifetime), the highest pruned `seq`,
 * key records held now, keys forgotten (lifetime), and the oldest stored `seq` (null: none stored).
 *
 * @since 0.1.0
 */
export interface TopicRetention {
  readonly pruned: number
  readonly prunedThrough: number
  readonly keyRecords: number
  readonly forgotten: number
  readonly oldest: number | null
}

/**
 * The store service.
 *
 * @since 0.1.0
 */
export class EventStore extends Context.Tag("@event-aggregator/core/EventStore")<EventStore, {
  /**
   * Appends a commit group (events of many requests, in order) in one transaction and returns
   * one outcome per event, in order, with the counter changes it committed. The first copy of a key wins, also inside the group; later
   * copies are duplicates (conflicts when their fields differ) and never overwrite it. Counters
   * change in the same transaction. On failure nothing of the group is stored. `idempotent`: the
   * keyed requests among the events, whose records (`Idempotency.recordOf`) the same transaction
   * stores (a store without `idempotency` ignores them).
   */
  readonly append: (
    events: ReadonlyArray<Event.Event>,
    idempotent?: ReadonlyArray<Idempotency.Pending>
  ) => Effect.Effect<Appended, StoreError>
  /** The records of `Idempotency-Key`s. Optional: a store without it cannot take keyed requests. */
  readonly idempotency?: IdempotencyRecords
  /** A page of stored events in `seq` (commit) order. */
  readonly read: (options: ReadOptions) => Effect.Effect<ReadonlyArray<Event.StoredEvent>, StoreError>
  /** The stored copy of one key. */
  readonly get: (key: Event.Key) => Effect.Effect<Option.Option<Event.StoredEvent>, StoreError>
  /** The persisted counters, read without scanning the events. */
  readonly counters: Effect.Effect<Counters, StoreError>
  /**
   * True when other processes may append to the same store (PostgreSQL): the counters then move
   * without this process, and an Aggregator reads them from the store for its stats.
   */
  readonly shared: boolean
  /** Succeeds when the store can serve requests now (readiness: `/ready`). */
  readonly ping: Effect.Effect<void, StoreError>
  /** The highest `seq` stored (0 when empty). Every event up to it is visible to reads. */
  readonly head: Effect.Effect<number, StoreError>
  /**
   * With a shared store: the ranges every process commits, as they commit (so followers of this
   * process learn of other processes' events). Undefined when only this process writes.
   */
  readonly commits: Stream.Stream<Committed, StoreError> | undefined
  /** What it stores in (`"sqlite"`, `"memory"`, `"postgres"`), for operators (the dashboard). */
  readonly kind?: string
  /**
   * The `received_at` of each topic's newest event, by topic (index lookups, no scan of the log).
   * Optional: a store without it reports no times.
   */
  readonly lastEventTimes?: Effect.Effect<ReadonlyMap<string, string>, StoreError>
  /**
   * One pruning step (see `PruneRequest`). Safe beside appends: an event younger than its retention
   * is never removed; with a shared store, only one process prunes at a time (others do nothing).
   */
  readonly prune?: (request: PruneRequest) => Effect.Effect<Pruned, StoreError>
  /** Per topic, what retention did (topics that never had anything pruned may be absent). */
  readonly retention?: Effect.Effect<ReadonlyMap<string, TopicRetention>, StoreError>
  /** The original `seq` of a key whose event was pruned while the key is still remembered. */
  readonly keyRecord?: (key: Event.Key) => Effect.Effect<Option.Option<number>, StoreError>
}>() {}

/**
 * Where a store keeps the records of idempotency keys (written by `append`).
 *
 * @since 0.1.0
 */
export interface IdempotencyRecords {
  /**
   * The key's record if it has one that has not expired at `now` (epoch ms); else the key is
   * claimed for the caller until it is released or its record is written. A store shared by
   * several processes answers `InFlight` while another process holds a claim younger than a minute.
   */
  readonly claim: (key: Idempotency.Key, now: number) => Effect.Effect<Idempotency.Claim, StoreError>
  /** Gives a claimed key up (its request failed; nothing of it was stored). */
  readonly release: (key: Idempotency.Key) => Effect.Effect<void, StoreError>
  /** Deletes the records expired at `now` (epoch ms), at most `limit`; returns how many. */
  readonly purge: (now: number, limit: number) => Effect.Effect<number, StoreError>
}

/**
 * Commits learned by reading `head` every `interval` (for a store that cannot announce them): one
 * range per change of the head.
 *
 * @since 0.1.0
 */
export const polledCommits = (
  head: Effect.Effect<number, StoreError>,
  interval: Duration.DurationInput
): Stream.Stream<Committed, StoreError> =>
  Stream.unwrap(Effect.map(head, (start) => {
    let known = start
    return Stream.repeatEffectWithSchedule(head, Schedule.spaced(interval)).pipe(
      Stream.filterMap((now) => {
        if (now <= known) return Option.none()
        const range = { from: known + 1, to: now }
        known = now
        return Option.some(range)
      })
    )
  }))
