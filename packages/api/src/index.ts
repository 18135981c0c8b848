/**
 * The HTTP contract of event-aggregator, alone: the `HttpApi` (every route, its parameters,
 * answers and errors) and the schemas it is made of. It depends only on `effect` and
 * `@effect/platform`: the server implements it, clients derive from it.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Api from "./Api.js"

/** @since 0.1.0 */
export * as DashboardApi from "./DashboardApi.js"

/** @since 0.1.0 */
export * as EventJson from "./EventJson.js"

/** @since 0.1.0 */
export * as Fields from "./Fields.js"

/** @since 0.1.0 */
export * as Json from "./Json.js"

/** @since 0.1.0 */
export * as Schemas from "./Schemas.js"
