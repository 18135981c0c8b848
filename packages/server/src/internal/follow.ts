/**
 * Following the log over HTTP: the Server-Sent Events body of `GET /events/stream`, the wait of
 * `GET /events?wait=`, and the query schemas both read.
 */
import { type Event, EventJson, Page } from "@event-aggregator/core"
import * as Sse from "@effect/experimental/Sse"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import type * as Scope from "effect/Scope"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Api from "../Api.js"

/** How long an EventSource waits before reconnecting after the stream ends (the `retry:` field). */
export const RETRY_MILLIS = 2_000

/** A stream with nothing to say for this long gets a comment, so proxies keep the connection. */
export const HEARTBEAT_MILLIS = 15_000

const SEQ = /^\d{1,15}$/

/**
 * `wait` from query text: whole seconds from 0 to `MAX_WAIT_SECONDS`; missing or empty is 0 (answer
 * at once).
 */
export const WaitFromQuery = Schema.transformOrFail(
  Schema.UndefinedOr(Schema.String),
  Schema.Int.pipe(Schema.between(0, Api.MAX_WAIT_SECONDS)),
  {
    strict: true,
    decode: (text, _, ast) =>
      text === undefined || text === ""
        ? ParseResult.succeed(0)
        : /^\d{1,2}$/.test(text) && Number(text) <= Api.MAX_WAIT_SECONDS
        ? ParseResult.succeed(Number(text))
        : ParseResult.fail(
          new ParseResult.Type(ast, text, `wait must be an integer from 0 to ${Api.MAX_WAIT_SECONDS} (seconds), got ${JSON.stringify(text)}`)
        ),
    encode: (seconds) => ParseResult.succeed(String(seconds))
  }
)

/** Where a stream starts: after a seq or at `now`, of one topic or all (`Aggregator.FollowOptions`). */
export const Cursor = Schema.Struct({
  topic: Schema.optional(Schema.String),
  after: Schema.Union(Page.After, Schema.Literal("now"))
})

export type Cursor = typeof Cursor.Type

/**
 * A stream's cursor from its query text and its `Last-Event-ID` header: the header, when present
 * and not empty, is the cursor (an EventSource reconnecting sends the last `id:` it saw); else
 * `after`, a seq or `now` (missing or empty: 0). The error names what was sent.
 */
export const CursorFromRequest = Schema.transformOrFail(
  Schema.Struct({
    topic: Schema.optional(Schema.String),
    after: Schema.optional(Schema.String),
    lastEventId: Schema.optional(Schema.String)
  }),
  Cursor,
  {
    strict: true,
    decode: (request, _, ast) => {
      const after = Either.gen(function*() {
        if (request.lastEventId !== undefined && request.lastEventId !== "") {
          const id = request.lastEventId.trim()
          return SEQ.test(id) ? Number(id) : yield* Either.left(
            new ParseResult.Type(
              ast,
              request,
              `Last-Event-ID must be a seq (an integer of 0 or more), got ${JSON.stringify(request.lastEventId)}`
            )
          )
        }
        const text = request.after
        if (text === undefined || text === "") return 0
        if (text === "now") return "now" as const
        return SEQ.test(text) ? Number(text) : yield* Either.left(
          new ParseResult.Type(ast, request, `after must be an integer of 0 or more, or "now", got ${JSON.stringify(text)}`)
        )
      })
      return Either.map(after, (after) => (request.topic === undefined ? { after } : { topic: request.topic, after }))
    },
    encode: (cursor) =>
      ParseResult.succeed({
        ...(cursor.topic === undefined ? {} : { topic: cursor.topic }),
        after: String(cursor.after)
      })
  }
)

/** A query the schema refuses, as the API's 400 body (its first problem, as `GET /events` says it). */
export const badRequest = (error: ParseResult.ParseError): typeof Api.BadRequest.Type => ({
  error: "BadRequest",
  message: ParseResult.ArrayFormatter.formatErrorSync(error)[0]?.message ?? "bad query parameters"
})

const utf8 = new TextEncoder()

const retry = utf8.encode(Sse.encoder.write(new Sse.Retry({ duration: Duration.millis(RETRY_MILLIS), lastEventId: undefined })))

const keepAlive = utf8.encode(": keep-alive\n\n")

/** `event: pruned` with `{"pruned_before": n}`: events after the cursor and below `n` were removed by retention. */
const pruned = (before: number): Uint8Array => utf8.encode(`event: pruned\ndata: {"pruned_before":${before}}\n\n`)

/**
 * One SSE message. The encoder splits `data` at each `\n`; a payload's JSON text may also hold
 * `\r` between tokens, which SSE would read as a line end of its own, so line ends become `\n`
 * (whitespace only: every value arrives exactly as stored).
 */
const message = (event: Event.StoredEvent): string => {
  const json = EventJson.stringifyStored(event)
  return Sse.encoder.write({
    _tag: "Event",
    event: "message",
    id: String(event.seq),
    data: json.includes("\r") ? json.replace(/\r\n?/g, "\n") : json
  })
}

