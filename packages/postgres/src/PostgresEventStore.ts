/**
 * The EventStore on PostgreSQL (`@effect/sql-pg`), for several aggregator processes on one
 * database. Dedup comes from the database: a unique key on `(topic, event_id)`, and each commit
 * group runs under a transaction-scoped advisory lock, so `seq` order is commit order across
 * processes (a reader paging with `after` never skips an event committed later with a smaller seq).
 *
 * @since 0.1.0
 */
import { CommitPlan as Plan, Event, EventStore, SqlEventStore } from "@event-aggregator/core"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"

/** @since 0.1.0 */
export interface Options {
  /** `postgres://user:password@host:port/database` (add `?options=-c%20search_path%3Dx` for a schema). */
  readonly url: Redacted.Redacted<string>
  /** Pool size (default 4). */
  readonly maxConnections?: number | undefined
}

// Advisory lock key of the commit step ("EAgg" 1).
const COMMIT_LOCK = 0x45_41_67_67_01

const migrations = {
  "0001_create_events": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE events (
      seq BIGINT PRIMARY KEY,
      topic TEXT NOT NULL,
      event_id TEXT NOT NULL,
      timestamp TEXT NOT NULL,
      source TEXT NOT NULL,
      payload TEXT NOT NULL,
      received_at TEXT NOT NULL,
      CONSTRAINT events_key UNIQUE (topic, event_id)
    )`
    yield* sql`CREATE INDEX events_topic_seq ON events (topic, seq)`
    yield* sql`CREATE TABLE topic_counters (
      topic TEXT PRIMARY KEY,
      unique_processed BIGINT NOT NULL,
      duplicate_dropped BIGINT NOT NULL,
      conflicts BIGINT NOT NULL
    )`
  })
}

const COLUMNS = "seq, topic, event_id, timestamp, source, payload, received_at"

// Round trips per commit group: BEGIN, lock, LOOKUP, WRITE, COMMIT. LOOKUP runs after the lock
// (its own snapshot), so it sees every group committed before; its last row carries the next seq.
const LOOKUP = `SELECT e.seq, e.topic, e.event_id, e.timestamp, e.source, e.payload
FROM events e JOIN unnest($1::text[], $2::text[]) AS k(topic, event_id) USING (topic, event_id)
UNION ALL
SELECT coalesce(max(seq), 0) + 1, NULL, NULL, NULL, NULL, NULL FROM events`

// The new rows and the counters in one statement; `inserted` lets the caller check every row landed.
const WRITE = `WITH inserted AS (
  INSERT INTO events (${COLUMNS})
  SELECT s, t, i, ts, src, p, $7 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
    AS r(s, t, i, ts, src, p)
  ON CONFLICT DO NOTHING
  RETURNING 1
), counted AS (
  INSERT INTO topic_counters (topic, unique_processed, duplicate_dropped, conflicts)
  SELECT * FROM unnest($8::text[], $9::bigint[], $10::bigint[], $11::bigint[])
  ON CONFLICT (topic) DO UPDATE SET
    unique_processed = topic_counters.unique_processed + excluded.unique_processed,
    duplicate_dropped = topic_counters.duplicate_dropped + excluded.duplicate_dropped,
    conflicts = topic_counters.conflicts + excluded.conflicts
  RETURNING 1
)
SELECT (SELECT count(*) FROM inserted) AS inserted`

const READ_ALL = `SELECT ${COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`
const READ_TOPIC = `SELECT ${COLUMNS} FROM events WHERE topic = $1 AND seq > $2 ORDER BY seq LIMIT $3`
const GET = `SELECT ${COLUMNS} FROM events WHERE topic = $1 AND event_id = $2`
const COUNTERS = "SELECT topic, unique_processed, duplicate_dropped, conflicts FROM topic_counters"


const fromClient = (sql: SqlClient.SqlClient): EventStore.EventStore["Type"] => {
  const append = (events: ReadonlyArray<Event.Event>) =>
    EventStore.StoreError.refail(
      "append",
      sql.withTransaction(Effect.gen(function*() {
        // Serialises the short commit step across processes: seq order = commit order, no deadlocks.
        yield* sql.unsafe("SELECT pg_advisory_xact_lock($1)", [COMMIT_LOCK])
        const keys = Plan.distinctKeys(events)
        const found = yield* sql.unsafe<Plan.StoredRow>(LOOKUP, [keys.map((k) => k.topic), keys.map((k) => k.event_id)])
        const existing = new Map<string, Plan.Existing>()
        let next = 1
        for (const row of found) {
          if (row.topic === null) next = Number(row.seq)
          else existing.set(Event.keyString(row), { ...row, seq: Number(row.seq) })
        }
        const plan = Plan.plan(events, (k) => existing.get(k), next)
        const now = new Date(yield* Clock.currentTimeMillis).toISOString()
        const r = plan.rows
        const deltas = Array.from(plan.deltas)
        const [written] = yield* sql.unsafe<{ readonly inserted: string | number }>(WRITE, [
          r.map((x) => x.seq),
          r.map((x) => x.topic),
          r.map((x) => x.event_id),
          r.map((x) => x.timestamp),
          r.map((x) => x.source),
          r.map((x) => x.payload),
          now,
          deltas.map(([topic]) => topic),
          deltas.map(([, d]) => d.unique_processed),
          deltas.map(([, d]) => d.duplicate_dropped),
          deltas.map(([, d]) => d.conflicts)
        ])
        // Under the lock nothing can conflict; if something ever did, report nothing rather than
        // "accepted" for a row that was not stored: the transaction rolls back.
        if (Number(written?.inserted) !== r.length) {
          return yield* Effect.die(new Error(`inserted ${written?.inserted} of ${r.length} new events; rolled back`))
        }
        return plan.outcomes
      }))
    )

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
      // The Migrator locks its table while it runs; instances starting together can still race to
      // create that table, so a failed attempt is retried (the winner's table is there by then).
      yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: "event_aggregator_migrations" }).pipe(
        Effect.provideService(SqlClient.SqlClient, sql),
        Effect.retry(Schedule.spaced(Duration.millis(200)).pipe(Schedule.intersect(Schedule.recurs(5))))
      )
      return fromClient(sql)
    })
  )

/** @since 0.1.0 */
export const layerWith = (options: Options): Layer.Layer<EventStore.EventStore, EventStore.StoreError> =>
  Layer.scoped(EventStore.EventStore, make(options))

/** `DATABASE_URL`, required when `EVENT_STORE=postgres`. */
export const databaseUrl: Config.Config<Redacted.Redacted<string>> = Config.redacted("DATABASE_URL")

/**
 * The store at `DATABASE_URL`.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<EventStore.EventStore, EventStore.StoreError | ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.map(databaseUrl, (url) => layerWith({ url }))
)
