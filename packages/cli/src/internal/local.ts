/** The Aggregator over the configured store (EVENT_STORE; SQLite at `dbPath` by default), for local commands. */
import { Aggregator, AggregatorConfig } from "@event-aggregator/core"
import { StoreConfig } from "@event-aggregator/server"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

export const open = (dbPath: string) =>
  Effect.map(
    Layer.build(Aggregator.layer.pipe(
      Layer.provideMerge(StoreConfig.layerFromEnv()),
      Layer.provide(AggregatorConfig.layerFromEnv({ dbPath }))
    )),
    (context) => Context.get(context, Aggregator.Aggregator)
  )
