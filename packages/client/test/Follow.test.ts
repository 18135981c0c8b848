// `follow` against fake event streams (node:http, written with the Sse encoder the server uses):
// what a real server cannot be made to do on cue (go silent, answer 502, send a bad event).
import { Client } from "@event-aggregator/client"
import { assert, describe, it } from "@effect/vitest"
import * as Sse from "@effect/experimental/Sse"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import type * as Http from "node:http"
import { setTimeout as delay } from "node:timers/promises"
import { fakeServer, reply } from "./utils.js"

/** The head of a stream as the contract says: 200, text/event-stream, `retry: 2000` first. */
const open = (res: Http.ServerResponse) => {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
  res.write(Sse.encoder.write(new Sse.Retry({ duration: Duration.millis(2000), lastEventId: undefined })))
}

const message = (seq: number, data: string) => Sse.encoder.write({ _tag: "Event", event: "message", id: String(seq), data })

const storedText = (seq: number, payload: string) =>
  `{"topic":"orders","event_id":"e${seq}","timestamp":"2025-01-31T12:00:00Z","source":"shop","payload":${payload},"seq":${seq},"received_at":"2025-01-31T12:00:01.000Z"}`

const clientOf = (baseUrl: string) => Client.make({ baseUrl }).pipe(Effect.provide(FetchHttpClient.layer))

describe("follow (fake event streams)", () => {
  it.scoped("a connection silent for 45 s (not even a keep-alive) is dropped and resumed after the last event", () =>
    Effect.gen(function*() {
      const fake = yield* fakeServer((_, res, n) => {
        open(res)
        res.write(message(n + 1, storedText(n + 1, "{}"))) // then silence
      })
      const client = yield* clientOf(fake.url)
      const notices: Array<Client.Reconnect> = []
      const first = yield* Deferred.make<void>()
      const follower = yield* client.follow({ after: 0, onReconnect: (r) => Effect.sync(() => notices.push(r)) }).pipe(
        Stream.tap(() => Deferred.succeed(first, undefined)),
        Stream.take(2),
        Stream.runCollect,
        Effect.fork
      )
      yield* Deferred.await(first)
      // The test clock moves only when told: 45 s at a time until the follower has reconnected
      // (the idle timeout, then the server's `retry: 2000`).
      while (fake.requests.length < 2) {
        yield* TestClock.adjust("45 seconds")
        yield* Effect.promise(() => delay(10))
      }
      const events = yield* Fiber.join(follower)
      assert.deepStrictEqual(Chunk.toArray(Chunk.map(events, (e) => e.seq)), [1, 2])
      assert.strictEqual(fake.requests[1]!.headers["last-event-id"], "1")
      const [notice] = notices
      assert.strictEqual(notice?.error.message, "nothing received for 45s")
      assert.strictEqual(notice?.error._tag === "RequestError" && notice.error.reason, "Timeout")
      assert.strictEqual(Duration.toMillis(notice!.delay), 2000, "at least the server's retry: 2000")
      assert.strictEqual(notice?.after, 1)
    }))

  it.scopedLive("a proxy's 502 is waited out; an event that is not a stored event ends the stream", () =>
    Effect.gen(function*() {
      const fake = yield* fakeServer((_, res, n) => {
        if (n === 0) return reply(res, 502, "<html>bad gateway</html>", { "retry-after": "0" })
        open(res)
        res.write(message(5, storedText(5, "{\"n\": 123456789012345678901234567890}")))
        res.write(message(6, "{\"seq\": 6}"))
      })
      const client = yield* clientOf(fake.url)
      const notices: Array<Client.Reconnect> = []
      const seen: Array<Client.StoredEvent> = []
      const error = yield* client.follow({ after: 4, onReconnect: (r) => Effect.sync(() => notices.push(r)) }).pipe(
        Stream.runForEach((e) => Effect.sync(() => seen.push(e))),
        Effect.flip
      )
      assert.deepStrictEqual(seen.map((e) => e.payload), ["{\"n\": 123456789012345678901234567890}"])
      assert.strictEqual(error._tag, "ResponseError")
      assert.match(error.message, /^unexpected event from the server: /)
      assert.strictEqual(notices.length, 1)
      assert.deepStrictEqual(
        notices[0]!.error._tag === "Unavailable" && [notices[0]!.error.error, notices[0]!.error.status],
        ["BadGateway", 502]
      )
      assert.strictEqual(fake.requests.length, 2, "a bad event is not reconnected for")
      assert.strictEqual(fake.requests[1]!.headers["last-event-id"], "4")
    }))
})
