/**
 * The EventStore on PostgreSQL (`@effect/sql-pg`), for several aggregator processes on one
 * database. Dedup comes from the database: a unique key on `(topic, event_id)`, and each commit
 * group runs under a transaction-scoped advisory lock, so `seq` order is commit order across
 * processes (a reader paging with `after` never skips an event committed later with a smaller seq).
 *
 * The locked step is kept short and free of round trips: a group is looked up and planned first,
 * without the lock (stored rows never change, so a stored copy read then is the copy there at
 * commit), and then one statement, `event_aggregator_commit`, takes the lock, numbers the new
 * rows, inserts them with `ON CONFLICT DO NOTHING`, adds the counters and commits. Within a
 * process, a group is planned against the process's earlier groups that are not committed yet,
 * and groups commit in plan order. If another process stored one of a group's "new" keys in
 * between, that statement stores nothing and the group is decided again inside one locked
 * transaction (lock, look up, plan, the same statement).
 *
 * @since 0.1.0
 */
import { CommitPlan as Plan, Event, EventStore, SqlEventStore } from "@event-aggregator/core"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import { COLUMNS, migrations, STALE_PLAN } from "./internal/migrations.js"

/** @since 0.1.0 */
export interface Options {
  /** `postgres://user:password@host:port/database` (add `?options=-c%20search_path%3Dx` for a schema). */
  readonly url: Redacted.Redacted<string>
  /** Pool size (default 4). */
  readonly maxConnections?: number | undefined
}

// The stored copies of a group's keys (before the lock; no transaction).
const FIND = `SELECT e.seq, e.topic, e.event_id, e.timestamp, e.source, e.payload
FROM events e JOIN unnest($1::text[], $2::text[]) AS k(topic, event_id) USING (topic, event_id)`

const COMMIT = "SELECT event_aggregator_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) AS first_seq"

const LOCK = "SELECT pg_advisory_xact_lock(event_aggregator_commit_lock())"

// Whether a group committed; under the lock, so a commit still running on a lost connection ends first.
const COMMITTED = "SELECT first_seq FROM commit_groups WHERE id = $1"

const READ_ALL = `SELECT ${COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`
const READ_TOPIC = `SELECT ${COLUMNS} FROM events WHERE topic = $1 AND seq > $2 ORDER BY seq LIMIT $3`
const GET = `SELECT ${COLUMNS} FROM events WHERE topic = $1 AND event_id = $2`
const COUNTERS = "SELECT topic, unique_processed, duplicate_dropped, conflicts FROM topic_counters"

/** The stored copies among `found`, by key. */
const existingOf = (found: ReadonlyArray<Plan.StoredRow>): Map<string, Plan.Existing> => {
  const existing = new Map<string, Plan.Existing>()
  for (const row of found) existing.set(Event.keyString(row), { ...row, seq: Number(row.seq) })
  return existing
}

/**
 * Outcomes with real `seq` values: the plan counted new rows from 1, the commit put them at
 * `base + 1`; a key stored by an earlier group of ours (`origin`) is at that group's base + its seq.
 */
const rebase = (
  events: ReadonlyArray<Event.Event>,
  plan: Plan.Plan,
  existing: ReadonlyMap<string, Plan.Existing>,
  origin: ReadonlyMap<string, Pending>,
  base: number
): EventStore.Appended => {
  if (base === 0 && origin.size === 0) return { outcomes: plan.outcomes, deltas: plan.deltas }
  const outcomes = plan.outcomes.map((o, i): EventStore.Outcome => {
    const key = Event.keyString(events[i]!)
    const earlier = origin.get(key)
    if (earlier !== undefined) return { status: o.status, seq: o.seq + earlier.base }
    return existing.has(key) ? o : { status: o.status, seq: o.seq + base }
  })
  return { outcomes, deltas: plan.deltas }
}

