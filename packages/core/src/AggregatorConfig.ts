/**
 * The core's settings: their names, defaults, and where they come from (the environment for
 * runtimes, plain values for library callers and tests).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Event from "./Event.js"
import * as Retention from "./Retention.js"
import * as Idempotency from "./Idempotency.js"

/**
 * @since 0.1.0
 */
export interface Settings {
  /** SQLite file (`DEDUP_DB_PATH`); its directories are created. */
  readonly dbPath: string
  /** Worker fibers draining the queue (`WORKER_COUNT`). */
  readonly workerCount: number
  /** Queue capacity in events (`QUEUE_MAXSIZE`); 0 = unbounded. */
  readonly queueMaxSize: number
  /** SQLite `synchronous` (`SQLITE_SYNCHRONOUS`). */
  readonly synchronous: "FULL" | "NORMAL"
  /** The SQLite writer's page cache in bytes (`SQLITE_CACHE_SIZE`, at least 256 KiB). */
  readonly sqliteCacheSize: number
  /** Where SQLite commits run (`SQLITE_WRITER`): a writer thread (default) or inline on the event loop. */
  readonly sqliteWriter: "thread" | "inline"
  /** Largest serialized payload in bytes (`MAX_EVENT_BYTES`). */
  readonly maxEventBytes: number
  /** Deepest nesting of containers in a payload (`MAX_PAYLOAD_DEPTH`, 1–1000). */
  readonly maxPayloadDepth: number
  /** Most events one commit group (one transaction) takes from the queue. */
  readonly maxGroupEvents: number
  /** Live followers of the log per process (`MAX_FOLLOWERS`). */
  readonly maxFollowers: number
  /** How long events are stored (`RETENTION`): `forever` or a duration such as `30d`. */
  readonly retention: string
  /** How long keys are remembered (`DEDUP_WINDOW`), at least `retention`. */
  readonly dedupWindow: string
  /** Per-topic retention (`TOPIC_RETENTION=logs=1d,orders=30d`). */
  readonly topicRetention: Readonly<Record<string, string>>
  /** Per-topic dedup window (`TOPIC_DEDUP_WINDOW`). */
  readonly topicDedupWindow: Readonly<Record<string, string>>
  /** How often the pruner runs, in milliseconds (library setting; default one minute). */
  readonly pruneIntervalMs: number
  /** Most rows one pruning transaction removes (library setting; default 1000). */
  readonly pruneBatch: number
  /** How long an `Idempotency-Key`'s response is kept, in milliseconds (`IDEMPOTENCY_TTL`, e.g. `24h`). */
  readonly idempotencyTtl: number
}

/**
 * @since 0.1.0
 */
export class AggregatorConfig extends Context.Tag("@event-aggregator/core/AggregatorConfig")<
  AggregatorConfig,
  Settings
>() {}

/** The defaults of SPEC.md. */
export const defaults: Settings = {
  dbPath: "data/dedup.sqlite",
  workerCount: 2,
  queueMaxSize: 0,
  synchronous: "FULL",
  sqliteCacheSize: 64 * 1024 * 1024,
  sqliteWriter: "inline",
  maxEventBytes: Event.DEFAULT_MAX_EVENT_BYTES,
  maxPayloadDepth: Event.DEFAULT_MAX_PAYLOAD_DEPTH,
  maxGroupEvents: 10_000,
  maxFollowers: 1_000,
  retention: "forever",
  dedupWindow: "forever",
  topicRetention: {},
  topicDedupWindow: {},
  pruneIntervalMs: 60_000,
  pruneBatch: 1_000,
  idempotencyTtl: Idempotency.DEFAULT_TTL_MILLIS
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1000,
  kib: 1024,
  k: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  m: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  g: 1024 ** 3
}

/**
 * Parses a size: a number of bytes, optionally with a unit (`262144`, `256KiB`, `16 MiB`, `1MB`).
 * Returns `undefined` when the text is not one.
 */
export const parseBytes = (text: string): number | undefined => {
  const m = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(text)
  if (m === null) return undefined
  const unit = UNITS[(m[2] ?? "").toLowerCase()]
  return unit === undefined ? undefined : Number(m[1]) * unit
}

/** A size setting read from `name`: bytes, with an optional unit (bounds are `check`'s). */
export const bytes = (name: string): Config.Config<number> =>
  Config.string(name).pipe(
    Config.mapOrFail((text) => {
      const n = parseBytes(text)
      return n === undefined
        ? Either.left(ConfigError.InvalidData(
          [],
          `must be a size in bytes such as 262144 or 256KiB, got ${JSON.stringify(text)}`
        ))
        : Either.right(n)
    })
  )

/** `DEDUP_DB_PATH` */
export const dbPath: Config.Config<string> = Config.string("DEDUP_DB_PATH").pipe(Config.withDefault(defaults.dbPath))

/** `WORKER_COUNT` */
export const workerCount: Config.Config<number> = Config.integer("WORKER_COUNT").pipe(
  Config.withDefault(defaults.workerCount)
)

