/**
 * Launches the HTTP runtime with settings from the environment (the store: EVENT_STORE, default
 * SQLite). The only module with
 * side effects: SIGTERM/SIGINT close the layer (drain, commit, close the store) and exit 0; bad
 * configuration prints one line and exits 1.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Launch from "./Launch.js"
import * as Server from "./Server.js"

Server.launch().pipe(
  Launch.reportFailure,
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
