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
 * and groups commit in plan order (`internal/pipeline.ts`). If another process stored one of a
 * group's "new" keys in between, that statement stores nothing and the group is decided again
 * inside one locked transaction (lock, look up, plan, the same statement).
 *
 * @since 0.1.0
 */
import { CommitPlan as Plan, Event, EventStore, type Idempotency, SqlEventStore, SqlRetention } from "@event-aggregator/core"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlError from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import { COLUMNS, migrations, STALE_PLAN } from "./internal/migrations.js"
import * as Keys from "./internal/idempotency.js"
import * as Pipeline from "./internal/pipeline.js"

/** @since 0.1.0 */
export interface Options {
  /** `postgres://user:password@host:port/database` (add `?options=-c%20search_path%3Dx` for a schema). */
  readonly url: Redacted.Redacted<string>
  /** Pool size (default 4). */
  readonly maxConnections?: number | undefined
}

// The stored copies of a group's keys, then key records of pruned ones (before the lock; no transaction).
const FIND = `SELECT e.seq, e.topic, e.event_id, e.timestamp, e.source, e.payload, NULL AS hash
FROM events e JOIN unnest($1::text[], $2::text[]) AS k(topic, event_id) USING (topic, event_id)
UNION ALL
SELECT r.seq, r.topic, r.event_id, NULL, NULL, NULL, r.hash
FROM key_records r JOIN unnest($1::text[], $2::text[]) AS k(topic, event_id) USING (topic, event_id)`

const COMMIT = "SELECT event_aggregator_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) AS first_seq"

const LOCK = "SELECT pg_advisory_xact_lock(event_aggregator_commit_lock())"

// Whether a group committed; under the lock, so a commit still running on a lost connection ends first.
const COMMITTED = "SELECT first_seq FROM commit_groups WHERE id = $1"

// The empty topic is retention's marker of a pruned head (see SqlRetention), never an event.
const READ_ALL = `SELECT ${COLUMNS} FROM events WHERE seq > $1 AND topic <> '' ORDER BY seq LIMIT $2`

// Only one instance prunes at a time: the others skip the step. (Two-key advisory locks never
// meet the single-key commit lock.)
const TRY_PRUNE_LOCK = "SELECT pg_try_advisory_xact_lock(1161905991, ('events'::regclass::oid::bigint % 2147483647)::int) AS locked"

const pruneStatements = SqlRetention.statements("pg")
const READ_TOPIC = `SELECT ${COLUMNS} FROM events WHERE topic = $1 AND seq > $2 ORDER BY seq LIMIT $3`
const GET = `SELECT ${COLUMNS} FROM events WHERE topic = $1 AND event_id = $2`
const COUNTERS = "SELECT topic, unique_processed, duplicate_dropped, conflicts FROM topic_counters"

/** A row of FIND: a stored copy (`hash` null) or a key record (the content columns null). */
type FoundRow = Omit<Plan.StoredRow, "received_at"> & { readonly hash: string | null }

