/**
 * Handlers of the `events` group: each translates HTTP to one `Aggregator` call and back.
 * (`POST /publish` normally takes the lean path in `Server.ts`; this handler serves the same
 * contract when the `HttpApi` app is used on its own.)
 *
 * @since 0.1.0
 */
import { Aggregator } from "@event-aggregator/core"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Api from "./Api.js"
import * as Publish from "./internal/publish.js"
import { ServerConfig } from "./ServerConfig.js"

const storeUnavailable = (error: { readonly message: string }): typeof Api.StoreUnavailable.Type => ({
  error: "StoreUnavailable",
  message: `${error.message}; try again`
})

/** @since 0.1.0 */
export const EventsHttpLive = HttpApiBuilder.group(Api.Api, "events", (handlers) =>
  Effect.gen(function*() {
    const aggregator = yield* Aggregator.Aggregator
    const settings = yield* ServerConfig
    return handlers
      .handle("publish", ({ payload, urlParams }) =>
        Effect.gen(function*() {
          const params = yield* Publish.parseParams(urlParams.ack, urlParams.detail, settings.ackMode)
          const list = yield* Publish.shape(payload)
          if (list.length > settings.maxBatch) return yield* Effect.fail(Publish.tooManyEvents(settings.maxBatch))
          const response = yield* Publish.run(aggregator, list, params)
          return response.body
        }))
      .handle("list", ({ urlParams }) =>
        Effect.gen(function*() {
          const page = yield* Either.mapLeft(
            Aggregator.parsePage(urlParams.after, urlParams.limit),
            (message): typeof Api.BadRequest.Type => ({ error: "BadRequest", message })
          )
          return yield* aggregator.events({ topic: urlParams.topic, ...page }).pipe(Effect.mapError(storeUnavailable))
        }))
      .handle("get", ({ path }) =>
        aggregator.get(path).pipe(
          Effect.mapError(storeUnavailable),
          Effect.flatMap(Option.match({
            onNone: () =>
              Effect.fail<typeof Api.NotFound.Type>({
                error: "NotFound",
                message: `no event ${JSON.stringify(path.event_id)} in topic ${JSON.stringify(path.topic)}`
              }),
            onSome: Effect.succeed
          }))
        ))
      .handle("stats", () => aggregator.stats)
  })
)
