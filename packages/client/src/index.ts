/**
 * @event-aggregator/client: publish to, read and follow an event-aggregator server from Effect
 * code (`Client`), its errors (`ClientError`). For Promises: `@event-aggregator/client/promise`.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Client from "./Client.js"

/** @since 0.1.0 */
export * as ClientError from "./ClientError.js"