/**
 * A chunk's messages as one buffer, encoded once per chunk: the followers of one topic (or of all)
 * receive a commit's events as the same array, so 200 followers cost one encoding, not 200. Keyed
 * by that array (by the event when the chunk holds one): one entry per chunk, and one string and
 * one buffer per chunk. Measured with 100 followers (bench case 7): a buffer and a cache entry per
 * event made encoding and the garbage collector a quarter of the server's time.
 */
const encoded = new WeakMap<object, Uint8Array>()

const messagesBytes = (events: Chunk.Chunk<Event.StoredEvent>): Uint8Array => {
  const key: object = events.length === 1 ? Chunk.unsafeGet(events, 0) : Chunk.toReadonlyArray(events)
  let bytes = encoded.get(key)
  if (bytes === undefined) {
    let text = ""
    for (const event of events) text += message(event)
    bytes = utf8.encode(text)
    encoded.set(key, bytes)
  }
  return bytes
}

/**
 * The `GET /events/stream` response for `events` (a follower's stream): `retry:` (with `id:
 * startId` when given: where a reconnect resumes before any event arrived), then one message
 * per event, a `: keep-alive` comment after `HEARTBEAT_MILLIS` without a message, until `events`
 * ends, fails (the store: logged, and the client resumes from its last id) or `until` completes
 * (shutdown). Its fibers live in the request's scope: they stop when the response ends or the
 * client goes away.
 *
 * The first pull happens here, in the request's scope, before any byte is written: it admits the
 * follower (`MAX_FOLLOWERS`) and reads the first catch-up page from the store, and the follower
 * stream gives that page at once (even empty), so a refusal or a store failure is a proper 503 and
 * not a stream that ends after its 200.
 */
export const eventStream = <E>(
  events: Stream.Stream<Event.StoredEvent, E>,
  until: Effect.Effect<void>,
  startId?: number,
  prunedBefore?: number
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, Scope.Scope> =>
  Effect.gen(function*() {
    const pull = yield* Stream.toPull(events)
    const first = yield* Effect.catchAll(pull, Option.match({
      onNone: () => Effect.succeed(undefined), // ended before it began (the aggregator is closing)
      onSome: Effect.fail
    }))
    // The messages go through a small mailbox: a socket that does not keep up stops the follower
    // from pulling (it then reads the store, never slowing publishers), and the heartbeat and the
    // end at shutdown join the same line. (Measured with 200 live followers, one run each on a
    // shared 2-core box: Stream.merge with the heartbeat let publishers commit ~1,400 events/s,
    // the mailbox ~2,500.)
    const outbox = yield* Mailbox.make<Uint8Array>({ capacity: 4 })
    let lastWrite = yield* Clock.currentTimeMillis
    if (first === undefined) yield* outbox.end
    else {
      yield* Effect.forkScoped(Effect.gen(function*() {
        let chunk = first
        for (;;) {
          if (chunk.length > 0) {
            lastWrite = yield* Clock.currentTimeMillis
            yield* outbox.offer(messagesBytes(chunk))
          }
          const next = yield* Effect.either(pull)
          if (Either.isLeft(next)) {
            // The store failed: the stream ends, and the client resumes from its last id.
            if (Option.isSome(next.left)) yield* Effect.logWarning("an event stream ended: reading the log failed", next.left.value)
            return
          }
          chunk = next.right
        }
      }).pipe(Effect.ensuring(outbox.end)))
    }
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const due = lastWrite + HEARTBEAT_MILLIS - now
      if (due > 0) return Effect.sleep(Duration.millis(due))
      lastWrite = now
      return outbox.offer(keepAlive)
    })))
    yield* Effect.forkScoped(Effect.zipRight(until, outbox.end))

    // An `id:` in a block with no data is no message, but it sets the client's last event id;
    // before `retry:`, so parsers that report `retry:` with the last id (Effect's Sse) see it too.
    const begin = startId === undefined ? retry : Buffer.concat([utf8.encode(`id: ${startId}\n`), retry])
    // The cursor lies before events retention removed: say so once, then the stream continues
    // from the oldest stored event.
    const start = prunedBefore === undefined ? begin : Buffer.concat([begin, pruned(prunedBefore)])
    const body = Stream.concat(Stream.succeed(start), Mailbox.toStream(outbox))
    return HttpServerResponse.stream(body, {
      contentType: "text/event-stream",
      headers: {
        "cache-control": "no-cache",
        // Reverse proxies (nginx) would otherwise buffer the stream.
        "x-accel-buffering": "no"
      }
    })
  })

/**
 * Waits until `events` (a follower's stream) gives its first event, `seconds` run out or `until`
 * completes (shutdown), whichever is first.
 */
export const firstEvent = <E>(
  events: Stream.Stream<Event.StoredEvent, E>,
  seconds: number,
  until: Effect.Effect<void>
): Effect.Effect<Option.Option<Event.StoredEvent>, E> =>
  events.pipe(
    Stream.interruptWhen(until),
    Stream.runHead,
    Effect.timeoutTo({
      duration: Duration.seconds(seconds),
      onSuccess: (head) => head,
      onTimeout: () => Option.none()
    })
  )