/** Asking whether a group committed: a few tries over about 1.5 s (the database may be restarting). */
const resolveSchedule = Schedule.exponential(Duration.millis(100)).pipe(Schedule.intersect(Schedule.recurs(4)))

const isStalePlan = (error: SqlError.SqlError): boolean =>
  typeof error.cause === "object" && error.cause !== null && (error.cause as { code?: unknown }).code === STALE_PLAN

/**
 * Commit groups planned again inside the lock because another process stored one of their keys
 * between the lookup and the commit (on /metrics; a high rate means instances often receive the
 * same keys at the same moment).
 *
 * @since 0.1.0
 */
export const replanned = Metric.counter("event_aggregator_pg_commit_replanned_total", {
  description: "PostgreSQL commit groups planned again under the lock (another instance stored one of their keys first)",
  incremental: true
})

/** A group of this process between planning and commit (kept a while after, for later lookups). */
interface Pending {
  /** Its new rows by key, `seq` counted from 1. */
  readonly rows: ReadonlyMap<string, Plan.Existing>
  /** Our commit count once committed; PENDING before, FAILED if its rows were not stored as planned. */
  commit: number
  /** Its first seq - 1, once committed. */
  base: number
  /** Completes when it has committed or failed: the next group commits after it. */
  readonly done: Deferred.Deferred<void>
}
const PENDING = Number.POSITIVE_INFINITY
const FAILED = -1

