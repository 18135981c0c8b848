/**
 * Following a server's log over SSE (`GET /events/stream`): every event once, in seq order, across
 * dropped connections, 503s and network errors; a refusal (400, 401, ...) ends it.
 */
import type * as Schemas from "@event-aggregator/api/Schemas"
import * as Sse from "@effect/experimental/Sse"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { FollowOptions } from "../Client.js"
import { type ClientError, isRetryable, RequestError, ResponseError } from "../ClientError.js"
import { describe, noAnswer, refusal } from "./http.js"
import { retryAfter } from "./retry.js"
import { storedOf } from "./wire.js"

/**
 * The server writes a keep-alive comment every 15 s: nothing at all for this long means the
 * connection is dead without having said so (a laptop that slept, a NAT that forgot it).
 */
const IDLE = Duration.seconds(45)

/** Reconnection backoff: each wait capped here (a follower waits out long outages). */
const BACKOFF_CAP = Duration.seconds(10)

/**
 * Statuses worth another connection: 503 is the server's "later" (Retry-After); 502 and 504 are
 * what a proxy in front of a restarting server answers.
 */
const RETRYABLE_STATUS: ReadonlySet<number> = new Set([502, 503, 504])

const dropped = (message: string) => new RequestError({ reason: "Transport", message, attempts: 1 })
const unexpected = (message: string) => new ResponseError({ status: 200, message })

/** What one chunk of a response body gives: the events it completes, then a failure, if any. */
interface Step {
  readonly out: Array<Schemas.StoredEvent>
  readonly failure: ClientError | undefined
}

/**
 * The events of one response body. Parsed with `Sse.makeParser` rather than `Sse.makeChannel`:
 * the channel answers a `retry:` field by pausing the stream for that long and restarting its
 * parser, and the server sends `retry: 2000` first on every connection.
 */
const eventsOf = (
  body: Stream.Stream<Uint8Array, HttpClientError.ResponseError>,
  take: (event: Sse.AnyEvent, out: Array<Schemas.StoredEvent>) => ClientError | undefined
): Stream.Stream<Schemas.StoredEvent, ClientError> =>
  Stream.suspend(() => {
    const parsed: Array<Sse.AnyEvent> = []
    const parser = Sse.makeParser((event) => {
      parsed.push(event)
    })
    // Fatal: a byte that is not UTF-8 would otherwise become U+FFFD in a payload given out as exact.
    const decoder = new TextDecoder("utf-8", { fatal: true })
    return body.pipe(
      Stream.mapError((error): ClientError => dropped(`the connection dropped (${describe(error)})`)),
      Stream.timeoutFail(
        () => new RequestError({ reason: "Timeout", message: `nothing received for ${Duration.format(IDLE)}`, attempts: 1 }),
        IDLE
      ),
      // One step per chunk read from the network, not per event: the events it completes, then
      // the failure it holds, if any (events before a bad one are still given out).
      Stream.mapChunks((chunks): Chunk.Chunk<Step> => {
        const out: Array<Schemas.StoredEvent> = []
        for (const bytes of chunks) {
          let text: string
          try {
            text = decoder.decode(bytes, { stream: true })
          } catch {
            return Chunk.of({ out, failure: unexpected("the server sent bytes that are not UTF-8") })
          }
          const tooLarge = parser.feed(text)
          if (tooLarge !== undefined) {
            return Chunk.of({ out, failure: unexpected(`unexpected answer from the server: ${tooLarge.message}`) })
          }
          for (const event of parsed.splice(0)) {
            const failure = take(event, out)
            if (failure !== undefined) return Chunk.of({ out, failure })
          }
        }
        return Chunk.of({ out, failure: undefined })
      }),
      Stream.flatMap(({ failure, out }) =>
        failure === undefined
          ? Stream.fromChunk(Chunk.unsafeFromArray(out))
          : Stream.concat(Stream.fromChunk(Chunk.unsafeFromArray(out)), Stream.fail(failure))
      )
    )
  })

