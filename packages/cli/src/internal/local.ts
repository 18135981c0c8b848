/** The Aggregator over a local SQLite file, for commands that read or write it directly. */
import { Aggregator, AggregatorConfig, SqliteEventStore } from "@event-aggregator/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

export const open = (dbPath: string) =>
  Effect.map(
    Layer.build(Aggregator.layer.pipe(
      Layer.provide(SqliteEventStore.layer),
      Layer.provide(AggregatorConfig.layerFromEnv({ dbPath }))
    )),
    (context) => Context.get(context, Aggregator.Aggregator)
  )
