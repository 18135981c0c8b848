// Retries against fake servers (node:http): 503s waited out for their own Retry-After, network
// errors and timeouts tried again, every other answer final at the first attempt.
import { Client, ClientError } from "@event-aggregator/client"
import { assert, describe, it } from "@effect/vitest"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import type * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Net from "node:net"
import { setTimeout as delay } from "node:timers/promises"
import { retryAfterOf } from "../src/internal/retry.js"
import { event, fakeServer, reply, type Request } from "./utils.js"

const busy = (res: Http.ServerResponse, seconds: number, error = "QueueFull") =>
  reply(res, 503, { error, message: "the queue is full; retry later", capacity: 10 }, { "retry-after": String(seconds) })

const accepted = (res: Http.ServerResponse, n = 1) =>
  reply(res, 200, { received: n, accepted: n, duplicates: 0, conflicts: 0 })

const clientOf = (baseUrl: string, options: Partial<Client.Options> = {}) =>
  Client.make({ baseUrl, ...options }).pipe(Effect.provide(FetchHttpClient.layer))

describe("retries", () => {
  it.scopedLive("a 503 is asked again once its Retry-After has passed, with the same batch", () =>
    Effect.gen(function*() {
      const fake = yield* fakeServer((_, res, n) => (n === 0 ? busy(res, 1) : accepted(res)))
      const client = yield* clientOf(fake.url)
      const published = yield* client.publish(event("t", "1", "{\"id\":18446744073709551615}"))
      assert.strictEqual(published.accepted, 1)
      assert.strictEqual(fake.requests.length, 2)
      assert.isAtLeast(fake.requests[1]!.at - fake.requests[0]!.at, 990, "waited the Retry-After of 1 s")
      assert.strictEqual(fake.requests[1]!.body, fake.requests[0]!.body)
      assert.include(fake.requests[0]!.body, "\"payload\":{\"id\":18446744073709551615}")
      assert.strictEqual(fake.requests[0]!.query.get("ack"), "durable", "always explicit")
    }))

  it.scopedLive("a durable publish carries an Idempotency-Key, the same on its retries (a 409 retried too); each call its own", () =>
    Effect.gen(function*() {
      const fake = yield* fakeServer((_, res, n) =>
        n === 0
          ? busy(res, 0)
          : n === 1
          ? reply(res, 409, { error: "IdempotencyKeyInUse", message: "in flight" }, { "retry-after": "0" })
          : accepted(res))
      const client = yield* clientOf(fake.url, { retry: { times: 3, base: "1 millis" } })
      yield* client.publish(event("t", "1"))
      const keys = fake.requests.map((r) => r.headers["idempotency-key"])
      assert.strictEqual(keys.length, 3)
      assert.match(String(keys[0]), /^[0-9a-f-]{36}$/)
      assert.deepStrictEqual(new Set(keys).size, 1)
      yield* client.publish(event("t", "2"))
      assert.notStrictEqual(fake.requests[3]!.headers["idempotency-key"], keys[0])
      assert.match(String(fake.requests[3]!.headers["idempotency-key"]), /^[0-9a-f-]{36}$/)
      yield* client.publish(event("t", "3"), { idempotencyKey: "mine" })
      assert.strictEqual(fake.requests[4]!.headers["idempotency-key"], "mine")
      yield* client.publish(event("t", "4"), { ack: "queued" })
      assert.isUndefined(fake.requests[5]!.headers["idempotency-key"], "a queued ack stores no answer")
    }))

  it.scopedLive("every other refusal is final at once: 400, 401, 404, 413, 422, 500", () =>
    Effect.gen(function*() {
      const refusals = [
        [400, { error: "BadRequest", message: "limit must be an integer from 1 to 10000, got \"0\"" }, "BadRequest"],
        [401, { error: "Unauthorized", message: "missing or wrong API key" }, "Unauthorized"],
        [404, { error: "NotFound", message: "no such route" }, "ResponseError"],
        [413, { error: "PayloadTooLarge", message: "over 16 MiB", limit: 16777216 }, "PayloadTooLarge"],
        [422, {
          error: "InvalidEvents",
          message: "1 problem in the events: event 0 topic: must not be empty",
          issues: [{ index: 0, path: "topic", message: "must not be empty" }]
        }, "InvalidEvents"],
        [500, "<html>oops</html>", "ResponseError"]
      ] as const
      for (const [status, body, tag] of refusals) {
        const fake = yield* fakeServer((_, res) => reply(res, status, body))
        const client = yield* clientOf(fake.url, { retry: { times: 3, base: "1 millis" } })
        const error = yield* Effect.flip(client.publish(event("t", "1")))
        assert.strictEqual(error._tag, tag, `${status}`)
        assert.strictEqual(fake.requests.length, 1, `a ${status} is asked once`)
        if (error._tag === "InvalidEvents") assert.deepStrictEqual(error.issues, [{ index: 0, path: "topic", message: "must not be empty" }])
        if (error._tag === "PayloadTooLarge") assert.strictEqual(error.limit, 16777216)
        if (error._tag === "ResponseError") assert.strictEqual(error.status, status)
      }
    }))

  it.scopedLive("gives up after the given retries with the server's reason and the number of attempts", () =>
    Effect.gen(function*() {
      const fake = yield* fakeServer((_, res) => busy(res, 0, "ShuttingDown"))
      const client = yield* clientOf(fake.url, { retry: { times: 2, base: "1 millis" } })
      const error = yield* Effect.flip(client.stats)
      assert.instanceOf(error, ClientError.Unavailable)
      if (error._tag !== "Unavailable") return
      assert.deepStrictEqual(
        { error: error.error, status: error.status, attempts: error.attempts, retryAfterMillis: error.retryAfterMillis },
        { error: "ShuttingDown", status: 503, attempts: 3, retryAfterMillis: 0 }
      )
      assert.strictEqual(fake.requests.length, 3)
    }))

  it.scopedLive("connections that close without an answer are tried again, then fail with RequestError", () =>
    Effect.gen(function*() {
      let connections = 0
      const server = yield* Effect.acquireRelease(
        Effect.async<Net.Server>((resume) => {
          const s = Net.createServer((socket) => {
            connections++
            socket.destroy()
          })
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) =>
          Effect.async<void>((resume) => {
            s.close(() => resume(Effect.void))
          })
      )
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const client = yield* clientOf(url, { retry: { times: 2, base: "1 millis" } })
      const error = yield* Effect.flip(client.publish(event("t", "1")))
      assert.instanceOf(error, ClientError.RequestError)
      if (error._tag !== "RequestError") return
      assert.strictEqual(error.reason, "Transport")
      assert.strictEqual(error.attempts, 3)
      assert.strictEqual(connections, 3)
    }))

  it.scopedLive("an attempt that gets no answer within the timeout is abandoned and tried again", () =>
    Effect.gen(function*() {
      const held: Array<Http.ServerResponse> = []
      // The first request is never answered; the second is.
      const fake = yield* fakeServer((_, res, n) => (n === 0 ? held.push(res) : accepted(res)))
      const client = yield* clientOf(fake.url, { timeout: "200 millis", retry: { times: 1, base: "1 millis" } })
      const published = yield* client.publish(event("t", "1"))
      assert.strictEqual(published.accepted, 1)
      assert.strictEqual(fake.requests.length, 2)
      assert.isAtLeast(fake.requests[1]!.at - fake.requests[0]!.at, 190)

      const silent = yield* fakeServer((_, res) => held.push(res))
      const patient = yield* clientOf(silent.url, { timeout: "100 millis", retry: { times: 1, base: "1 millis" } })
      const error = yield* Effect.flip(patient.stats)
      assert.strictEqual(error._tag, "RequestError")
      if (error._tag === "RequestError") assert.deepStrictEqual([error.reason, error.attempts], ["Timeout", 2])
      assert.strictEqual(silent.requests.length, 2)
      for (const res of held) res.destroy()
    }))

  it.scoped("concurrent requests each wait their own Retry-After, not each other's", () =>
    Effect.gen(function*() {
      // Batch a is told to come back in 1 s, batch b in 3 s; then both are accepted.
      const batchOf = (r: Request) => (r.body.includes("\"event_id\":\"a\"") ? "a" : "b")
      const fake = yield* fakeServer((request, res) => {
        const earlier = fake.requests.filter((p) => batchOf(p) === batchOf(request)).length
        return earlier > 1 ? accepted(res) : busy(res, batchOf(request) === "a" ? 1 : 3)
      })
      const client = yield* clientOf(fake.url)
      const a = yield* Effect.fork(client.publish(event("t", "a")))
      const b = yield* Effect.fork(client.publish(event("t", "b")))
      // Both 503s have been read once both fibers sleep before retrying (a readiness probe on real
      // time; the attempts' 30 s timeouts are sleeps too).
      const retrySleeps = Effect.map(TestClock.sleeps(), Chunk.filter((wake) => wake <= 3000))
      while (Chunk.size(yield* retrySleeps) < 2) yield* Effect.promise(() => delay(5))
      const isA = (r: Request) => batchOf(r) === "a"
      const isB = (r: Request) => batchOf(r) === "b"

      yield* TestClock.adjust("999 millis")
      yield* Effect.promise(() => delay(50))
      assert.strictEqual(fake.requests.filter(isA).length, 1, "a waits its whole Retry-After")
      yield* TestClock.adjust("1 millis")
      yield* Effect.promise(() => fake.seen(2, isA))
      assert.strictEqual((yield* Fiber.join(a)).received, 1)
      assert.strictEqual(fake.requests.filter(isB).length, 1, "b has not retried after a's 1 s")

      yield* TestClock.adjust("1999 millis")
      yield* Effect.promise(() => delay(50))
      assert.strictEqual(fake.requests.filter(isB).length, 1, "b waits its own 3 s")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* Fiber.join(b)).received, 1)
      assert.strictEqual(fake.requests.length, 4)
    }))

  it("Retry-After is read as seconds or as an HTTP date, bounded", () => {
    const now = Date.parse("2025-01-31T12:00:00Z")
    assert.strictEqual(retryAfterOf("2", now).toString(), "Duration(2s)")
    assert.strictEqual(retryAfterOf("Fri, 31 Jan 2025 12:00:05 GMT", now).toString(), "Duration(5s)")
    assert.strictEqual(retryAfterOf("soon", now).toString(), "Duration(1s)")
    assert.strictEqual(retryAfterOf(undefined, now).toString(), "Duration(1s)")
    assert.strictEqual(retryAfterOf("86400", now).toString(), "Duration(2m)")
  })
})

describe("answers the client cannot use", () => {
  it.scopedLive("a 200 whose body is not what the contract says is a ResponseError, not retried", () =>
    Effect.gen(function*() {
      const fake = yield* fakeServer((request, res) =>
        reply(res, 200, request.path === "/events" ? "{\"events\": [{\"seq\": \"one\"}]" : { unexpected: true })
      )
      const client = yield* clientOf(fake.url)
      const page = yield* Effect.flip(client.events())
      assert.strictEqual(page._tag, "ResponseError")
      assert.match(page.message, /^unexpected answer from the server: /)
      const published = yield* Effect.flip(client.publish(event("t", "1")))
      assert.strictEqual(published._tag, "ResponseError")
      const stats = yield* Effect.flip(client.stats)
      assert.strictEqual(stats._tag, "ResponseError")
      assert.strictEqual(fake.requests.length, 3)
    }))
})
