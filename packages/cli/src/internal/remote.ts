/**
 * A client of a running server. Payloads travel as JSON text in both directions (never through
 * `JSON.parse`); each request retries its own 503s and network errors.
 */
import { Event, EventJson, Page } from "@event-aggregator/core"
import { Api } from "@event-aggregator/server"
import * as HttpApiClient from "@effect/platform/HttpApiClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import type * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"

/** The server refused, or could not be reached after every retry. */
export class RemoteError extends Data.TaggedError("RemoteError")<{ readonly message: string }> {}

/** Why one attempt failed, and whether (and how soon) it may be tried again. */
export interface Failure {
  readonly message: string
  readonly retryable: boolean
  /** The server's Retry-After (503 only); the next attempt waits at least this long. */
  readonly retryAfter: Duration.Duration
}

/** Backoff: 200 ms doubling, each wait capped at 5 s (before Retry-After, which may be longer). */
export const BACKOFF_BASE = Duration.millis(200)
const BACKOFF_CAP = Duration.seconds(5)
/** A Retry-After beyond this is read as this: a wrong header must not stall the CLI for hours. */
const RETRY_AFTER_CAP = Duration.minutes(2)
/** Without a readable Retry-After, a 503 waits this long (the server's own default). */
const RETRY_AFTER_DEFAULT = Duration.seconds(Api.RETRY_AFTER_SECONDS)

/** The 503 error bodies: every one of them is worth retrying. */
const RETRYABLE = new Set(["QueueFull", "ShuttingDown", "StoreUnavailable", "NotReady"])

/**
 * The retry policy of one request: exponential backoff capped at `BACKOFF_CAP`, at most
 * `attempts` tries in all, each wait at least the failed attempt's own Retry-After, and only
 * while the failure is retryable. Built per call, so concurrent requests never share a wait.
 */
export const policy = (attempts: number) =>
  Schedule.exponential(BACKOFF_BASE).pipe(
    Schedule.either(Schedule.spaced(BACKOFF_CAP)),
    Schedule.intersect(Schedule.recurs(Math.max(attempts - 1, 0))),
    Schedule.zipRight(Schedule.identity<Failure>()),
    Schedule.modifyDelay((failure, delay) => Duration.max(delay, failure.retryAfter)),
    Schedule.whileInput((failure: Failure) => failure.retryable)
  )

/** `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3), bounded by `RETRY_AFTER_CAP`. */
export const retryAfterOf = (header: string | undefined, now: number): Duration.Duration => {
  if (header === undefined) return RETRY_AFTER_DEFAULT
  const text = header.trim()
  const millis = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now
  return Number.isNaN(millis) ? RETRY_AFTER_DEFAULT : Duration.min(Duration.millis(Math.max(millis, 0)), RETRY_AFTER_CAP)
}

/** An error body of the API: `{"error": "<Tag>", "message": "..."}`. */
const ErrorBody = Schema.Struct({ error: Schema.String, message: Schema.String })
const isErrorBody = Schema.is(ErrorBody)

const fromBody = (text: string): string | undefined => {
  try {
    const body: unknown = JSON.parse(text)
    return isErrorBody(body) ? `${body.error}: ${body.message}` : undefined
  } catch {
    return undefined
  }
}

export const describeStatus = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(
    Effect.orElseSucceed(response.text, () => ""),
    (text) => fromBody(text) ?? `the server answered ${response.status} to ${response.request.method} ${response.request.url}`
  )

/** What went wrong in one attempt. Only 503s and failures to reach the server are retried. */
const classify = (error: unknown): Effect.Effect<Failure> => {
  const now = Date.now()
  const final = (message: string): Failure => ({ message, retryable: false, retryAfter: Duration.zero })
  if (HttpClientError.isHttpClientError(error)) {
    if (error._tag === "RequestError") {
      return Effect.succeed(
        error.reason === "Transport"
          ? { message: `cannot reach the server: ${error.message}`, retryable: true, retryAfter: Duration.zero }
          : final(error.message)
      )
    }
    if (error.reason === "StatusCode") {
      const response = error.response
      return Effect.map(describeStatus(response), (message) =>
        response.status === 503
          ? { message, retryable: true, retryAfter: retryAfterOf(response.headers["retry-after"], now) }
          : final(message))
    }
    return Effect.succeed(final(`unexpected answer from the server: ${error.message}`))
  }
  if (ParseResult.isParseError(error)) return Effect.succeed(final(`unexpected answer from the server: ${error.message}`))
  if (isErrorBody(error)) {
    return Effect.succeed({
      message: `${error.error}: ${error.message}`,
      retryable: RETRYABLE.has(error.error),
      retryAfter: RETRY_AFTER_DEFAULT
    })
  }
  if (error instanceof RemoteError) return Effect.succeed(final(error.message))
  return Effect.succeed(final(Predicate.hasProperty(error, "message") ? String(error.message) : String(error)))
}

/** Runs `effect` under `policy(attempts)`; safe for publishing because publishing is idempotent. */
const withRetries = <A, E, R>(effect: Effect.Effect<A, E, R>, attempts: number): Effect.Effect<A, RemoteError, R> =>
  Effect.suspend(() => {
    let tries = 0
    return Effect.suspend(() => {
      tries++
      return effect
    }).pipe(
      Effect.catchAll((error) => Effect.flatMap(classify(error), Effect.fail)),
      Effect.retry(policy(attempts)),
      Effect.mapError((failure) =>
        new RemoteError({
          message: failure.retryable && tries > 1 ? `${failure.message} (gave up after ${tries} attempts)` : failure.message
        })
      )
    )
  })