/**
 * Every event after `after` (of `topic` if given) as the server commits it, until interrupted.
 * When the connection drops, the server ends the stream (shutdown), answers 503, or cannot be
 * reached, it connects again after a backoff (at least the server's `retry:` or `Retry-After`),
 * sending `Last-Event-ID` = the seq of the last event this stream gave out, so nothing is given
 * twice or skipped. The one exception: following from `"now"`, a connection lost before its first
 * event can only start from "now" again.
 *
 * `http` prepends the base URL and adds the API key.
 */
export const follow = (
  http: HttpClient.HttpClient,
  path: string,
  base: Duration.Duration,
  options: FollowOptions
): Stream.Stream<Schemas.StoredEvent, ClientError> =>
  Stream.suspend(() => {
    const after = options.after ?? 0
    /** The seq of the last event given out; where the next connection resumes. */
    let last = after
    let connections = 0
    /** The server's reconnection time (`retry:`): the least wait before connecting again. */
    let reconnectAfter = Duration.zero

    const take = (event: Sse.AnyEvent, out: Array<Schemas.StoredEvent>): ClientError | undefined => {
      if (event._tag === "Retry") {
        reconnectAfter = event.duration
        return undefined
      }
      if (event.event !== "message") return undefined
      const stored = storedOf(event.data)
      if (Either.isLeft(stored)) return unexpected(`unexpected event from the server: ${stored.left}`)
      const e = stored.right
      // Given out already: nothing is given twice, whatever the other side replays.
      if (typeof last === "number" && e.seq <= last) return undefined
      last = e.seq
      out.push(e)
      return undefined
    }

    const connect = Stream.unwrapScoped(Effect.gen(function*() {
      const resume = connections++ > 0 && typeof last === "number"
      const request = HttpClientRequest.get(path).pipe(
        HttpClientRequest.setUrlParams({
          ...(options.topic === undefined ? {} : { topic: options.topic }),
          after: String(after)
        }),
        HttpClientRequest.setHeader("accept", "text/event-stream"),
        // The contract's way to resume: it takes precedence over `after`.
        resume ? HttpClientRequest.setHeader("last-event-id", String(last)) : (r) => r
      )
      const response = yield* http.execute(request).pipe(
        Effect.catchAll(noAnswer),
        Effect.timeoutFail({
          duration: IDLE,
          onTimeout: () => new RequestError({ reason: "Timeout", message: `no answer in ${Duration.format(IDLE)}`, attempts: 1 })
        })
      )
      if (response.status !== 200) return yield* Effect.flatMap(refusal(response, RETRYABLE_STATUS), Effect.fail)
      const type = response.headers["content-type"] ?? ""
      if (!type.startsWith("text/event-stream")) {
        return yield* Effect.fail(unexpected(`the server answered ${path} with ${type || "no content type"}, not an event stream`))
      }
      // A response that ends was ended by the server (shutdown): resume like after a drop.
      return Stream.concat(eventsOf(response.stream, take), Stream.fail(dropped("the server ended the stream")))
    }))

    // Stream.retry starts the schedule over once an event gets through: backoff grows only over
    // connections that deliver nothing.
    const policy = Schedule.exponential(base).pipe(
      Schedule.either(Schedule.spaced(BACKOFF_CAP)),
      Schedule.jittered,
      Schedule.zipRight(Schedule.identity<ClientError>()),
      Schedule.whileInput(isRetryable),
      Schedule.modifyDelayEffect((error, delay) => {
        const wait = Duration.max(Duration.max(delay, retryAfter(error)), reconnectAfter)
        const notice = options.onReconnect !== undefined && isRetryable(error)
          ? options.onReconnect({ error, delay: wait, after: last })
          : Effect.void
        return Effect.as(notice, wait)
      })
    )

    return Stream.retry(connect, policy)
  })