const fromClient = (sql: SqlClient.SqlClient): EventStore.EventStore["Type"] => {
  /** The stored copies of `keys`, by key. */
  const find = (keys: ReadonlyArray<Event.Key>) =>
    Effect.map(sql.unsafe<Plan.StoredRow>(FIND, [keys.map((k) => k.topic), keys.map((k) => k.event_id)]), existingOf)

  /** The locked step: the plan's rows and counters; the new rows' base (first seq - 1). */
  const commitPlan = (plan: Plan.Plan, group: string) =>
    Effect.gen(function*() {
      const r = plan.rows
      const deltas = Array.from(plan.deltas)
      const [row] = yield* sql.unsafe<{ readonly first_seq: string | number }>(COMMIT, [
        group,
        r.map((x) => x.topic),
        r.map((x) => x.event_id),
        r.map((x) => x.timestamp),
        r.map((x) => x.source),
        r.map((x) => x.payload),
        new Date(yield* Clock.currentTimeMillis).toISOString(),
        deltas.map(([topic]) => topic),
        deltas.map(([, d]) => d.unique_processed),
        deltas.map(([, d]) => d.duplicate_dropped),
        deltas.map(([, d]) => d.conflicts)
      ])
      return Number(row!.first_seq) - 1
    })

  /** The base `group` committed with, or undefined if it did not commit (asked under the lock). */
  const committedBase = (group: string) =>
    sql.withTransaction(Effect.gen(function*() {
      yield* sql.unsafe(LOCK)
      const [row] = yield* sql.unsafe<{ readonly first_seq: string | number }>(COMMITTED, [group])
      return row === undefined ? undefined : Number(row.first_seq) - 1
    })).pipe(Effect.retry(resolveSchedule))

  /**
   * A commit that failed without a verdict (the connection dropped, the reply was lost) may still
   * have committed: ask. Committed: its base, as if the reply had come. Not committed, or the
   * database cannot say: the original error (nothing of the group is stored; a retry is safe).
   * A stale plan (EA409) is a verdict and passes through.
   */
  const settled = (group: string) => <A>(commit: Effect.Effect<A, SqlError.SqlError>, committed: (base: number) => A) =>
    Effect.catchIf(commit, (error) => !isStalePlan(error), (error) =>
      Effect.flatMap(Effect.option(committedBase(group)), (base) =>
        Option.isSome(base) && base.value !== undefined ? Effect.succeed(committed(base.value)) : Effect.fail(error)))

  /**
   * When a plan went stale: lock, look up, plan and commit in one transaction. Under the lock nothing
   * can go stale; if it ever did, the commit statement fails and the transaction rolls back.
   */
  const appendLocked = (events: ReadonlyArray<Event.Event>) =>
    Effect.suspend(() => {
      const group = Crypto.randomUUID()
      let decided: { readonly plan: Plan.Plan; readonly existing: ReadonlyMap<string, Plan.Existing> } | undefined
      const rebased = (base: number) => rebase(events, decided!.plan, decided!.existing, new Map(), base)
      return settled(group)(
        sql.withTransaction(Effect.gen(function*() {
          yield* sql.unsafe(LOCK)
          const existing = yield* find(Plan.distinctKeys(events))
          const plan = Plan.plan(events, (k) => existing.get(k), 1)
          decided = { plan, existing }
          return rebased(yield* commitPlan(plan, group))
        })),
        rebased
      )
    })

  // This process's groups form a pipeline: each is looked up as soon as it arrives, then planned
  // (synchronously, so plans are made one at a time) and committed in plan order. A group is planned
  // against the rows of our groups that its lookup may have missed (planned but not yet committed,
  // or committed after the lookup began): in real traffic a retry of one request often sits in the
  // group behind the original's. So the next commit is ready the moment the previous one ends, and
  // nothing but PostgreSQL's own work happens in the locked step.
  let commits = 0 // our groups committed so far
  let last: Pending | undefined // the group planned last: the next one commits after it
  const recent: Array<Pending> = [] // groups a later lookup may have missed
  const lookingUp = new Map<number, number>() // `commits` when a lookup began -> groups not yet planned

  const prune = () => {
    const oldest = lookingUp.size === 0 ? commits : Math.min(...lookingUp.keys())
    for (let i = recent.length - 1; i >= 0; i--) {
      const c = recent[i]!.commit
      if (c === FAILED || (c !== PENDING && c <= oldest)) recent.splice(i, 1)
    }
  }

  /**
   * Look up without the lock, plan, then commit in one statement. Planned with `seq` from 1; the
   * statement returns where the new rows really start, and outcomes move by that much (or by the
   * start of the earlier group whose row they point at).
   *
   * Only the lookup can be interrupted: once a group is planned, later groups may count on it, so
   * it runs to its commit (or failure) and completes `done` in order, whatever happens to the
   * caller (the Aggregator commits uninterruptibly anyway). The bookkeeping is registered and its
   * cleanup installed with no interruption point in between.
   */
  const append = (events: ReadonlyArray<Event.Event>) =>
    Effect.uninterruptibleMask((restore) => {
      const keys = Plan.distinctKeys(events)
      const seen = commits
      lookingUp.set(seen, (lookingUp.get(seen) ?? 0) + 1)
      let looking = true
      const doneLooking = () => {
        if (looking) {
          looking = false
          const n = lookingUp.get(seen)! - 1
          if (n === 0) lookingUp.delete(seen)
          else lookingUp.set(seen, n)
          prune()
        }
      }
      let self: Pending | undefined
      return Effect.gen(function*() {
        const existing = yield* restore(find(keys))
        // Planning: no yield from here to `last = self`, so groups are planned one at a time.
        const origin = new Map<string, Pending>() // keys whose stored copy is an earlier group's row
        const missed = recent.filter((e) => e.commit === PENDING || e.commit > seen)
        if (missed.length > 0) {
          const keyStrings = keys.map(Event.keyString)
          for (const earlier of missed) {
            for (const key of keyStrings) {
              const row = earlier.rows.get(key)
              if (row !== undefined) {
                existing.set(key, row)
                origin.set(key, earlier)
              }
            }
          }
        }
        doneLooking()
        const plan = Plan.plan(events, (k) => existing.get(k), 1)
        const me: Pending = {
          rows: new Map(plan.rows.map((r) => [Event.keyString(r), r])),
          commit: PENDING,
          base: 0,
          done: Deferred.unsafeMake(FiberId.none)
        }
        self = me
        const previous = last
        last = me
        if (plan.rows.length > 0) recent.push(me)
        if (previous !== undefined) yield* Deferred.await(previous.done)
        const dependsOnFailed = Array.from(new Set(origin.values())).some((e) => e.commit === FAILED)
        const group = Crypto.randomUUID()
        const base = dependsOnFailed
          ? undefined
          : yield* settled(group)(commitPlan(plan, group), (b): number | undefined => b).pipe(
            Effect.catchIf(isStalePlan, () => Effect.succeed(undefined))
          )
        if (base === undefined) {
          // Another process stored one of our "new" keys, or an earlier group we counted on did not
          // commit: this group is decided again under the lock, and groups planned on our rows too
          // (after this one: `done` completes on exit, so our groups still commit in order).
          if (!dependsOnFailed) yield* Metric.increment(replanned)
          me.commit = FAILED
          return yield* appendLocked(events)
        }
        me.base = base
        me.commit = plan.rows.length > 0 ? ++commits : commits
        yield* Deferred.succeed(me.done, undefined)
        prune()
        return rebase(events, plan, existing, origin, base)
      }).pipe(
        Effect.onExit(() =>
          Effect.sync(() => {
            doneLooking()
            if (self !== undefined) {
              // Interrupted or failed before committing: later groups must not count on our rows.
              if (self.commit === PENDING) self.commit = FAILED
              Deferred.unsafeDone(self.done, Exit.void) // no-op when already done
              prune()
            }
          })
        ),
        (effect) => EventStore.StoreError.refail("append", effect)
      )
    })

  return EventStore.EventStore.of({
    append,
    ...SqlEventStore.reads(sql, { readAll: READ_ALL, readTopic: READ_TOPIC, get: GET, counters: COUNTERS }),
    shared: true
  })
}