/** `QUEUE_MAXSIZE` */
export const queueMaxSize: Config.Config<number> = Config.integer("QUEUE_MAXSIZE").pipe(
  Config.withDefault(defaults.queueMaxSize)
)

/** `SQLITE_SYNCHRONOUS` */
export const synchronous: Config.Config<"FULL" | "NORMAL"> = Config.literal("FULL", "NORMAL")(
  "SQLITE_SYNCHRONOUS"
).pipe(Config.withDefault(defaults.synchronous))

/** `SQLITE_CACHE_SIZE` */
export const sqliteCacheSize: Config.Config<number> = bytes("SQLITE_CACHE_SIZE").pipe(
  Config.withDefault(defaults.sqliteCacheSize)
)

/** `SQLITE_WRITER` */
export const sqliteWriter: Config.Config<"thread" | "inline"> = Config.literal("thread", "inline")(
  "SQLITE_WRITER"
).pipe(Config.withDefault(defaults.sqliteWriter))

/** `MAX_EVENT_BYTES` */
export const maxEventBytes: Config.Config<number> = bytes("MAX_EVENT_BYTES").pipe(
  Config.withDefault(defaults.maxEventBytes)
)

/** `MAX_PAYLOAD_DEPTH` */
export const maxPayloadDepth: Config.Config<number> = Config.integer("MAX_PAYLOAD_DEPTH").pipe(
  Config.withDefault(defaults.maxPayloadDepth)
)

/** `MAX_FOLLOWERS` */
export const maxFollowers: Config.Config<number> = Config.integer("MAX_FOLLOWERS").pipe(
  Config.withDefault(defaults.maxFollowers)
)

/** A duration setting read from `name` (`forever`, `90s`, `12h`, `30d`); checked by `check`. */
const durationText = (name: string, fallback: string): Config.Config<string> =>
  Config.string(name).pipe(Config.withDefault(fallback))

/** A per-topic setting read from `name`: `logs=1d,orders=30d`. */
export const topicMap = (name: string): Config.Config<Readonly<Record<string, string>>> =>
  Config.string(name).pipe(
    Config.mapOrFail((text) => {
      const map = Retention.parseTopicMap(text)
      return map === undefined
        ? Either.left(ConfigError.InvalidData([], `must be topic=duration items separated by commas such as logs=1d,orders=30d, got ${JSON.stringify(text)}`))
        : Either.right(map)
    }),
    Config.withDefault({})
  )

/** `RETENTION` */
export const retention: Config.Config<string> = durationText("RETENTION", defaults.retention)

/** `DEDUP_WINDOW` */
export const dedupWindow: Config.Config<string> = durationText("DEDUP_WINDOW", defaults.dedupWindow)
/** A duration setting read from `name`: `90s`, `15m`, `24h`, `30d` (bounds are `check`'s), in milliseconds. */
export const duration = (name: string): Config.Config<number> =>
  Config.string(name).pipe(
    Config.mapOrFail((text) => {
      const n = Idempotency.parseDuration(text)
      return n === undefined
        ? Either.left(ConfigError.InvalidData([], `must be a duration such as 90s, 15m, 24h or 30d, got ${JSON.stringify(text)}`))
        : Either.right(n)
    })
  )

/** `IDEMPOTENCY_TTL` */
export const idempotencyTtl: Config.Config<number> = duration("IDEMPOTENCY_TTL").pipe(
  Config.withDefault(defaults.idempotencyTtl)
)

/** All the core's settings from the environment (types only; `check` applies the bounds). */
export const config: Config.Config<Settings> = Config.all({
  dbPath,
  workerCount,
  queueMaxSize,
  synchronous,
  sqliteCacheSize,
  sqliteWriter,
  maxEventBytes,
  maxPayloadDepth,
  maxGroupEvents: Config.succeed(defaults.maxGroupEvents),
  maxFollowers,
  retention,
  dedupWindow,
  topicRetention: topicMap("TOPIC_RETENTION"),
  topicDedupWindow: topicMap("TOPIC_DEDUP_WINDOW"),
  pruneIntervalMs: Config.succeed(defaults.pruneIntervalMs),
  pruneBatch: Config.succeed(defaults.pruneBatch),
  idempotencyTtl
})

/** A rule a setting must follow: `undefined` when `value` follows it, else what it must be. */
export type Rule = (value: unknown) => string | undefined

/** An integer from `min` to `max`. */
export const integer = (min: number, max = Number.MAX_SAFE_INTEGER): Rule => (value) =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= min && value <= max
    ? undefined
    : max === Number.MAX_SAFE_INTEGER
    ? `must be an integer of ${min} or more, got ${show(value)}`
    : `must be an integer from ${min} to ${max}, got ${show(value)}`

/** One of `choices`. */
export const oneOf = (choices: ReadonlyArray<string>): Rule => (value) =>
  typeof value === "string" && choices.includes(value)
    ? undefined
    : `must be one of ${choices.join(", ")}, got ${show(value)}`

/** A non-empty string. */
export const nonEmpty: Rule = (value) =>
  typeof value === "string" && value.length > 0 ? undefined : `must be a non-empty string, got ${show(value)}`

