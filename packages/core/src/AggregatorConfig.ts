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
  /** Largest serialized payload in bytes (`MAX_EVENT_BYTES`). */
  readonly maxEventBytes: number
  /** Most events one commit group (one transaction) takes from the queue. */
  readonly maxGroupEvents: number
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
  maxEventBytes: Event.DEFAULT_MAX_EVENT_BYTES,
  maxGroupEvents: 10_000
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

/** A size setting read from `name`: bytes, with an optional unit, at least 1. */
export const bytes = (name: string): Config.Config<number> =>
  Config.string(name).pipe(
    Config.mapOrFail((text) => {
      const n = parseBytes(text)
      return n === undefined || n < 1 || !Number.isSafeInteger(n)
        ? Either.left(ConfigError.InvalidData(
          [],
          `must be a size in bytes such as 262144 or 256KiB, got ${JSON.stringify(text)}`
        ))
        : Either.right(n)
    })
  )

/** `DEDUP_DB_PATH` */
export const dbPath: Config.Config<string> = Config.string("DEDUP_DB_PATH").pipe(
  Config.validate({ message: "must not be empty", validation: (s) => s.length > 0 }),
  Config.withDefault(defaults.dbPath)
)

/** `WORKER_COUNT` */
export const workerCount: Config.Config<number> = Config.integer("WORKER_COUNT").pipe(
  Config.validate({ message: "must be 1 or more", validation: (n) => n >= 1 && n <= 1024 }),
  Config.withDefault(defaults.workerCount)
)

/** `QUEUE_MAXSIZE` */
export const queueMaxSize: Config.Config<number> = Config.integer("QUEUE_MAXSIZE").pipe(
  Config.validate({ message: "must be 0 (unbounded) or more", validation: (n) => n >= 0 }),
  Config.withDefault(defaults.queueMaxSize)
)

/** `SQLITE_SYNCHRONOUS` */
export const synchronous: Config.Config<"FULL" | "NORMAL"> = Config.literal("FULL", "NORMAL")(
  "SQLITE_SYNCHRONOUS"
).pipe(Config.withDefault(defaults.synchronous))

/** `MAX_EVENT_BYTES` */
export const maxEventBytes: Config.Config<number> = bytes("MAX_EVENT_BYTES").pipe(
  Config.withDefault(defaults.maxEventBytes)
)

/** All the core's settings from the environment. */
export const config: Config.Config<Settings> = Config.all({
  dbPath,
  workerCount,
  queueMaxSize,
  synchronous,
  maxEventBytes,
  maxGroupEvents: Config.succeed(defaults.maxGroupEvents)
})

/**
 * Defaults plus the caller's settings; never reads the environment (library callers, tests).
 *
 * @since 0.1.0
 */
export const layer = (settings: Partial<Settings> = {}): Layer.Layer<AggregatorConfig> =>
  Layer.succeed(AggregatorConfig, { ...defaults, ...settings })

/**
 * The environment, with the caller's overrides on top (runtimes: flags beat the environment).
 *
 * @since 0.1.0
 */
export const layerFromEnv = (
  overrides: Partial<Settings> = {}
): Layer.Layer<AggregatorConfig, ConfigError.ConfigError> =>
  Layer.effect(AggregatorConfig, Effect.flatMap(config, (env) => check({ ...env, ...overrides })))

/** The same bounds as the environment's, for settings that came from elsewhere (flags). */
export const check = (settings: Settings): Effect.Effect<Settings, ConfigError.ConfigError> => {
  const problem = settings.workerCount < 1 || !Number.isInteger(settings.workerCount)
    ? ["WORKER_COUNT", "must be 1 or more"]
    : settings.queueMaxSize < 0 || !Number.isInteger(settings.queueMaxSize)
    ? ["QUEUE_MAXSIZE", "must be 0 (unbounded) or more"]
    : settings.maxEventBytes < 1
    ? ["MAX_EVENT_BYTES", "must be 1 or more"]
    : undefined
  return problem === undefined
    ? Effect.succeed(settings)
    : Effect.fail(ConfigError.InvalidData([problem[0]!], problem[1]!))
}
