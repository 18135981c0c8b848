/**
 * The Effect client of an event-aggregator server: publish events, read the log a page at a time
 * or one key, follow it live over Server-Sent Events, read the counters. Derived from the HTTP
 * contract in `@event-aggregator/api`, over `@effect/platform`'s `HttpClient` (provide
 * `FetchHttpClient.layer` in browsers and Node alike).
 *
 * Payloads are JSON text. A stored event's `payload` is the exact text the server stored (every
 * digit of an int64, every escape), never a parsed object: `JSON.parse` it when rounding integers
 * beyond 2^53 does not matter, or use a lossless parser. To publish, give a payload as a value
 * (written by `JSON.stringify`) or as JSON text (sent exactly as written).
 *
 * Each request is retried on its own after a network error, a timeout or a 503, waiting at least
 * what the server's `Retry-After` asks for; any other answer is final. Retrying a publish is safe:
 * the server stores each (topic, event_id) once, and a durable publish carries an
 * `Idempotency-Key` (random per call, the same on its retries), so a retry of a request the
 * server committed gets the stored answer back and counts nothing again (a 409, the first attempt
 * still in flight, is retried too).
 *
 * @since 0.1.0
 */
import * as Api from "@event-aggregator/api/Api"
import type * as Schemas from "@event-aggregator/api/Schemas"
import * as HttpApiClient from "@effect/platform/HttpApiClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  type ClientError,
  isClientError,
  type PublishError,
  type ReadError,
  RequestError,
  Unavailable
} from "./ClientError.js"
import * as Follow from "./internal/follow.js"
import { asReadError, errorBody, noAnswer, refusal, refusalOf, unreadable } from "./internal/http.js"
import * as Retry from "./internal/retry.js"
import * as Wire from "./internal/wire.js"

/**
 * An event to publish. `payload` is a JSON object, either as a value (written with
 * `JSON.stringify`, so numbers are JavaScript numbers) or as its JSON text (sent exactly as
 * written: the way to publish integers beyond 2^53).
 *
 * @since 0.1.0
 */
export interface EventInput {
  readonly topic: string
  readonly event_id: string
  /** ISO 8601 with a time zone, e.g. `2025-01-31T12:00:00Z`. */
  readonly timestamp: string
  readonly source: string
  readonly payload: string | { readonly [key: string]: unknown }
}

/**
 * What `publish` sends: one event, a list of events, or the JSON text of a body (one event, an
 * array, or `{"events": [...]}`), sent as is.
 *
 * @since 0.1.0
 */
export type PublishInput = EventInput | ReadonlyArray<EventInput> | string

/** @since 0.1.0 */
export interface PublishOptions {
  /**
   * `durable` (default): answer once every event is committed, with the counts. `queued`: answer
   * once the batch is in the server's queue (a crash of the server can lose it).
   */
  readonly ack?: "durable" | "queued" | undefined
  /** With `ack: "durable"`: list each event's outcome and seq (`results`). */
  readonly detail?: boolean | undefined
  /**
   * With `ack: "durable"`: the request's `Idempotency-Key` (1 to 255 characters). By default each
   * call gets a random one, sent again on its retries: a retry of a request the server committed is
   * answered with the stored answer (same counts, same `results`) and counts nothing again.
   */
  readonly idempotencyKey?: string | undefined
}

/**
 * The answer to a durable publish: how many events were accepted, dropped as duplicates, or
 * refused as conflicts (same key, different content); `results` with `detail: true`.
 *
 * @since 0.1.0
 */
export type Published = typeof Api.PublishResult.Type

/**
 * The answer to a queued publish.
 *
 * @since 0.1.0
 */
export type Queued = typeof Api.Queued.Type

/**
 * A stored event. `payload` is its JSON text, exactly as stored.
 *
 * @since 0.1.0
 */
export type StoredEvent = Schemas.StoredEvent

/**
 * A page of the log: `next_after` is the `after` of the next page, or null at the end.
 *
 * @since 0.1.0
 */
export type Page = Schemas.Page

/** @since 0.1.0 */
export type Stats = Schemas.Stats

/** @since 0.1.0 */
export interface EventsOptions {
  /** Only this topic. */
  readonly topic?: string | undefined
  /** Events with a greater seq (default 0: from the beginning). */
  readonly after?: number | undefined
  /** At most this many (1 to 10000; default 1000). */
  readonly limit?: number | undefined
}

/**
 * Why `follow` connects again, how long it waits first, and after which seq it resumes.
 *
 * @since 0.1.0
 */
export interface Reconnect {
  readonly error: Unavailable | RequestError
  readonly delay: Duration.Duration
  readonly after: number | "now"
}

