/**
 * The HTTP runtime of event-aggregator.
 *
 * @since 0.1.0
 */
export * as Api from "./Api.js"
export * as Launch from "./Launch.js"
export * as Server from "./Server.js"
export * as ServerConfig from "./ServerConfig.js"
export * as StoreConfig from "./StoreConfig.js"
