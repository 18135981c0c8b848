/**
 * Handlers of the `events` group's reading routes: each translates HTTP to one `Aggregator` call
 * and back. Stored events are written with `EventJson`, so payloads go out exactly as they came in.
 *
 * @since 0.1.0
 */
import { Aggregator, EventJson, Page } from "@event-aggregator/core"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Api from "./Api.js"

const storeUnavailable = (error: { readonly message: string }): typeof Api.StoreUnavailable.Type => ({
  error: "StoreUnavailable",
  message: `${error.message}; try again`
})

const json = (text: string) => HttpServerResponse.text(text, { contentType: "application/json" })

const pageRequest = (query: typeof Api.EventsParams.Type) =>
  Schema.decodeUnknown(Page.RequestFromQuery)(query).pipe(
    Effect.mapError((error): typeof Api.BadRequest.Type => ({
      error: "BadRequest",
      message: ParseResult.ArrayFormatter.formatErrorSync(error)[0]?.message ?? "bad query parameters"
    }))
  )

/** @since 0.1.0 */
export const EventsHttpLive = HttpApiBuilder.group(Api.ServedApi, "events", (handlers) =>
  Effect.gen(function*() {
    const aggregator = yield* Aggregator.Aggregator
    return handlers
      .handle("list", ({ urlParams }) =>
        Effect.gen(function*() {
          const request = yield* pageRequest(urlParams)
          const page = yield* aggregator.events(request).pipe(Effect.mapError(storeUnavailable))
          return json(EventJson.stringifyPage(page))
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
            onSome: (event) => Effect.succeed(json(EventJson.stringifyStored(event)))
          }))
        ))
      // Written with JSON.stringify: the Schema encoding of a record builds an object by assignment,
      // which would turn a topic named "__proto__" into a prototype and drop it.
      .handle("stats", () => Effect.map(aggregator.stats, (stats) => json(JSON.stringify(stats))))
  })
)