/** @since 0.1.0 */
export interface FollowOptions {
  /** Only this topic. */
  readonly topic?: string | undefined
  /** A seq (events after it; default 0, the whole log) or `"now"` (only events committed from now on). */
  readonly after?: number | "now" | undefined
  /** Told before each reconnection (for a log line or a status display). */
  readonly onReconnect?: ((reconnect: Reconnect) => Effect.Effect<void>) | undefined
}

/**
 * The client's calls.
 *
 * @since 0.1.0
 */
export interface Service {
  /**
   * Publishes one event, a list, or a body's JSON text, all or nothing: an invalid event fails
   * the call with `InvalidEvents` listing every problem, and nothing is stored.
   */
  readonly publish: {
    (events: PublishInput, options?: PublishOptions & { readonly ack?: "durable" | undefined }): Effect.Effect<
      Published,
      PublishError
    >
    (events: PublishInput, options: PublishOptions & { readonly ack: "queued" }): Effect.Effect<Queued, PublishError>
    (events: PublishInput, options?: PublishOptions): Effect.Effect<Published | Queued, PublishError>
  }
  /** A page of stored events in commit order (ascending seq). */
  readonly events: (options?: EventsOptions) => Effect.Effect<Page, ReadError>
  /** The stored copy of one key, if any. */
  readonly get: (key: { readonly topic: string; readonly event_id: string }) => Effect.Effect<Option.Option<StoredEvent>, ReadError>
  /** The server's counters. */
  readonly stats: Effect.Effect<Stats, ReadError>
  /**
   * Every event after `after` (of `topic` if given), stored ones first, then each as it commits,
   * until interrupted. When the connection drops, the server restarts or answers 503, it connects
   * again with a jittered exponential backoff (at least the server's `retry:` and `Retry-After`)
   * from the last event given out (`Last-Event-ID`): nothing twice, nothing skipped. A refusal
   * (401, 400, ...) ends it with the error; it never gives up otherwise.
   */
  readonly follow: (options?: FollowOptions) => Stream.Stream<StoredEvent, ReadError>
}

/**
 * The client of one server.
 *
 * @since 0.1.0
 */
export class EventAggregatorClient extends Context.Tag("@event-aggregator/client/EventAggregatorClient")<
  EventAggregatorClient,
  Service
>() {}

/** @since 0.1.0 */
export interface RetryOptions {
  /** Retries after the first attempt (default 5); 0 never retries. */
  readonly times?: number | undefined
  /** The first backoff (default 200 ms); each next one doubles, jittered. */
  readonly base?: Duration.DurationInput | undefined
  /** The longest backoff (default 5 s); a `Retry-After` may ask for longer (at most 2 minutes). */
  readonly cap?: Duration.DurationInput | undefined
}

/** @since 0.1.0 */
export interface Options {
  /** The server, e.g. `http://localhost:8080` (a path prefix is kept: `https://host/aggregator`). */
  readonly baseUrl: string | URL
  /** Sent as `Authorization: Bearer <key>`. */
  readonly apiKey?: Redacted.Redacted<string> | string | undefined
  /** Per attempt, from sending the request to reading the whole answer (default 30 s); not for `follow`. */
  readonly timeout?: Duration.DurationInput | undefined
  readonly retry?: RetryOptions | undefined
}

/**
 * The defaults of `Options`.
 *
 * @since 0.1.0
 */
export const defaults = {
  timeout: Duration.seconds(30),
  retry: { times: 5, base: Duration.millis(200), cap: Duration.seconds(5) }
} as const

/**
 * The base URL without trailing slashes, or why it is not one.
 *
 * @since 0.1.0
 */
export const checkBaseUrl = (baseUrl: string | URL): Either.Either<string, string> => {
  const text = String(baseUrl)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return Either.left(`baseUrl must be an absolute http or https URL, got ${JSON.stringify(text)}`)
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Either.left(`baseUrl must be an absolute http or https URL, got ${JSON.stringify(text)}`)
  }
  return Either.right(text.replace(/\/+$/, ""))
}

/** Answers a keyed publish retries: 503, and 409 (the key's earlier attempt is still in flight). */
const inFlightToo: ReadonlySet<number> = new Set([503, 409])

const path = (name: "publish" | "list" | "get" | "stream") => Api.EventsApi.endpoints[name]!.path

/** `/events/:topic/:event_id` with both parts URL-encoded. */
const eventPath = (key: { readonly topic: string; readonly event_id: string }) =>
  path("get").replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(name === "topic" ? key.topic : key.event_id))

const decodePublished = Schema.decodeUnknownEither(Schema.parseJson(Schema.Union(Api.PublishResult, Api.Queued)))

