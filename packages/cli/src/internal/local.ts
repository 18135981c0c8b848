/** The Aggregator over the configured store (EVENT_STORE or --store; SQLite at `--db` by default), for local commands. */
import { Aggregator, AggregatorConfig, type EventStore } from "@event-aggregator/core"
import { StoreConfig } from "@event-aggregator/server"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Shared from "./options.js"

const build = <E>(
  where: Shared.Local,
  store: Layer.Layer<EventStore.EventStore, E, AggregatorConfig.AggregatorConfig>,
  overrides: Partial<AggregatorConfig.Settings>
) =>
  Effect.map(
    Layer.build(Aggregator.layer.pipe(
      Layer.provideMerge(store),
      Layer.provide(AggregatorConfig.layerFromEnv({ dbPath: where.db, ...overrides }))
    )),
    (context) => Context.get(context, Aggregator.Aggregator)
  )

/** `overrides` beat the environment (e.g. ingest's one worker). */
export const open = (where: Shared.Local, overrides: Partial<AggregatorConfig.Settings> = {}) =>
  build(where, StoreConfig.layerFromEnv(Shared.storeOverrides(where)), overrides)