/** The stored copies and key records among `found`, by key. */
const existingOf = (found: ReadonlyArray<FoundRow>): Map<string, Plan.Existing> => {
  const existing = new Map<string, Plan.Existing>()
  for (const row of found) {
    existing.set(
      Event.keyString(row),
      row.hash === null ? { ...row, hash: null, seq: Number(row.seq) } : { seq: Number(row.seq), hash: row.hash }
    )
  }
  return existing
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
export const replanned: Metric.Metric.Counter<number> = Pipeline.replanned

/**
 * Commit groups of this process planned and waiting to commit, behind its earlier groups or the
 * commit lock (on /metrics; one that stays high means commits cannot keep up, or an operator
 * holds the commit lock).
 *
 * @since 0.1.0
 */
export const pipelineGroups: Metric.Metric.Gauge<number> = Pipeline.planned

const fromClient = (sql: PgClient.PgClient): Effect.Effect<EventStore.EventStore["Type"], SqlError.SqlError> => {
  /** The stored copies of `keys`, by key. */
  const find = (keys: ReadonlyArray<Event.Key>) =>
    Effect.map(sql.unsafe<FoundRow>(FIND, [keys.map((k) => k.topic), keys.map((k) => k.event_id)]), existingOf)

  /** The locked step: the plan's rows and counters; the new rows' base (first seq - 1). */
  const commitPlan = (plan: Plan.Plan, group: string, receivedAt: string) =>
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
        receivedAt,
        deltas.map(([topic]) => topic),
        deltas.map(([, d]) => d.unique_processed),
        deltas.map(([, d]) => d.duplicate_dropped),
        deltas.map(([, d]) => d.conflicts)
      ])
      if (row === undefined) return yield* Effect.dieMessage("event_aggregator_commit returned no row")
      return Number(row.first_seq) - 1
    })

  /** The base `group` committed with, or undefined if it did not commit (asked under the lock). */
  const committedBase = (group: string) =>
    sql.withTransaction(Effect.gen(function*() {
      yield* sql.unsafe(LOCK)
      const [row] = yield* sql.unsafe<{ readonly first_seq: string | number }>(COMMITTED, [group])
      return row === undefined ? undefined : Number(row.first_seq) - 1
    })).pipe(
      // The pool may hand out the connection that just died (it learns only when it is released):
      // BEGIN fails, and withTransaction's ROLLBACK on it dies. The next try gets a live one.
      Effect.catchSomeDefect((defect) => defect instanceof SqlError.SqlError ? Option.some(Effect.fail(defect)) : Option.none()),
      Effect.retry(resolveSchedule)
    )

  /**
   * A commit that failed without a verdict (the connection dropped, the reply was lost) may still
   * have committed: ask. Committed: its base, as if the reply had come. Not committed, or the
   * database cannot say: the original error (nothing of the group is stored; a retry is safe).
   * A stale plan (EA409) is a verdict and passes through.
   */
  const settled = (group: string, commit: Effect.Effect<number, SqlError.SqlError>) =>
    Effect.catchIf(commit, (error) => !isStalePlan(error), (error) =>
      Effect.flatMap(Effect.option(committedBase(group)), (base) =>
        Option.isSome(base) && base.value !== undefined ? Effect.succeed(base.value) : Effect.fail(error)))

  /**
   * One commit attempt of a planned group, under a fresh group id. `then` (the keyed requests'
   * records) runs in the same transaction, after the commit statement.
   */
  const commit = (plan: Plan.Plan, receivedAt: string, then?: (base: number) => Effect.Effect<void, SqlError.SqlError>) =>
    Effect.suspend(() => {
      const group = Crypto.randomUUID()
      const step = then === undefined
        ? commitPlan(plan, group, receivedAt)
        : sql.withTransaction(Effect.tap(commitPlan(plan, group, receivedAt), then))
      return Effect.catchIf(settled(group, step), isStalePlan, () => Effect.fail(new Pipeline.StalePlan()))
    })

  /**
   * When a plan went stale: lock, look up, plan and commit in one transaction. Under the lock nothing
   * can go stale; if it ever did, the commit statement fails and the transaction rolls back.
   */
  const appendLocked = (events: ReadonlyArray<Event.Event>, receivedAt: string, idempotent?: ReadonlyArray<Idempotency.Pending>) =>
    Effect.suspend(() => {
      const group = Crypto.randomUUID()
      let decided: { readonly plan: Plan.Plan; readonly found: ReadonlyMap<string, Plan.Existing> } | undefined
      const locked = sql.withTransaction(Effect.gen(function*() {
        yield* sql.unsafe(LOCK)
        const found = yield* find(Plan.distinctKeys(events))
        const plan = Plan.plan(events, (k) => found.get(k), 1)
        decided = { plan, found }
        const base = yield* commitPlan(plan, group, receivedAt)
        if (idempotent !== undefined && idempotent.length > 0) {
          yield* Keys.write(sql, idempotent, Pipeline.rebase(events, plan, found, new Map(), base, receivedAt).outcomes)
        }
        return base
      }))
      // The plan is known once the commit ran, so also when only its reply was lost.
      return Effect.flatMap(settled(group, locked), (base) =>
        decided === undefined
          ? Effect.dieMessage("a group committed before it was planned")
          : Effect.succeed(Pipeline.rebase(events, decided.plan, decided.found, new Map(), base, receivedAt)))
    })

  return Effect.gen(function*() {
    const keys = Keys.make(sql)
    const pipeline = yield* Pipeline.make({
      lookup: find,
      commit,
      appendLocked,
      records: (pending, outcomes) => Keys.write(sql, pending, outcomes)
    })
    const [row] = yield* sql.unsafe<{ readonly channel: string }>("SELECT event_aggregator_commit_channel() AS channel")
    const channel = row?.channel ?? "event_aggregator"
    return EventStore.EventStore.of({
      append: (events, idempotent) =>
        EventStore.StoreError.refail(
          "append",
          Effect.flatMap(Clock.currentTimeMillis, (now) => pipeline.append(events, new Date(now).toISOString(), idempotent))
        ).pipe(Effect.tap(() => idempotent === undefined ? Effect.void : keys.committed(idempotent))),
      idempotency: keys.records,
      ...SqlEventStore.reads(sql, { readAll: READ_ALL, readTopic: READ_TOPIC, get: GET, counters: COUNTERS }),
      ...SqlRetention.reads(sql, pruneStatements),
      prune: (request) =>
        EventStore.StoreError.refail(
          "prune",
          sql.withTransaction(Effect.gen(function*() {
            const [lock] = yield* sql.unsafe<{ readonly locked: boolean }>(TRY_PRUNE_LOCK)
            if (lock?.locked !== true) return EventStore.nothingPruned
            return yield* SqlRetention.pruneStep(sql, pruneStatements, request)
          }))
        ),
      shared: true,
      kind: "postgres",
      // Every instance's commits, announced by the commit statement (NOTIFY, delivered on commit).
      commits: sql.listen(channel).pipe(
        Stream.filterMap((payload) => {
          const [from, to] = payload.split(",").map(Number)
          return from !== undefined && to !== undefined && Number.isSafeInteger(from) && Number.isSafeInteger(to)
            ? Option.some({ from, to })
            : Option.none()
        }),
        Stream.mapError((cause) => new EventStore.StoreError({ operation: "read", cause }))
      )
    })
  })
}