/** The error of the last attempt, with the number of attempts made. */
const afterAttempts = (error: ClientError, attempts: number): ClientError =>
  attempts <= 1
    ? error
    : error._tag === "Unavailable"
    ? new Unavailable({
      error: error.error,
      message: error.message,
      status: error.status,
      retryAfterMillis: error.retryAfterMillis,
      attempts
    })
    : error._tag === "RequestError"
    ? new RequestError({ reason: error.reason, message: error.message, attempts })
    : error

/**
 * A client of the server at `options.baseUrl`. Dies when `baseUrl` is not an http(s) URL (use
 * `checkBaseUrl` first for input you do not control).
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<Service, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const baseUrl = yield* Either.match(checkBaseUrl(options.baseUrl), {
      onLeft: (message) => Effect.dieMessage(message),
      onRight: Effect.succeed
    })
    const apiKey = options.apiKey === undefined
      ? undefined
      : Redacted.isRedacted(options.apiKey)
      ? options.apiKey
      : Redacted.make(options.apiKey)
    const timeout = Duration.decode(options.timeout ?? defaults.timeout)
    const settings: Retry.Settings = {
      times: Math.max(0, Math.floor(options.retry?.times ?? defaults.retry.times)),
      base: Duration.decode(options.retry?.base ?? defaults.retry.base),
      cap: Duration.decode(options.retry?.cap ?? defaults.retry.cap)
    }

    const authorized = (yield* HttpClient.HttpClient).pipe(
      HttpClient.mapRequest((request) => (apiKey === undefined ? request : HttpClientRequest.bearerToken(request, apiKey)))
    )
    /** Every answer is given to the caller: statuses are the call's to read. */
    const http = authorized.pipe(HttpClient.mapRequest(HttpClientRequest.prependUrl(baseUrl)))

    // Calls without payloads go through the contract's own client. Anything but a 2xx answer is
    // turned into a ClientError before it decodes anything, so each request reads its own
    // Retry-After (HttpApiClient would keep only the body).
    const statsOf = yield* HttpApiClient.endpoint(Api.Api, {
      group: "events",
      endpoint: "stats",
      baseUrl,
      httpClient: authorized.pipe(
        HttpClient.catchAll(noAnswer),
        HttpClient.transformResponse(Effect.flatMap((response) =>
          response.status >= 200 && response.status < 300
            ? Effect.succeed(response)
            : Effect.flatMap(refusal(response), Effect.fail)
        ))
      )
    })

    /** One attempt, timed: `read` turns the answer into the value. */
    const attempt = <A>(
      request: HttpClientRequest.HttpClientRequest,
      read: (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, ClientError>
    ): Effect.Effect<A, ClientError> =>
      http.execute(request).pipe(
        Effect.catchAll(noAnswer),
        Effect.flatMap(read),
        Effect.scoped,
        timed
      )

    const timed = <A>(effect: Effect.Effect<A, ClientError>): Effect.Effect<A, ClientError> =>
      Effect.timeoutFail(effect, {
        duration: timeout,
        onTimeout: () =>
          new RequestError({ reason: "Timeout", message: `no answer in ${Duration.format(timeout)}`, attempts: 1 })
      })

    /** `effect` under the retry policy, which is built per call: concurrent calls never share a wait. */
    const retrying = <A>(effect: Effect.Effect<A, ClientError>): Effect.Effect<A, ClientError> =>
      Effect.suspend(() => {
        let attempts = 0
        return Effect.suspend(() => {
          attempts++
          return effect
        }).pipe(
          Effect.retry(Retry.policy(settings)),
          Effect.mapError((error) => afterAttempts(error, attempts))
        )
      })

    /** The body's text of a 2xx answer; any other answer is a refusal. */
    const textOf = (
      response: HttpClientResponse.HttpClientResponse,
      ok: (status: number) => boolean,
      retryable?: ReadonlySet<number>
    ) =>
      ok(response.status)
        ? Effect.catchAll(response.text, noAnswer)
        : Effect.flatMap(refusal(response, retryable), Effect.fail)

    const publish = (input: PublishInput, publishOptions: PublishOptions = {}) =>
      Effect.gen(function*() {
        const body = yield* Wire.publishBody(input)
        const ack = publishOptions.ack ?? "durable"
        // One key per call, the same on each of its retries (only a durable ack stores answers).
        const key = ack === "durable" ? publishOptions.idempotencyKey ?? globalThis.crypto.randomUUID() : undefined
        const request = HttpClientRequest.post(path("publish")).pipe(
          // Always explicit: the server's default (ACK_MODE) may be either.
          HttpClientRequest.setUrlParams(publishOptions.detail === true ? { ack, detail: "true" } : { ack }),
          key === undefined ? identity : HttpClientRequest.setHeader("idempotency-key", key),
          HttpClientRequest.bodyText(body, "application/json")
        )
        return yield* retrying(attempt(request, (response) =>
          Effect.flatMap(
            // 409: an earlier attempt with the key is still in flight; retry after Retry-After.
            textOf(response, (status) => status === 200 || status === 202, key === undefined ? undefined : inFlightToo),
            (text) =>
              Either.mapLeft(decodePublished(text), (error) =>
                unreadable(response.status, ParseResult.TreeFormatter.formatErrorSync(error)))
          )))
      }).pipe(Effect.withSpan("EventAggregatorClient.publish"))

    const events = (query: EventsOptions = {}) => {
      const request = HttpClientRequest.get(path("list")).pipe(HttpClientRequest.setUrlParams({
        ...(query.topic === undefined ? {} : { topic: query.topic }),
        ...(query.after === undefined ? {} : { after: String(query.after) }),
        ...(query.limit === undefined ? {} : { limit: String(query.limit) })
      }))
      return retrying(attempt(request, (response) =>
        Effect.flatMap(
          textOf(response, (status) => status === 200),
          (text) => Either.mapLeft(Wire.pageOf(text), (problem) => unreadable(response.status, problem))
        ))).pipe(Effect.mapError(asReadError), Effect.withSpan("EventAggregatorClient.events"))
    }

    const get = (key: { readonly topic: string; readonly event_id: string }) =>
      retrying(attempt(HttpClientRequest.get(eventPath(key)), (response) =>
        response.status === 404
          ? Effect.flatMap(errorBody(response), (body) =>
            // The contract's "no event with that key"; another 404 (no such route) is unexpected.
            body?.error === "NotFound" ? Effect.succeed(Option.none()) : Effect.fail(refusalOf(response, body)))
          : Effect.flatMap(
            textOf(response, (status) => status === 200),
            (text) =>
              Either.match(Wire.storedOf(text), {
                onLeft: (problem) => Either.left(unreadable(response.status, problem)),
                onRight: (e) => Either.right(Option.some(e))
              })
          ))).pipe(Effect.mapError(asReadError), Effect.withSpan("EventAggregatorClient.get"))

    const stats = retrying(timed(Effect.catchAll(statsOf(), (error) =>
      // Only a 2xx answer reaches the decoding: what fails there is the answer's shape.
      Effect.fail(
        isClientError(error)
          ? error
          : unreadable(200, ParseResult.isParseError(error) ? error.message : String(error))
      )))).pipe(Effect.mapError(asReadError), Effect.withSpan("EventAggregatorClient.stats"))

    const follow = (followOptions: FollowOptions = {}) =>
      Stream.mapError(Follow.follow(http, path("stream"), settings.base, followOptions), asReadError)

    return EventAggregatorClient.of({
      publish: publish as Service["publish"],
      events,
      get,
      stats,
      follow
    })
  })

