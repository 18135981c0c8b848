/**
 * The SQLite EventStore (the embedded default): one file, WAL, `synchronous` from the settings,
 * one transaction per commit group, counters updated in the same transaction.
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as NodePath from "node:path"
import * as AggregatorConfig from "./AggregatorConfig.js"
import * as Event from "./Event.js"
import * as EventStore from "./EventStore.js"
import { migrations } from "./internal/migrations/sqlite.js"
import * as Plan from "./CommitPlan.js"
import * as SqlEventStore from "./SqlEventStore.js"

/**
 * @since 0.1.0
 */
export interface Options {
  /** The database file; its directory is created. `:memory:` for a private in-memory database. */
  readonly filename: string
  /** `FULL` (default) survives power loss; `NORMAL` survives process crashes. */
  readonly synchronous?: "FULL" | "NORMAL" | undefined
}

const COLUMNS = "seq, topic, event_id, timestamp, source, payload, received_at"

// Statement texts are fixed, whatever the group size, so each is prepared once and cached.
const LOOKUP = `SELECT e.seq, e.topic, e.event_id, e.timestamp, e.source, e.payload
FROM json_each(?) AS j CROSS JOIN events AS e
WHERE e.topic = j.value ->> 0 AND e.event_id = j.value ->> 1`

const NEXT_SEQ = "SELECT coalesce(max(seq), 0) + 1 AS next FROM events"

const INSERT = `INSERT INTO events (${COLUMNS})
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, ?
FROM json_each(?)`

const UPDATE_COUNTERS = `INSERT INTO topic_counters (topic, unique_processed, duplicate_dropped, conflicts)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?) WHERE true
ON CONFLICT (topic) DO UPDATE SET
  unique_processed = unique_processed + excluded.unique_processed,
  duplicate_dropped = duplicate_dropped + excluded.duplicate_dropped,
  conflicts = conflicts + excluded.conflicts`

const READ_ALL = `SELECT ${COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`
const READ_TOPIC = `SELECT ${COLUMNS} FROM events WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?`
const GET = `SELECT ${COLUMNS} FROM events WHERE topic = ? AND event_id = ?`
const COUNTERS = "SELECT topic, unique_processed, duplicate_dropped, conflicts FROM topic_counters"

const runMigrations = Migrator.make({})

/** How often a follower's process reads the head, to learn of commits another process made. */
const POLL = Duration.millis(250)

/**
 * Opens (creating if needed) the database file, applies migrations, and returns the store. The
 * connection closes with the scope.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options
): Effect.Effect<EventStore.EventStore["Type"], EventStore.StoreError, Scope.Scope> =>
  EventStore.StoreError.refail(
    "open",
    Effect.gen(function*() {
      if (options.filename !== ":memory:" && options.filename !== "") {
        const dir = NodePath.dirname(options.filename)
        yield* Effect.try(() => Fs.mkdirSync(dir, { recursive: true }))
      }
      const sql = yield* SqliteClient.make({ filename: options.filename }).pipe(
        Effect.provide(Reactivity.layer)
      )
      yield* sql.unsafe(`PRAGMA synchronous = ${options.synchronous === "NORMAL" ? "NORMAL" : "FULL"}`)
      yield* sql.unsafe("PRAGMA busy_timeout = 5000")
      yield* runMigrations({ loader: Migrator.fromRecord(migrations), table: "event_aggregator_migrations" }).pipe(
        Effect.provideService(SqlClient.SqlClient, sql)
      )
      return fromClient(sql)
    })
  )

const fromClient = (sql: SqlClient.SqlClient): EventStore.EventStore["Type"] => {
  const append = (events: ReadonlyArray<Event.Event>) =>
    EventStore.StoreError.refail(
      "append",
      sql.withTransaction(Effect.gen(function*() {
        const keys = Plan.distinctKeys(events).map((k) => [k.topic, k.event_id])
        const found = yield* sql.unsafe<Plan.Existing & Event.Key>(LOOKUP, [JSON.stringify(keys)])
        const existing = new Map<string, Plan.Existing>()
        for (const row of found) existing.set(Event.keyString(row), row)
        const [next] = yield* sql.unsafe<{ readonly next: number }>(NEXT_SEQ)
        const plan = Plan.plan(events, (k) => existing.get(k), next?.next ?? 1)
        const receivedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
        if (plan.rows.length > 0) {
          const rows = plan.rows.map((r) => [r.seq, r.topic, r.event_id, r.timestamp, r.source, r.payload])
          yield* sql.unsafe(INSERT, [receivedAt, JSON.stringify(rows)])
        }
        const deltas = Array.from(
          plan.deltas,
          ([topic, d]) => [topic, d.unique_processed, d.duplicate_dropped, d.conflicts]
        )
        yield* sql.unsafe(UPDATE_COUNTERS, [JSON.stringify(deltas)])
        return { outcomes: plan.outcomes, deltas: plan.deltas, receivedAt }
      }))
    )

  const reads = SqlEventStore.reads(sql, { readAll: READ_ALL, readTopic: READ_TOPIC, get: GET, counters: COUNTERS })
  // One writer process per file (see the README), so the counters only move through this one.
  return EventStore.EventStore.of({
    append,
    ...reads,
    shared: false,
    kind: "sqlite",
    // Readers in other processes (a CLI following a server's file) learn of commits by reading the
    // head; read only while someone follows.
    commits: EventStore.polledCommits(reads.head, POLL)
  })
}

/**
 * The store on a given file.
 *
 * @since 0.1.0
 */
export const layerWith = (options: Options): Layer.Layer<EventStore.EventStore, EventStore.StoreError> =>
  Layer.scoped(EventStore.EventStore, make(options))

/**
 * The store on the file and `synchronous` mode of the `AggregatorConfig` settings.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<EventStore.EventStore, EventStore.StoreError, AggregatorConfig.AggregatorConfig> =
  Layer.scoped(
    EventStore.EventStore,
    Effect.flatMap(AggregatorConfig.AggregatorConfig, (settings) =>
      make({ filename: settings.dbPath, synchronous: settings.synchronous }))
  )
