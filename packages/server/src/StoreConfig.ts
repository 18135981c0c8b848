/**
 * Which EventStore a runtime uses: `EVENT_STORE=sqlite|postgres|memory` (default `sqlite`) and
 * `DATABASE_URL` for postgres. The PostgreSQL store is loaded only when chosen, so SQLite users
 * never install `pg` (`@event-aggregator/postgres` is an optional peer dependency).
 *
 * @since 0.1.0
 */
import { AggregatorConfig, EventStore, MemoryEventStore, SqliteEventStore } from "@event-aggregator/core"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"

/** The stores to choose from, for `EVENT_STORE` and the CLI's `--store`. @since 0.1.0 */
export const kinds = ["sqlite", "postgres", "memory"] as const

/** @since 0.1.0 */
export type Kind = (typeof kinds)[number]

/** @since 0.1.0 */
export interface Settings {
  readonly kind: Kind
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
}

export const kind: Config.Config<Kind> = Config.literal(...kinds)("EVENT_STORE").pipe(
  Config.withDefault<Kind>("sqlite")
)
export const databaseUrl: Config.Config<Option.Option<Redacted.Redacted<string>>> = Config.option(
  Config.redacted("DATABASE_URL")
)

export const config: Config.Config<Settings> = Config.all({ kind, databaseUrl })

/** The chosen store as a layer. SQLite reads its file and pragmas from `AggregatorConfig`. */
export const layer = (
  settings: Settings
): Layer.Layer<EventStore.EventStore, EventStore.StoreError | ConfigError.ConfigError, AggregatorConfig.AggregatorConfig> => {
  const problem = AggregatorConfig.oneOf(kinds)(settings.kind)
  if (problem !== undefined) return Layer.fail(ConfigError.InvalidData(["EVENT_STORE"], problem))
  switch (settings.kind) {
    case "sqlite":
      return SqliteEventStore.layer
    case "memory":
      return MemoryEventStore.layer
    case "postgres": {
      if (Option.isNone(settings.databaseUrl)) {
        return Layer.fail(ConfigError.MissingData(["DATABASE_URL"], "EVENT_STORE=postgres needs DATABASE_URL"))
      }
      const url = settings.databaseUrl.value
      return Layer.unwrapEffect(
        Effect.tryPromise({
          try: () => import("@event-aggregator/postgres"),
          catch: (cause) =>
            new EventStore.StoreError({
              operation: "open",
              cause: new Error(`EVENT_STORE=postgres needs the @event-aggregator/postgres package: ${String(cause)}`)
            })
        }).pipe(Effect.map((m) => m.PostgresEventStore.layerWith({ url })))
      )
    }
  }
}

/** The environment's choice, with the caller's overrides on top (flags beat the environment). */
export const layerFromEnv = (
  overrides: Partial<Settings> = {}
): Layer.Layer<EventStore.EventStore, EventStore.StoreError | ConfigError.ConfigError, AggregatorConfig.AggregatorConfig> =>
  Layer.unwrapEffect(Effect.map(config, (env) => layer({ ...env, ...overrides })))
