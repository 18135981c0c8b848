/**
 * Following a server's log over SSE (`GET /events/stream`): every event once, in seq order, across
 * dropped connections, 503s and network errors; a refusal (400, 401, ...) ends it with the
 * server's message.
 */
import type { Event } from "@event-aggregator/core"
import * as Sse from "@effect/experimental/Sse"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Remote from "./remote.js"

/** The server's route (not yet in its `Api`: a raw `text/event-stream` response). */
export const PATH = "/events/stream"

/**
 * The server writes a keep-alive comment every 15 s: nothing at all for this long means the
 * connection is dead without having said so (a laptop that slept, a NAT that forgot it).
 */
const IDLE = Duration.seconds(45)

/** Reconnection backoff: doubling from `BACKOFF_BASE`, each wait capped here (a follower waits out long outages). */
const BACKOFF_CAP = Duration.seconds(10)

/**
 * Statuses worth another connection: 503 is the server's "later" (Retry-After); 502 and 504 are
 * what a proxy in front of a restarting server answers.
 */
const RETRYABLE_STATUS = new Set([502, 503, 504])

export interface Options {
  readonly topic: string | undefined
  readonly after: number | "now"
  /** Told each time the follower reconnects: why, and when (for stderr). */
  readonly onReconnect: (message: string) => Effect.Effect<void>
}

const again = (message: string, retryAfter: Duration.Duration): Remote.Failure => ({ message, retryable: true, retryAfter })
const final = (message: string): Remote.Failure => ({ message, retryable: false, retryAfter: Duration.zero })

const seconds = (d: Duration.Duration) => `${(Duration.toMillis(d) / 1000).toFixed(1)}s`

/** An answer other than 200: the server's `{"error", "message"}` body, and whether to come back (at least Retry-After later). */
const refusal = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<Remote.Failure> =>
  Effect.map(Remote.describeStatus(response), (message) =>
    RETRYABLE_STATUS.has(response.status)
      ? again(message, Remote.retryAfterOf(response.headers["retry-after"], Date.now()))
      : final(message))

/**
 * The events of one response body. Parsed with `Sse.makeParser` rather than `Sse.makeChannel`:
 * the channel answers a `retry:` field by pausing the stream for that long and restarting its
 * parser, and the server sends `retry: 2000` first on every connection.
 */
const eventsOf = (
  body: Stream.Stream<Uint8Array, HttpClientError.ResponseError>,
  take: (event: Sse.AnyEvent, out: Array<Event.StoredEvent>) => Remote.Failure | undefined
): Stream.Stream<Event.StoredEvent, Remote.Failure> =>
  Stream.suspend(() => {
    const parsed: Array<Sse.AnyEvent> = []
    const parser = Sse.makeParser((event) => {
      parsed.push(event)
    })
    // Fatal: a byte that is not UTF-8 would otherwise become U+FFFD in a payload printed as exact.
    const decoder = new TextDecoder("utf-8", { fatal: true })
    return body.pipe(
      Stream.mapError((error) => again(`the connection dropped (${error.message})`, Duration.zero)),
      Stream.timeoutFail(() => again(`nothing received for ${Duration.format(IDLE)}`, Duration.zero), IDLE),
      Stream.mapChunksEffect((chunks) => {
        const out: Array<Event.StoredEvent> = []
        for (const bytes of chunks) {
          let text: string
          try {
            text = decoder.decode(bytes, { stream: true })
          } catch {
            return Effect.fail(final("the server sent bytes that are not UTF-8"))
          }
          const tooLarge = parser.feed(text)
          if (tooLarge !== undefined) return Effect.fail(final(`unexpected answer from the server: ${tooLarge.message}`))
          for (const event of parsed.splice(0)) {
            const failure = take(event, out)
            if (failure !== undefined) return Effect.fail(failure)
          }
        }
        return Effect.succeed(Chunk.unsafeFromArray(out))
      })
    )
  })

/**
 * Every event after `after` (of `topic` if given) as the server commits it, until interrupted.
 * When the connection drops, the server ends the stream (shutdown), answers 503, or cannot be
 * reached, it connects again after a backoff (at least the server's `retry:` or `Retry-After`),
 * sending `Last-Event-ID` = the seq of the last event this stream gave out, so nothing is given
 * twice or skipped. The one exception: following from `"now"`, a connection lost before its first
 * event can only start from "now" again.
 */
