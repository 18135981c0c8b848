/** `serve`: the HTTP server, with flags over SPEC.md's environment variables. */
import { AggregatorConfig, Idempotency, Retention } from "@event-aggregator/core"
import { Server } from "@event-aggregator/server"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Shared from "../internal/options.js"

/** A duration: 90s, 15m, 24h, 30d ... (milliseconds). */
const duration = (name: string) =>
  Options.text(name).pipe(Options.mapEffect((text) => {
    const millis = Idempotency.parseDuration(text)
    return millis === undefined
      ? Effect.fail(ValidationError.invalidValue(
        HelpDoc.p(`--${name} must be a duration such as 90s, 15m, 24h or 30d, got ${JSON.stringify(text)}`)
      ))
      : Effect.succeed(millis)
  }))

/** A size in bytes: 262144, 256KiB, 16MiB, 1GB ... */
const size = (name: string) =>
  Options.text(name).pipe(Options.mapEffect((text) => {
    const bytes = AggregatorConfig.parseBytes(text)
    return bytes === undefined
      ? Effect.fail(ValidationError.invalidValue(
        HelpDoc.p(`--${name} must be a size in bytes such as 262144 or 256KiB, got ${JSON.stringify(text)}`)
      ))
      : Effect.succeed(bytes)
  }))

/** Per-topic durations: logs=1d,orders=30d (checked with the other retention settings at start). */
const topicMap = (name: string) =>
  Options.text(name).pipe(Options.mapEffect((text) => {
    const map = Retention.parseTopicMap(text)
    return map === undefined
      ? Effect.fail(ValidationError.invalidValue(
        HelpDoc.p(`--${name} must be topic=duration items separated by commas such as logs=1d,orders=30d, got ${JSON.stringify(text)}`)
      ))
      : Effect.succeed(map)
  }))

const flag = <A>(options: Options.Options<A>, description: string) =>
  options.pipe(Options.withDescription(description), Options.optional)

const flags = {
  port: flag(Options.integer("port"), "listen port (default: $PORT or 8080; 0 picks a free one)"),
  host: flag(Options.text("host"), "listen address (default: $HOST or 0.0.0.0)"),
  db: flag(Options.text("db"), "SQLite file (default: $DEDUP_DB_PATH or data/dedup.sqlite)"),
  workers: flag(Options.integer("workers"), "worker fibers (default: $WORKER_COUNT or 2)"),
  queueMaxSize: flag(Options.integer("queue-max-size"), "queue capacity in events, 0 = unbounded (default: $QUEUE_MAXSIZE or 0)"),
  ackMode: flag(Options.choice("ack-mode", ["durable", "queued"]), "default ack (default: $ACK_MODE or durable)"),
  synchronous: flag(Options.choice("synchronous", ["FULL", "NORMAL"]), "SQLite synchronous (default: $SQLITE_SYNCHRONOUS or FULL)"),
  sqliteCacheSize: flag(size("sqlite-cache-size"), "SQLite writer's page cache, e.g. 64MiB; at least 256KiB (default: $SQLITE_CACHE_SIZE or 64MiB)"),
  sqliteWriter: flag(
    Options.choice("sqlite-writer", ["thread", "inline"]),
    "where SQLite commits run: inline on the event loop, or on a writer thread (default: $SQLITE_WRITER or inline; see the README's Performance)"
  ),
  maxBatch: flag(Options.integer("max-batch"), "most events per request (default: $MAX_BATCH or 10000)"),
  maxBodyBytes: flag(size("max-body-bytes"), "largest request body, e.g. 16MiB (default: $MAX_BODY_BYTES or 16MiB)"),
  maxEventBytes: flag(size("max-event-bytes"), "largest payload as sent, e.g. 256KiB (default: $MAX_EVENT_BYTES or 256KiB)"),
  maxPayloadDepth: flag(Options.integer("max-payload-depth"), "deepest nesting in a payload, 1-1000 (default: $MAX_PAYLOAD_DEPTH or 64)"),
  maxFollowers: flag(
    Options.integer("max-followers"),
    "live followers of the log (GET /events/stream, waiting long polls); beyond it 503 (default: $MAX_FOLLOWERS or 1000)"
  ),
  retention: flag(
    Options.text("retention"),
    "how long events are stored, from their received_at: forever, or 90s, 12h, 30d, 2w (default: $RETENTION or forever)"
  ),
  dedupWindow: flag(
    Options.text("dedup-window"),
    "how long keys are remembered, at least the retention; past it a key is accepted anew (default: $DEDUP_WINDOW or forever)"
  ),
  topicRetention: flag(topicMap("topic-retention"), "per-topic retention, e.g. logs=1d,orders=30d (default: $TOPIC_RETENTION)"),
  topicDedupWindow: flag(topicMap("topic-dedup-window"), "per-topic dedup window, e.g. logs=2d (default: $TOPIC_DEDUP_WINDOW)"),
  idempotencyTtl: flag(
    duration("idempotency-ttl"),
    "how long the answer of a POST /publish with an Idempotency-Key is kept for its retries, e.g. 24h; at least 1s (default: $IDEMPOTENCY_TTL or 24h)"
  ),
  store: Shared.store,
  databaseUrl: Shared.databaseUrl,
  apiKey: flag(Options.redacted("api-key"), "require Authorization: Bearer <key> on every route but /health and /ready (default: $API_KEY)")
}

const some = <K extends string, A>(key: K, value: Option.Option<A>): Partial<Record<K, A>> =>
  Option.isSome(value) ? ({ [key]: value.value } as Record<K, A>) : {}

export const serve = Command.make("serve", flags, (f) =>
  Server.launch({
    aggregator: {
      ...some("dbPath", f.db),
      ...some("workerCount", f.workers),
      ...some("queueMaxSize", f.queueMaxSize),
      ...some("synchronous", f.synchronous),
      ...some("sqliteCacheSize", f.sqliteCacheSize),
      ...some("sqliteWriter", f.sqliteWriter),
      ...some("maxEventBytes", f.maxEventBytes),
      ...some("maxPayloadDepth", f.maxPayloadDepth),
      ...some("maxFollowers", f.maxFollowers),
      ...some("retention", f.retention),
      ...some("dedupWindow", f.dedupWindow),
      ...some("topicRetention", f.topicRetention),
      ...some("topicDedupWindow", f.topicDedupWindow),
      ...some("idempotencyTtl", f.idempotencyTtl)
    },
    server: {
      ...some("port", f.port),
      ...some("host", f.host),
      ...some("ackMode", f.ackMode),
      ...some("maxBatch", f.maxBatch),
      ...some("maxBodyBytes", f.maxBodyBytes),
      ...(Option.isSome(f.apiKey) ? { apiKey: f.apiKey } : {})
    },
    store: Shared.storeOverrides(f)
  })).pipe(Command.withDescription(HelpDoc.blocks([
  HelpDoc.p("Serve the HTTP API (POST /publish, GET /events, GET /events/stream, /stats, /docs ...) until SIGTERM/SIGINT, which drains the queue and exits 0. LOG_LEVEL comes from the environment."),
  HelpDoc.p("Example: event-aggregator serve --port 8080 --db data/dedup.sqlite --workers 2\n         event-aggregator serve --store postgres --database-url postgres://user@db:5432/events")
])))
