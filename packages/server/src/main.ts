/**
 * Launches the HTTP runtime with settings from the environment (the store: EVENT_STORE, default
 * SQLite). The only module with
 * side effects: SIGTERM/SIGINT close the layer (drain, commit, close the store) and exit 0; bad
 * configuration prints one line and exits 1.
 */
import { AggregatorConfig } from "@event-aggregator/core"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Launch from "./Launch.js"
import * as Server from "./Server.js"
import * as ServerConfig from "./ServerConfig.js"
import * as StoreConfig from "./StoreConfig.js"

const ConfigLive = Layer.merge(AggregatorConfig.layerFromEnv(), ServerConfig.layerFromEnv())

Server.layer.pipe(
  Layer.provide(StoreConfig.layerFromEnv()),
  Launch.launch,
  Effect.provide(Server.LoggerLive),
  Effect.provide(ConfigLive),
  Launch.reportFailure,
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