/**
 * The commit statement reads max(seq) after taking the lock, which needs a fresh snapshot per
 * statement: under REPEATABLE READ or SERIALIZABLE it would read before the lock.
 */
const requireReadCommitted = (sql: SqlClient.SqlClient) =>
  Effect.flatMap(
    sql.unsafe<{ readonly default_transaction_isolation: string }>("SHOW default_transaction_isolation"),
    ([row]) =>
      row?.default_transaction_isolation === "read committed" ? Effect.void : Effect.fail(
        new Error(
          `default_transaction_isolation is '${row?.default_transaction_isolation}' for this role/database; ` +
            "the store needs 'read committed' (add ?options=-c%20default_transaction_isolation%3Dread%5C%20committed to the URL, " +
            "or ALTER ROLE ... SET default_transaction_isolation = 'read committed')"
        )
      )
  )

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
      yield* requireReadCommitted(sql)
      // The Migrator locks its table while it runs; instances starting together can still race to
      // create that table, so a failed attempt is retried (the winner's table is there by then).
      yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: "event_aggregator_migrations" }).pipe(
        Effect.provideService(SqlClient.SqlClient, sql),
        Effect.retry(Schedule.spaced(Duration.millis(200)).pipe(Schedule.intersect(Schedule.recurs(5))))
      )
      // on /metrics from the start
      yield* Metric.incrementBy(replanned, 0)
      yield* Metric.incrementBy(pipelineGroups, 0)
      return yield* fromClient(sql)
    })
  )

/** @since 0.1.0 */
export const layerWith = (options: Options): Layer.Layer<EventStore.EventStore, EventStore.StoreError> =>
  Layer.scoped(EventStore.EventStore, make(options))
