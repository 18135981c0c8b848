/**
 * Handlers of the `events` group's reading routes: each translates HTTP to `Aggregator` calls and
 * back. Stored events are written with `EventJson`, so payloads go out exactly as they came in.
 *
 * @since 0.1.0
 */
import { Aggregator, EventJson, type EventStore, Page } from "@event-aggregator/core"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Api from "./Api.js"
import * as Follow from "./internal/follow.js"
import { Listener } from "./internal/listener.js"

const storeUnavailable = (error: { readonly message: string }): typeof Api.StoreUnavailable.Type => ({
  error: "StoreUnavailable",
  message: `${error.message}; try again`
})

const json = (text: string) => HttpServerResponse.text(text, { contentType: "application/json" })

const tooManyFollowers = (error: Aggregator.TooManyFollowers): typeof Api.TooManyFollowers.Type => ({
  error: "TooManyFollowers",
  message: error.message,
  limit: error.limit
})

const followError = (error: EventStore.StoreError | Aggregator.TooManyFollowers) =>
  error._tag === "TooManyFollowers" ? tooManyFollowers(error) : storeUnavailable(error)

const pageRequest = (query: typeof Api.EventsParams.Type) =>
  Schema.decodeUnknown(Page.RequestFromQuery)({ topic: query.topic, after: query.after, limit: query.limit }).pipe(
    Effect.mapError(Follow.badRequest)
  )

const waitSeconds = (query: typeof Api.EventsParams.Type) =>
  Schema.decodeUnknown(Follow.WaitFromQuery)(query.wait).pipe(Effect.mapError(Follow.badRequest))

const shuttingDown: typeof Api.ShuttingDown.Type = {
  error: "ShuttingDown",
  message: "the server is draining for shutdown; follow another instance, resuming after the last id received"
}

/** @since 0.1.0 */
export const EventsHttpLive = HttpApiBuilder.group(Api.ServedApi, "events", (handlers) =>
  Effect.gen(function*() {
    const aggregator = yield* Aggregator.Aggregator
    const listener = yield* Listener
    const drainBegan = Deferred.await(listener.drainBegan)
    return handlers
      .handle("list", ({ urlParams }) =>
        Effect.gen(function*() {
          const request = yield* pageRequest(urlParams)
          const wait = yield* waitSeconds(urlParams)
          const page = yield* aggregator.events(request).pipe(Effect.mapError(storeUnavailable))
          if (page.events.length > 0 || wait === 0) return json(EventJson.stringifyPage(page))
          // Long-poll: follow from the same cursor (it reads the store first, so an event committed
          // since the read above is not missed), then answer the page as usual.
          const events = aggregator.follow({ topic: request.topic, after: request.after })
          yield* Follow.firstEvent(events, wait, drainBegan).pipe(Effect.mapError(followError))
          const next = yield* aggregator.events(request).pipe(Effect.mapError(storeUnavailable))
          return json(EventJson.stringifyPage(next))
        }))
      .handle("stream", ({ headers, urlParams }) =>
        Effect.gen(function*() {
          if (listener.draining) return yield* Effect.fail(shuttingDown)
          const cursor = yield* Schema.decodeUnknown(Follow.CursorFromRequest)({
            topic: urlParams.topic,
            after: urlParams.after,
            lastEventId: headers["last-event-id"]
          }).pipe(Effect.mapError(Follow.badRequest))
          // "now" becomes the head's seq, and the stream says it first (an `id:` with no data): a
          // client cut before the first event then resumes from there, not from a later "now".
          const after = cursor.after === "now" ? yield* aggregator.head.pipe(Effect.mapError(storeUnavailable)) : undefined
          const follow = after === undefined ? cursor : { ...cursor, after }
          const prunedBefore = follow.after === "now"
            ? undefined
            : yield* aggregator.prunedBefore({ topic: follow.topic, after: follow.after }).pipe(Effect.mapError(storeUnavailable))
          return yield* Follow.eventStream(aggregator.follow(follow), drainBegan, after, prunedBefore).pipe(
            Effect.mapError(followError)
          )
        }))
      .handle("get", ({ path }) =>
        aggregator.get(path).pipe(
          Effect.mapError((error): typeof Api.Gone.Type | typeof Api.StoreUnavailable.Type =>
            error._tag === "EventPruned" ? { error: "Gone", message: error.message, seq: error.seq } : storeUnavailable(error)
          ),
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