export const follow = (
  baseUrl: string,
  apiKey: Option.Option<Redacted.Redacted<string>>,
  options: Options
): Stream.Stream<Event.StoredEvent, Remote.RemoteError, HttpClient.HttpClient> =>
  Stream.unwrap(Effect.gen(function*() {
    const http = (yield* HttpClient.HttpClient).pipe(
      HttpClient.mapRequest(HttpClientRequest.prependUrl(baseUrl)),
      HttpClient.mapRequest((request) =>
        Option.isSome(apiKey) ? HttpClientRequest.bearerToken(request, apiKey.value) : request
      )
    )
    /** The seq of the last event given out; where the next connection resumes. */
    let last = options.after
    let connections = 0
    /** The server's reconnection time (`retry:`): the least wait before connecting again. */
    let reconnectAfter = Duration.zero

    const take = (event: Sse.AnyEvent, out: Array<Event.StoredEvent>): Remote.Failure | undefined => {
      if (event._tag === "Retry") {
        reconnectAfter = event.duration
        return undefined
      }
      if (event.event !== "message") return undefined
      const stored = Remote.storedOf(event.data)
      if (Either.isLeft(stored)) return final(stored.left)
      const e = stored.right
      // Given out already: nothing is printed twice, whatever the other side replays.
      if (typeof last === "number" && e.seq <= last) return undefined
      last = e.seq
      out.push(e)
      return undefined
    }

    const connect = Stream.unwrapScoped(Effect.gen(function*() {
      const resume = connections++ > 0 && typeof last === "number"
      const request = HttpClientRequest.get(PATH).pipe(
        HttpClientRequest.setUrlParams({
          ...(options.topic === undefined ? {} : { topic: options.topic }),
          after: String(options.after)
        }),
        HttpClientRequest.setHeader("accept", "text/event-stream"),
        // The contract's way to resume: it takes precedence over `after`.
        resume ? HttpClientRequest.setHeader("last-event-id", String(last)) : (r) => r
      )
      const response = yield* http.execute(request).pipe(
        Effect.timeoutFail({ duration: IDLE, onTimeout: () => again(`no answer in ${Duration.format(IDLE)}`, Duration.zero) }),
        Effect.mapError((error) =>
          HttpClientError.isHttpClientError(error)
            ? error._tag === "RequestError" && error.reason === "Transport"
              ? again(`cannot reach the server: ${error.message}`, Duration.zero)
              : final(error.message)
            : error
        )
      )
      if (response.status !== 200) return yield* Effect.flatMap(refusal(response), Effect.fail)
      const type = response.headers["content-type"] ?? ""
      if (!type.startsWith("text/event-stream")) {
        return yield* Effect.fail(final(`the server answered ${PATH} with ${type || "no content type"}, not an event stream`))
      }
      // A response that ends was ended by the server (shutdown): resume like after a drop.
      return Stream.concat(
        eventsOf(response.stream, take),
        Stream.fail(again("the server ended the stream", Duration.zero))
      )
    }))

    // Stream.retry starts the schedule over once an event gets through: backoff grows only over
    // connections that deliver nothing.
    const policy = Schedule.exponential(Remote.BACKOFF_BASE).pipe(
      Schedule.either(Schedule.spaced(BACKOFF_CAP)),
      Schedule.jittered,
      Schedule.zipRight(Schedule.identity<Remote.Failure>()),
      Schedule.whileInput((failure: Remote.Failure) => failure.retryable),
      Schedule.modifyDelayEffect((failure, delay) => {
        const wait = Duration.max(Duration.max(delay, failure.retryAfter), reconnectAfter)
        const from = typeof last === "number" ? `after seq ${last}` : "from now"
        return Effect.as(options.onReconnect(`${failure.message}; reconnecting in ${seconds(wait)}, ${from}`), wait)
      })
    )

    return connect.pipe(
      Stream.retry(policy),
      Stream.mapError((failure) => new Remote.RemoteError({ message: failure.message }))
    )
  }))
