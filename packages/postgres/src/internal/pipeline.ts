/**
 * One process's commit groups as a pipeline: each group is looked up as soon as it arrives, then
 * planned (synchronously, so plans are made one at a time) and committed in plan order. A group is
 * planned against the rows of our earlier groups that its lookup may have missed (planned but not
 * committed yet, or committed after the lookup began): in real traffic a retry of one request often
 * sits in the group behind the original's. So the next commit is ready the moment the previous one
 * ends, and nothing but the database's own work happens in the locked step.
 *
 * The steps that touch the database are parameters, so the pipeline is tested without one.
 */
import { CommitPlan as Plan, Event, type EventStore, type Idempotency } from "@event-aggregator/core"
import * as Arr from "effect/Array"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"

/** The commit step found a key planned as new already stored: another process stored it after our lookup. */
export class StalePlan extends Data.TaggedError("StalePlan") {}

const isStalePlan = (error: unknown): error is StalePlan => error instanceof StalePlan

/** What the pipeline asks of the database. */
export interface Steps<E> {
  /** The stored copies of `keys` by `Event.keyString`, read without the lock; the only step that may be interrupted. */
  readonly lookup: (keys: ReadonlyArray<Event.Key>) => Effect.Effect<ReadonlyMap<string, Plan.Existing>, E>
  /**
   * Stores a plan's rows (`seq` counted from 1) and counters in one locked step and returns where
   * they went: their base (first seq - 1). Fails with `StalePlan`, storing nothing, when one of its
   * "new" keys is already stored.
   */
  readonly commit: (
    plan: Plan.Plan,
    receivedAt: string,
    then?: (base: number) => Effect.Effect<void, E>
  ) => Effect.Effect<number, E | StalePlan>
  /** Decides a group again under the lock (look up, plan and commit in one transaction). */
  readonly appendLocked: (
    events: ReadonlyArray<Event.Event>,
    receivedAt: string,
    idempotent?: ReadonlyArray<Idempotency.Pending>
  ) => Effect.Effect<EventStore.Appended, E>
  /** Writes the records of keyed requests, given their group's outcomes (in the commit's transaction: `then`). */
  readonly records?: (pending: ReadonlyArray<Idempotency.Pending>, outcomes: ReadonlyArray<EventStore.Outcome>) => Effect.Effect<void, E>
}

/**
 * Where a planned group stands. `commitNumber` counts our groups that committed rows, this one
 * included: a lookup that began when fewer had committed may have missed this group's rows.
 */
export type GroupState = Data.TaggedEnum<{
  Planned: {}
  Committed: { readonly base: number; readonly commitNumber: number }
  Failed: {}
}>
export const GroupState = Data.taggedEnum<GroupState>()

/** A group of this process from planning on (kept a while after its commit, for later lookups). */
interface Group {
  /** Its new rows by key, `seq` counted from 1. */
  readonly rows: ReadonlyMap<string, Plan.Existing>
  state: GroupState
  /** Completes when it has committed or failed: the next group commits after it. */
  readonly done: Deferred.Deferred<void>
}

/** A lookup in progress, and how many of our groups had committed rows when it began. */
interface Lookup {
  readonly seen: number
}

/** Commit groups decided again under the lock because another process stored one of their keys first. */
export const replanned = Metric.counter("event_aggregator_pg_commit_replanned_total", {
  description: "PostgreSQL commit groups planned again under the lock (another instance stored one of their keys first)",
  incremental: true
})

/** Commit groups planned and not yet committed or failed: waiting for earlier groups or the commit lock. */
export const planned = Metric.gauge("event_aggregator_pg_commit_pipeline_groups", {
  description: "PostgreSQL commit groups of this process planned and waiting to commit (behind earlier groups or the commit lock)"
})

/**
 * Outcomes with real `seq` values: the plan counted new rows from 1 and the commit put them at
 * `base + 1`; a key whose copy is an earlier group's row is at that group's base (`earlier`) + its
 * seq; a key stored before the lookup (`found`) already has its real seq.
 */
export const rebase = (
  events: ReadonlyArray<Event.Event>,
  plan: Plan.Plan,
  found: ReadonlyMap<string, Plan.Existing>,
  earlier: ReadonlyMap<string, number>,
  base: number,
  receivedAt: string
): EventStore.Appended => {
  if (base === 0 && earlier.size === 0) return { outcomes: plan.outcomes, deltas: plan.deltas, receivedAt }
  const outcomes = Arr.zipWith(events, plan.outcomes, (event, o): EventStore.Outcome => {
    const key = Event.keyString(event)
    const from = earlier.get(key)
    if (from !== undefined) return { status: o.status, seq: o.seq + from }
    return found.has(key) ? o : { status: o.status, seq: o.seq + base }
  })
  return { outcomes, deltas: plan.deltas, receivedAt }
}

/** The pipeline's entry: what `EventStore.append` does. */
export interface CommitPipeline<E> {
  /** `receivedAt`: what the group's new events are stored with. */
  readonly append: (
    events: ReadonlyArray<Event.Event>,
    receivedAt: string,
    idempotent?: ReadonlyArray<Idempotency.Pending>
  ) => Effect.Effect<EventStore.Appended, E>
}

