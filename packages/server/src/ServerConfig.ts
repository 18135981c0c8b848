/**
 * The HTTP runtime's settings: listen address, request limits, ack mode, API key, log level.
 *
 * @since 0.1.0
 */
import { AggregatorConfig } from "@event-aggregator/core"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

/** @since 0.1.0 */
export interface Settings {
  readonly port: number
  readonly host: string
  /** Default ack for `POST /publish` without `?ack=`. */
  readonly ackMode: "durable" | "queued"
  /** Most events in one request. */
  readonly maxBatch: number
  /** Largest request body in bytes, enforced while reading. */
  readonly maxBodyBytes: number
  /** When set, every route but `/health` and `/ready` needs `Authorization: Bearer <key>`. */
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
  readonly logLevel: LogLevel.LogLevel
  /** How long shutdown waits for in-flight requests before closing their connections. */
  readonly shutdownTimeoutMillis: number
}

/** @since 0.1.0 */
export class ServerConfig extends Context.Tag("@event-aggregator/server/ServerConfig")<ServerConfig, Settings>() {}

/** The largest `MAX_BODY_BYTES` accepted (256 MiB). */
export const MAX_BODY_BYTES_LIMIT = 256 * 1024 * 1024

export const defaults: Settings = {
  port: 8080,
  host: "0.0.0.0",
  ackMode: "durable",
  maxBatch: 10_000,
  maxBodyBytes: 16 * 1024 * 1024,
  apiKey: Option.none(),
  logLevel: LogLevel.Info,
  shutdownTimeoutMillis: 10_000
}

/** 0 lets the system pick a free port (tests); the address is logged at start. */
export const port: Config.Config<number> = Config.integer("PORT").pipe(Config.withDefault(defaults.port))
export const host: Config.Config<string> = Config.string("HOST").pipe(Config.withDefault(defaults.host))
export const ackMode: Config.Config<"durable" | "queued"> = Config.literal("durable", "queued")("ACK_MODE").pipe(
  Config.withDefault(defaults.ackMode)
)
export const maxBatch: Config.Config<number> = Config.integer("MAX_BATCH").pipe(Config.withDefault(defaults.maxBatch))
export const maxBodyBytes: Config.Config<number> = AggregatorConfig.bytes("MAX_BODY_BYTES").pipe(
  Config.withDefault(defaults.maxBodyBytes)
)
/** Unset or empty: no key required. */
export const apiKey: Config.Config<Option.Option<Redacted.Redacted<string>>> = Config.option(Config.redacted("API_KEY")).pipe(
  Config.map(Option.filter((key) => Redacted.value(key).length > 0))
)
const LOG_LEVELS: Record<string, LogLevel.LogLevel> = {
  all: LogLevel.All,
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None,
  off: LogLevel.None
}

/** `trace`, `debug`, `info`, `warn`/`warning`, `error`, `fatal`, `all` or `none`, any case. */
export const logLevel: Config.Config<LogLevel.LogLevel> = Config.string("LOG_LEVEL").pipe(
  Config.mapOrFail((text) => {
    const level = LOG_LEVELS[text.trim().toLowerCase()]
    return level === undefined
      ? Either.left(ConfigError.InvalidData([], `must be one of trace, debug, info, warn, error, fatal, all, none; got ${JSON.stringify(text)}`))
      : Either.right(level)
  }),
  Config.withDefault(defaults.logLevel)
)

export const config: Config.Config<Settings> = Config.all({
  port,
  host,
  ackMode,
  maxBatch,
  maxBodyBytes,
  apiKey,
  logLevel,
  shutdownTimeoutMillis: Config.succeed(defaults.shutdownTimeoutMillis)
})

/** The bounds of every server setting, checked wherever the settings come from. */
export const check: (settings: Settings) => Effect.Effect<Settings, ConfigError.ConfigError> = AggregatorConfig.checkWith<
  Settings
>({
  port: ["PORT", AggregatorConfig.integer(0, 65535)],
  host: ["HOST", AggregatorConfig.nonEmpty],
  ackMode: ["ACK_MODE", AggregatorConfig.oneOf(["durable", "queued"])],
  maxBatch: ["MAX_BATCH", AggregatorConfig.integer(1)],
  // A body is held as one string: 256 MiB keeps well inside V8's longest string (~512 Mi units).
  maxBodyBytes: ["MAX_BODY_BYTES", AggregatorConfig.integer(1, MAX_BODY_BYTES_LIMIT)],
  apiKey: ["API_KEY", (key) => (Option.isOption(key) ? undefined : "must be an Option of a Redacted key")],
  logLevel: ["LOG_LEVEL", (level) => (LogLevel.allLevels.includes(level as LogLevel.LogLevel) ? undefined : "must be a LogLevel")],
  shutdownTimeoutMillis: ["shutdownTimeoutMillis", AggregatorConfig.integer(0)]
})

/** Defaults plus the caller's settings, checked; never reads the environment. */
export const layer = (settings: Partial<Settings> = {}): Layer.Layer<ServerConfig, ConfigError.ConfigError> =>
  Layer.effect(ServerConfig, check({ ...defaults, ...settings }))

/** The environment, with the caller's overrides on top (flags beat the environment), checked. */
export const layerFromEnv = (
  overrides: Partial<Settings> = {}
): Layer.Layer<ServerConfig, ConfigError.ConfigError> =>
  Layer.effect(ServerConfig, Effect.flatMap(config, (env) => check({ ...env, ...overrides })))