const show = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "bigint") return `${value}n`
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) return String(value)
  return typeof value
}

/**
 * Applies `rules` (setting -> [variable name, rule]) to `settings`: the settings, or a
 * `ConfigError` naming the variable of the first one that breaks its rule. Every entry point
 * (environment, flags, `layer(...)`, the Promise facade) goes through it, so a bad value gets the
 * same message wherever it came from.
 */
export const checkWith = <S extends object>(
  rules: { readonly [K in keyof S]: readonly [string, Rule] }
) =>
(settings: S): Effect.Effect<S, ConfigError.ConfigError> => {
  for (const key of Object.keys(rules) as Array<keyof S>) {
    const [name, rule] = rules[key]
    const problem = rule(settings[key])
    if (problem !== undefined) return Effect.fail(ConfigError.InvalidData([name], problem))
  }
  return Effect.succeed(settings)
}

/** A string, or a record of strings (the per-topic settings). */
const text: Rule = (value) => typeof value === "string" ? undefined : `must be a string, got ${show(value)}`
const texts: Rule = (value) =>
  typeof value === "object" && value !== null && Object.values(value).every((v) => typeof v === "string")
    ? undefined
    : `must be a record of topic to duration, got ${show(value)}`

/** The bounds of every core setting, then the retention rules (durations readable, window ≥ retention). */
export const check = (settings: Settings): Effect.Effect<Settings, ConfigError.ConfigError> =>
  Effect.flatMap(checkBounds(settings), (s) => {
    const result = Retention.policyOf(s)
    if ("policy" in result) return Effect.succeed(s)
    const [name, problem] = result.problem
    return Effect.fail(ConfigError.InvalidData([name], problem))
  })

const checkBounds: (settings: Settings) => Effect.Effect<Settings, ConfigError.ConfigError> = checkWith<Settings>({
  dbPath: ["DEDUP_DB_PATH", nonEmpty],
  workerCount: ["WORKER_COUNT", integer(1, 1024)],
  queueMaxSize: ["QUEUE_MAXSIZE", integer(0)],
  synchronous: ["SQLITE_SYNCHRONOUS", oneOf(["FULL", "NORMAL"])],
  sqliteCacheSize: ["SQLITE_CACHE_SIZE", integer(256 * 1024)],
  sqliteWriter: ["SQLITE_WRITER", oneOf(["thread", "inline"])],
  maxEventBytes: ["MAX_EVENT_BYTES", integer(1)],
  maxPayloadDepth: ["MAX_PAYLOAD_DEPTH", integer(1, Event.MAX_PAYLOAD_DEPTH_LIMIT)],
  maxGroupEvents: ["maxGroupEvents", integer(1)],
  maxFollowers: ["MAX_FOLLOWERS", integer(0)],
  retention: ["RETENTION", text],
  dedupWindow: ["DEDUP_WINDOW", text],
  topicRetention: ["TOPIC_RETENTION", texts],
  topicDedupWindow: ["TOPIC_DEDUP_WINDOW", texts],
  pruneIntervalMs: ["pruneIntervalMs", integer(1)],
  pruneBatch: ["pruneBatch", integer(1)],
  idempotencyTtl: ["IDEMPOTENCY_TTL", (value) =>
    typeof value === "number" && Number.isSafeInteger(value) && value >= 1000
      ? undefined
      : `must be a duration of at least 1s (in milliseconds as a setting), got ${show(value)}`]
})

/**
 * A configuration error as one line: `WORKER_COUNT: must be an integer from 1 to 1024, got 0`.
 *
 * @since 0.1.0
 */
export const describeError = (error: ConfigError.ConfigError): string =>
  ConfigError.reduceWithContext(error, undefined, {
    andCase: (_, left: string, right: string) => `${left}; ${right}`,
    orCase: (_, left: string, right: string) => `${left}; or ${right}`,
    invalidDataCase: (_, path, message) => `${path.join(".")}: ${message}`,
    missingDataCase: (_, path, message) => `${path.join(".")}: ${message}`,
    sourceUnavailableCase: (_, path, message) => `${path.join(".")}: ${message}`,
    unsupportedCase: (_, path, message) => `${path.join(".")}: ${message}`
  })

/**
 * Defaults plus the caller's settings, checked; never reads the environment (library callers,
 * tests). A setting out of bounds fails the layer with a `ConfigError`.
 *
 * @since 0.1.0
 */
export const layer = (settings: Partial<Settings> = {}): Layer.Layer<AggregatorConfig, ConfigError.ConfigError> =>
  Layer.effect(AggregatorConfig, check({ ...defaults, ...settings }))

/**
 * The environment, with the caller's overrides on top (runtimes: flags beat the environment),
 * checked.
 *
 * @since 0.1.0
 */
export const layerFromEnv = (
  overrides: Partial<Settings> = {}
): Layer.Layer<AggregatorConfig, ConfigError.ConfigError> =>
  Layer.effect(AggregatorConfig, Effect.flatMap(config, (env) => check({ ...env, ...overrides })))
