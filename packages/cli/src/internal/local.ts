/** The Aggregator over the configured store (EVENT_STORE or --store; SQLite at `--db` by default), for local commands. */
import { Aggregator, AggregatorConfig } from "@event-aggregator/core"
import { StoreConfig } from "@event-aggregator/server"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Shared from "./options.js"

export const open = (where: Shared.Local) =>
  Effect.map(
    Layer.build(Aggregator.layer.pipe(
      Layer.provideMerge(StoreConfig.layerFromEnv(Shared.storeOverrides(where))),
      Layer.provide(AggregatorConfig.layerFromEnv({ dbPath: where.db }))
    )),
    (context) => Context.get(context, Aggregator.Aggregator)
  )