export const make = <E>(steps: Steps<E>): Effect.Effect<CommitPipeline<E>> =>
  Effect.sync(() => {
    let commits = 0 // our groups that committed rows so far
    let last: Group | undefined // the group planned last: the next one commits after it
    const recent = new Set<Group>() // groups with rows that a lookup in progress or to come may have missed
    const lookups = new Set<Lookup>()

    const mayHaveMissed = (lookup: Lookup, group: Group): boolean =>
      group.state._tag === "Planned" || (group.state._tag === "Committed" && group.state.commitNumber > lookup.seen)

    /** Forgets groups every lookup in progress (and every later one) has seen in the database. */
    const prune = () => {
      let oldest = commits
      for (const lookup of lookups) oldest = Math.min(oldest, lookup.seen)
      for (const group of recent) {
        if (group.state._tag === "Failed" || (group.state._tag === "Committed" && group.state.commitNumber <= oldest)) {
          recent.delete(group)
        }
      }
    }

    /** Plans a looked-up group and queues it behind the last one; synchronous, so plans are made one at a time. */
    const planGroup = (
      events: ReadonlyArray<Event.Event>,
      keys: ReadonlyArray<Event.Key>,
      found: ReadonlyMap<string, Plan.Existing>,
      lookup: Lookup,
      done: Deferred.Deferred<void>
    ) => {
      const origin = new Map<string, Group>() // keys whose copy is an earlier group's row, not yet seen stored
      let keyStrings: Array<string> | undefined
      for (const earlier of recent) {
        if (!mayHaveMissed(lookup, earlier)) continue
        keyStrings ??= keys.map(Event.keyString)
        for (const key of keyStrings) if (earlier.rows.has(key)) origin.set(key, earlier)
      }
      lookups.delete(lookup)
      prune()
      const plan = Plan.plan(events, (key) => origin.get(key)?.rows.get(key) ?? found.get(key), 1)
      const group: Group = { rows: new Map(plan.rows.map((r) => [Event.keyString(r), r])), state: GroupState.Planned(), done }
      const previous = last
      last = group
      if (plan.rows.length > 0) recent.add(group)
      return { group, previous, plan, origin }
    }

    /** The bases of the earlier groups a plan counted on, or undefined if one of them did not commit. */
    const basesOf = (origin: ReadonlyMap<string, Group>): Map<string, number> | undefined => {
      const bases = new Map<string, number>()
      for (const [key, group] of origin) {
        if (group.state._tag !== "Committed") return undefined
        bases.set(key, group.state.base)
      }
      return bases
    }

    /**
     * Only the lookup can be interrupted: once a group is planned, later groups may count on it, so
     * it runs to its commit (or failure) and completes `done` in order, whatever happens to the
     * caller. The lookup is registered and its cleanup installed with no interruption point between.
     */
    const append = (
      events: ReadonlyArray<Event.Event>,
      receivedAt: string,
      idempotent?: ReadonlyArray<Idempotency.Pending>
    ): Effect.Effect<EventStore.Appended, E> =>
      Effect.uninterruptibleMask((restore) => {
        const keys = Plan.distinctKeys(events)
        const lookup: Lookup = { seen: commits }
        lookups.add(lookup)
        let group: Group | undefined
        /** The keyed requests' records, written in the commit's transaction once its base is known. */
        const thenRecords = (plan: Plan.Plan, bases: ReadonlyMap<string, number>, found: ReadonlyMap<string, Plan.Existing>) => {
          const records = steps.records
          return idempotent === undefined || idempotent.length === 0 || records === undefined
            ? undefined
            : (base: number) => records(idempotent, rebase(events, plan, found, bases, base, receivedAt).outcomes)
        }
        return Effect.gen(function*() {
          const found = yield* restore(steps.lookup(keys))
          const done = yield* Deferred.make<void>()
          const planning = planGroup(events, keys, found, lookup, done)
          const self = planning.group
          group = self
          yield* Metric.increment(planned)
          if (planning.previous !== undefined) yield* Deferred.await(planning.previous.done)
          const bases = basesOf(planning.origin)
          const base = bases === undefined
            ? undefined // an earlier group we counted on did not commit
            : yield* Effect.catchIf(steps.commit(planning.plan, receivedAt, thenRecords(planning.plan, bases, found)), isStalePlan, () =>
              Effect.as(Metric.increment(replanned), undefined))
          if (bases === undefined || base === undefined) {
            // Decided again under the lock, and so are the groups planned on our rows (after this
            // one: `done` completes on exit, so our groups still commit in order).
            self.state = GroupState.Failed()
            return yield* steps.appendLocked(events, receivedAt, idempotent)
          }
          if (planning.plan.rows.length > 0) commits++
          self.state = GroupState.Committed({ base, commitNumber: commits })
          yield* Deferred.succeed(done, undefined)
          prune()
          return rebase(events, planning.plan, found, bases, base, receivedAt)
        }).pipe(Effect.onExit(() =>
          Effect.suspend(() => {
            lookups.delete(lookup)
            // Interrupted or failed before committing: later groups must not count on our rows.
            if (group?.state._tag === "Planned") group.state = GroupState.Failed()
            prune()
            return group === undefined
              ? Effect.void
              : Effect.zipRight(Deferred.succeed(group.done, undefined), Metric.incrementBy(planned, -1))
          })
        ))
      })

    return { append }
  })