/**
 * The client of the server at `options.baseUrl`.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<EventAggregatorClient, never, HttpClient.HttpClient> =>
  Layer.effect(EventAggregatorClient, make(options))

/**
 * The client's settings from the environment: `EVENT_AGGREGATOR_URL` (required),
 * `EVENT_AGGREGATOR_API_KEY`, `EVENT_AGGREGATOR_TIMEOUT` (e.g. `10 seconds`) and
 * `EVENT_AGGREGATOR_RETRIES` (retries per request).
 *
 * @since 0.1.0
 */
export const config: Config.Config<Options> = Config.all({
  baseUrl: Config.string("EVENT_AGGREGATOR_URL").pipe(
    Config.validate({ message: "must be an absolute http or https URL", validation: (url) => Either.isRight(checkBaseUrl(url)) })
  ),
  apiKey: Config.option(Config.redacted("EVENT_AGGREGATOR_API_KEY")),
  timeout: Config.option(Config.duration("EVENT_AGGREGATOR_TIMEOUT")),
  retries: Config.option(
    Config.integer("EVENT_AGGREGATOR_RETRIES").pipe(
      Config.validate({ message: "must be 0 or more", validation: (n) => n >= 0 })
    )
  )
}).pipe(Config.map((c): Options => ({
  baseUrl: c.baseUrl,
  ...(Option.isSome(c.apiKey) ? { apiKey: c.apiKey.value } : {}),
  ...(Option.isSome(c.timeout) ? { timeout: c.timeout.value } : {}),
  ...(Option.isSome(c.retries) ? { retry: { times: c.retries.value } } : {})
})))

/**
 * The client with its settings read from `settings` (by default `config`: the environment).
 *
 * @since 0.1.0
 */
export const layerConfig = (
  settings: Config.Config<Options> = config
): Layer.Layer<EventAggregatorClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(EventAggregatorClient, Effect.flatMap(settings, make))