/**
 * Connects, runs the migrations (under an advisory lock, so instances starting together do not
 * race), and builds the store. An unreachable server or a wrong URL fails with `StoreError("open")`.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<EventStore.EventStore["Type"], EventStore.StoreError, Scope.Scope> =>
  EventStore.StoreError.refail(
    "open",
    Effect.gen(function*() {
      const sql = yield* PgClient.make({
        url: options.url,
        maxConnections: options.maxConnections ?? 4,
        connectTimeout: "5 seconds",
        applicationName: "event-aggregator"
      }).pipe(Effect.provide(Reactivity.layer))
      yield* sql.unsafe("SELECT 1") // an unreachable server or a wrong URL fails here, once
      // The commit statement reads max(seq) after taking the lock, which needs a fresh snapshot per
      // statement: under REPEATABLE READ or SERIALIZABLE it would read before the lock.
      const [isolation] = yield* sql.unsafe<{ readonly default_transaction_isolation: string }>(
        "SHOW default_transaction_isolation"
      )
      if (isolation?.default_transaction_isolation !== "read committed") {
        return yield* Effect.fail(
          new Error(
            `default_transaction_isolation is '${isolation?.default_transaction_isolation}' for this role/database; ` +
              "the store needs 'read committed' (add ?options=-c%20default_transaction_isolation%3Dread%5C%20committed to the URL, " +
              "or ALTER ROLE ... SET default_transaction_isolation = 'read committed')"
          )
        )
      }
      // The Migrator locks its table while it runs; instances starting together can still race to
      // create that table, so a failed attempt is retried (the winner's table is there by then).
      yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: "event_aggregator_migrations" }).pipe(
        Effect.provideService(SqlClient.SqlClient, sql),
        Effect.retry(Schedule.spaced(Duration.millis(200)).pipe(Schedule.intersect(Schedule.recurs(5))))
      )
      yield* Metric.incrementBy(replanned, 0) // on /metrics from the start
      return fromClient(sql)
    })
  )

/** @since 0.1.0 */
export const layerWith = (options: Options): Layer.Layer<EventStore.EventStore, EventStore.StoreError> =>
  Layer.scoped(EventStore.EventStore, make(options))