/** The body of `POST /publish`: the events as a JSON array, each payload's text spliced in as is. */
export const publishBody = (events: ReadonlyArray<Event.Event>): string => {
  let body = "["
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    body += `${i === 0 ? "" : ","}{"topic":${JSON.stringify(e.topic)},"event_id":${JSON.stringify(e.event_id)},"timestamp":${
      JSON.stringify(e.timestamp)
    },"source":${JSON.stringify(e.source)},"payload":${e.payload}}`
  }
  return `${body}]`
}

const decodePublishResponse = Schema.decodeUnknown(Schema.parseJson(Schema.Union(Api.PublishResult, Api.Queued)))

/** An event as `EventJson.parse` gives it, its payload (kept as `RawJson`) turned back into its text. */
const withPayloadText = (e: unknown): unknown => {
  if (!Predicate.isRecord(e) || !(e.payload instanceof EventJson.RawJson)) return e
  const raw = e.payload
  return { ...e, payload: raw.kind === "object" ? raw.text : undefined }
}

/** A page of `GET /events` from its text, payloads kept as the text the server sent. */
export const pageOf = (text: string): Either.Either<Page.Page, string> => {
  const parsed = EventJson.parse(text)
  if (Either.isLeft(parsed)) return Either.left(`unexpected answer from the server: ${parsed.left.message}`)
  const body = parsed.right
  if (!Predicate.isRecord(body) || !Array.isArray(body.events)) {
    return Either.left("unexpected answer from the server: no events array")
  }
  return Either.mapLeft(
    Schema.decodeUnknownEither(Page.Page)({ ...body, events: body.events.map(withPayloadText) }),
    (error) => `unexpected answer from the server: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
  )
}

const decodeStored = Schema.decodeUnknownEither(Event.StoredEvent)

/** One stored event from its JSON text (the data of a stream message), the payload kept as the text the server sent. */
export const storedOf = (text: string): Either.Either<Event.StoredEvent, string> => {
  const parsed = EventJson.parse(text)
  if (Either.isLeft(parsed)) return Either.left(`unexpected event from the server: ${parsed.left.message}`)
  return Either.mapLeft(
    decodeStored(withPayloadText(parsed.right)),
    (error) => `unexpected event from the server: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
  )
}

/** `attempts`: tries per call before giving up (writers retry longer than readers). */
export const make = (baseUrl: string, apiKey: Option.Option<Redacted.Redacted<string>>, attempts = 10) =>
  Effect.gen(function*() {
    // A 503 becomes a ResponseError before anything decodes it: the error keeps the response, so
    // each request reads its own Retry-After (HttpApiClient would turn it into a bare body).
    const transform = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
      client.pipe(
        HttpClient.mapRequest((request) =>
          Option.isSome(apiKey) ? HttpClientRequest.bearerToken(request, apiKey.value) : request
        ),
        HttpClient.filterStatus((status) => status !== 503)
      )
    const api = yield* HttpApiClient.make(Api.Api, { baseUrl, transformClient: transform })
    // Publishing and listing carry payload text, which HttpApiClient would JSON.parse (rounding
    // int64s): those two requests are made here, on the paths the Api declares.
    const http = transform(yield* HttpClient.HttpClient).pipe(
      HttpClient.mapRequest(HttpClientRequest.prependUrl(baseUrl))
    )
    const path = (name: "publish" | "list") => Api.EventsApi.endpoints[name]!.path
    const failUnlessOk = (response: HttpClientResponse.HttpClientResponse) =>
      response.status >= 200 && response.status < 300
        ? Effect.succeed(response)
        : Effect.flatMap(describeStatus(response), (message) => Effect.fail(new RemoteError({ message })))

    return {
      publish: (events: ReadonlyArray<Event.Event>, detail = false) => {
        const request = HttpClientRequest.post(path("publish")).pipe(
          // Always durable: a count is only known once committed, whatever the server's ACK_MODE.
          HttpClientRequest.setUrlParams(detail ? { ack: "durable", detail: "true" } : { ack: "durable" }),
          HttpClientRequest.bodyText(publishBody(events), "application/json")
        )
        return withRetries(
          http.execute(request).pipe(
            Effect.flatMap(failUnlessOk),
            Effect.flatMap((response) => response.text),
            Effect.flatMap(decodePublishResponse),
            Effect.scoped
          ),
          attempts
        )
      },
      stats: withRetries(api.events.stats(), attempts),
      events: (params: { readonly topic?: string | undefined; readonly after: number; readonly limit: number }) => {
        const request = HttpClientRequest.get(path("list")).pipe(HttpClientRequest.setUrlParams({
          ...(params.topic === undefined ? {} : { topic: params.topic }),
          after: String(params.after),
          limit: String(params.limit)
        }))
        return withRetries(
          http.execute(request).pipe(
            Effect.flatMap(failUnlessOk),
            Effect.flatMap((response) => response.text),
            Effect.flatMap((text) => Either.mapLeft(pageOf(text), (message) => new RemoteError({ message }))),
            Effect.scoped
          ),
          attempts
        )
      }
    }
  })
