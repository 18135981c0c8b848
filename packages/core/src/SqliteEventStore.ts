/**
 * The SQLite EventStore (the embedded default): one file, WAL, `synchronous` from the settings.
 * Commits run on this thread's connection, or (`writer: "thread"`) on a writer thread with its own
 * connection, where groups waiting for it are merged into one transaction; counters are updated in
 * the same transaction; reads use this thread's connection.
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
import type * as Idempotency from "./Idempotency.js"
import { migrations } from "./internal/migrations/sqlite.js"
import * as SqliteIdempotency from "./internal/sqliteIdempotency.js"
import { appendGroups, type GroupResult } from "./internal/sqliteAppend.js"
import * as WriterThread from "./internal/writerThread.js"
import * as SqlEventStore from "./SqlEventStore.js"
import * as SqlRetention from "./SqlRetention.js"

/**
 * @since 0.1.0
 */
export interface Options {
  /** The database file; its directory is created. `:memory:` for a private in-memory database. */
  readonly filename: string
  /** `FULL` (default) survives power loss; `NORMAL` survives process crashes. */
  readonly synchronous?: "FULL" | "NORMAL" | undefined
  /**
   * Where commits run: `"inline"` (default): on the caller's connection; `"thread"`: a writer
   * thread with its own connection, so the event loop keeps parsing while SQLite writes (it pays
   * when a core is free for it: local ingest; see the README's Performance). `:memory:` is always
   * inline (a second connection cannot see it).
   */
  readonly writer?: "thread" | "inline" | undefined
  /** The writer's page cache in bytes (default 64 MiB): random keys dirty a page of the key index each. */
  readonly cacheSize?: number | undefined
}

/** The writer's default page cache: 64 MiB. */
export const DEFAULT_CACHE_SIZE = AggregatorConfig.defaults.sqliteCacheSize

/** Most events in one transaction when the writer merges groups waiting for it. */
const MAX_TRANSACTION_EVENTS = 100_000

const COLUMNS = "seq, topic, event_id, timestamp, source, payload, received_at"

// The empty topic is retention's marker of a pruned head (see SqlRetention), never an event.
const READ_ALL = `SELECT ${COLUMNS} FROM events WHERE seq > ? AND topic <> '' ORDER BY seq LIMIT ?`
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
      const cacheSizeKiB = Math.floor((options.cacheSize ?? DEFAULT_CACHE_SIZE) / 1024)
      const inMemory = options.filename === ":memory:" || options.filename === ""
      if (inMemory || options.writer !== "thread") {
        yield* sql.unsafe(`PRAGMA cache_size = -${cacheSizeKiB}`)
        return fromClient(sql, inline(sql), inlinePrune(sql))
      }
      const thread = yield* WriterThread.make({
        filename: options.filename,
        synchronous: options.synchronous === "NORMAL" ? "NORMAL" : "FULL",
        cacheSizeKiB,
        maxTransactionEvents: MAX_TRANSACTION_EVENTS
      })
      return fromClient(sql, thread.append, thread.prune)
    })
  )

type Write = (
  events: ReadonlyArray<Event.Event>,
  receivedAt: string,
  idempotent?: ReadonlyArray<Idempotency.Pending>
) => Effect.Effect<GroupResult, EventStore.StoreError>

/** Commits on the store's own connection (one transaction per group). */
const inline = (sql: SqlClient.SqlClient): Write => (events, receivedAt, idempotent) =>
  EventStore.StoreError.refail(
    "append",
    Effect.map(sql.withTransaction(appendGroups(sql, [{ events, receivedAt, idempotent }])), (results) => results[0]!)
  )

type Prune = (request: EventStore.PruneRequest) => Effect.Effect<EventStore.Pruned, EventStore.StoreError>

const pruneStatements = SqlRetention.statements("sqlite")

/** Prunes on the store's own connection (one transaction per step). */
const inlinePrune = (sql: SqlClient.SqlClient): Prune => (request) =>
  EventStore.StoreError.refail("prune", sql.withTransaction(SqlRetention.pruneStep(sql, pruneStatements, request)))

const fromClient = (sql: SqlClient.SqlClient, write: Write, prune: Prune): EventStore.EventStore["Type"] => {
  // received_at comes from the caller's Clock (a TestClock in tests), whichever thread commits.
  const append = (events: ReadonlyArray<Event.Event>, idempotent?: ReadonlyArray<Idempotency.Pending>) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const receivedAt = new Date(now).toISOString()
      return Effect.map(write(events, receivedAt, idempotent), (result): EventStore.Appended => ({
        outcomes: result.outcomes,
        deltas: new Map(result.deltas),
        receivedAt
      }))
    })

  const reads = SqlEventStore.reads(sql, { readAll: READ_ALL, readTopic: READ_TOPIC, get: GET, counters: COUNTERS })
  // One writer process per file (see the README), so the counters only move through this one.
  return EventStore.EventStore.of({
    append,
    idempotency: SqliteIdempotency.records(sql),
    ...reads,
    ...SqlRetention.reads(sql, pruneStatements),
    prune,
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
 * The store on the file, `synchronous` mode, writer and page cache of the `AggregatorConfig` settings.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<EventStore.EventStore, EventStore.StoreError, AggregatorConfig.AggregatorConfig> =
  Layer.scoped(
    EventStore.EventStore,
    Effect.flatMap(AggregatorConfig.AggregatorConfig, (settings) =>
      make({
        filename: settings.dbPath,
        synchronous: settings.synchronous,
        writer: settings.sqliteWriter,
        cacheSize: settings.sqliteCacheSize
      }))
  )
