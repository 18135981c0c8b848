// The CLI against fake servers (node:http): retries per request, refusals, publish's self-check,
// and payload text sent and printed exactly.
import { Event } from "@event-aggregator/core"
import { assert, describe, it } from "@effect/vitest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { setTimeout as delay } from "node:timers/promises"
import * as Remote from "../src/internal/remote.js"
import { cli, type Fake, fakeServer, type Request, statsBody } from "./utils.js"

const withFake = <A>(fake: Promise<Fake>, f: (fake: Fake) => Promise<A>) =>
  fake.then((server) => f(server).finally(() => server.close()))

const busy = (seconds: number, error = "QueueFull") => ({
  status: 503,
  headers: { "retry-after": String(seconds) },
  body: { error, message: "the queue is full; retry later", capacity: 10 }
})

const accepted = (n: number) => ({ status: 200, body: { received: n, accepted: n, duplicates: 0, conflicts: 0 } })

const event = (id: string): Event.Event =>
  Either.getOrThrow(
    Event.validate([{ topic: "t", event_id: id, timestamp: "2025-01-31T12:00:00Z", source: "s", payload: {} }], Event.defaultLimits)
  )[0]!

describe("remote client", () => {
  it.effect("concurrent requests each wait their own Retry-After, not each other's", () =>
    Effect.gen(function*() {
      // Batch a is told to come back in 1 s, batch b in 3 s; then both are accepted.
      const batchOf = (r: Request) => (r.body.includes("\"event_id\":\"a\"") ? "a" : "b")
      const fake = yield* Effect.promise(() =>
        fakeServer((request, previous) =>
          previous.some((p) => batchOf(p) === batchOf(request)) ? accepted(1) : busy(batchOf(request) === "a" ? 1 : 3)
        )
      )
      yield* Effect.addFinalizer(() => Effect.promise(() => fake.close()))
      const client = yield* Remote.make(fake.url, Option.none(), 5)
      const a = yield* Effect.fork(client.publish([event("a")]))
      const b = yield* Effect.fork(client.publish([event("b")]))
      // Both 503s have been read once both fibers sleep (a readiness probe on real time).
      while (Chunk.size(yield* TestClock.sleeps()) < 2) yield* Effect.promise(() => delay(5))
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
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))

  it.live("gives up after the given attempts with the server's reason; other refusals are not retried", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() =>
        fakeServer((request) =>
          request.path === "/stats"
            ? { status: 401, body: { error: "Unauthorized", message: "missing or wrong API key" } }
            : busy(0, "ShuttingDown")
        )
      )
      yield* Effect.addFinalizer(() => Effect.promise(() => fake.close()))
      const client = yield* Remote.make(fake.url, Option.none(), 3)

      const publish = yield* Effect.exit(client.publish([event("x")]))
      assert.deepStrictEqual(
        publish,
        Exit.fail(new Remote.RemoteError({ message: "ShuttingDown: the queue is full; retry later (gave up after 3 attempts)" }))
      )
      assert.strictEqual(fake.requests.length, 3)

      const stats = yield* Effect.exit(client.stats)
      assert.deepStrictEqual(stats, Exit.fail(new Remote.RemoteError({ message: "Unauthorized: missing or wrong API key" })))
      assert.strictEqual(fake.requests.length, 4, "a 401 is asked once")
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))

  it("Retry-After is read as seconds or as an HTTP date", () => {
    const now = Date.parse("2025-01-31T12:00:00Z")
    assert.strictEqual(Remote.retryAfterOf("2", now).toString(), "Duration(2s)")
    assert.strictEqual(Remote.retryAfterOf("Fri, 31 Jan 2025 12:00:05 GMT", now).toString(), "Duration(5s)")
    assert.strictEqual(Remote.retryAfterOf("soon", now).toString(), "Duration(1s)")
    assert.strictEqual(Remote.retryAfterOf(undefined, now).toString(), "Duration(1s)")
    assert.strictEqual(Remote.retryAfterOf("86400", now).toString(), "Duration(2m)")
  })
})

describe("event-aggregator against a fake server", () => {
  it("stats --url waits out two 503s with Retry-After: 1, then prints the answer", () =>
    withFake(
      fakeServer((_, previous) => (previous.length < 2 ? busy(1) : { status: 200, body: statsBody(7, 5, 2) })),
      async (fake) => {
        const r = await cli(["stats", "--url", fake.url, "--json"])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(JSON.parse(r.stdout).received, 7)
        const at = fake.requests.map((q) => q.at)
        assert.strictEqual(at.length, 3)
        assert.isAtLeast(at[1]! - at[0]!, 990, "the first retry waited Retry-After")
        assert.isAtLeast(at[2]! - at[1]!, 990, "the second retry waited Retry-After")
      }
    ))

  it("ingest --url stops at once on a refusal that is not a 503, with the server's message", () =>
    withFake(
      fakeServer(() => ({
        status: 422,
        body: { error: "InvalidEvents", message: "1 problem in the events: event 0 topic: bad", issues: [] }
      })),
      async (fake) => {
        const r = await cli(["ingest", "--url", fake.url, "--quiet", "-"], {
          input: `{"topic":"t","event_id":"1","timestamp":"2025-01-31T12:00:00Z","source":"s","payload":{}}\n`
        })
        assert.strictEqual(r.code, 1)
        assert.include(r.stderr, "InvalidEvents: 1 problem in the events: event 0 topic: bad")
        assert.strictEqual(fake.requests.length, 1)
      }
    ))

  /** A server whose /stats moves by what /publish received (`honest`), or never moves. */
  const publishTarget = (honest: boolean) => {
    const keys = new Set<string>()
    const counts = { received: 0, unique: 0, duplicates: 0 }
    return fakeServer((request) => {
      if (request.path === "/stats") return { status: 200, body: statsBody(counts.received, counts.unique, counts.duplicates) }
      const events = JSON.parse(request.body) as Array<{ topic: string; event_id: string; payload: unknown }>
      let fresh = 0
      for (const e of events) {
        const key = `${e.topic}/${e.event_id}`
        if (!keys.has(key)) fresh++
        keys.add(key)
      }
      if (honest) {
        counts.received += events.length
        counts.unique += fresh
        counts.duplicates += events.length - fresh
      }
      return {
        status: 200,
        body: { received: events.length, accepted: fresh, duplicates: events.length - fresh, conflicts: 0 }
      }
    })
  }

  it("publish's self-check passes when /stats moves by what was sent", () =>
    withFake(publishTarget(true), async (fake) => {
      const r = await cli(["publish", "--counts", "50", "--duplicates-ratio", "0.2", "--batch-size", "20", "--url", fake.url])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.include(r.stdout, "+50 received, +40 unique, +10 duplicates: OK")
      // The payloads went out as JSON objects (text spliced in), not as strings.
      const sent = JSON.parse(fake.requests.find((q) => q.path === "/publish")!.body)
      assert.deepStrictEqual(Object.keys(sent[0].payload), ["run", "i"])
    }))

  it("publish's self-check fails with exit 1 and a MISMATCH line when /stats does not move", () =>
    withFake(publishTarget(false), async (fake) => {
      const r = await cli(["publish", "--counts", "50", "--duplicates-ratio", "0.2", "--batch-size", "20", "--url", fake.url])
      assert.strictEqual(r.code, 1)
      assert.match(
        r.stdout,
        /^sent 50 events \(40 unique, 10 re-sent\) in 3 requests, .* server counted \+0 received, \+0 unique, \+0 duplicates: MISMATCH \(expected \+50 received, \+40 unique, \+10 duplicates\)$/m
      )
      assert.include(r.stderr, "1 run did not match")
      assert.strictEqual(fake.requests.filter((q) => q.path === "/publish").length, 3)
    }))

  it("ingest --url sends each payload's text exactly as it was in the file", () =>
    withFake(fakeServer(() => accepted(2)), async (fake) => {
      const payloads = [
        "{\"id\": 9223372036854775807, \"price\": 1.50, \"s\": \"caf\\u00e9 \\\"q\\\" \\/\"}",
        "{ \"n\" : [ -0, 1E+2, 123456789012345678901234567890 ] }"
      ]
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-remote-"))
      try {
        const file = Path.join(dir, "exact.json")
        Fs.writeFileSync(file, `[\n${payloads.map((p, i) => `  {"topic": "t", "event_id": "${i}", "timestamp": "2025-01-31T12:00:00Z", "source": "s", "payload": ${p}}`).join(",\n")}\n]\n`)
        const r = await cli(["ingest", "--url", fake.url, "--quiet", file])
        assert.strictEqual(r.code, 0, r.stderr)
        const body = fake.requests[0]!.body
        for (const p of payloads) assert.include(body, `"payload":${p}`)
      } finally {
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    }))

  it("events --url prints payloads exactly as the server returns them", () => {
    const payload = "{\"id\": 9223372036854775807, \"price\": 1.50, \"s\": \"caf\\u00e9\"}"
    const page = `{"events":[{"topic":"t","event_id":"1","timestamp":"2025-01-31T12:00:00Z","source":"s","payload":${payload},"seq":1,"received_at":"2025-01-31T12:00:01.000Z"}],"next_after":null}`
    return withFake(fakeServer(() => ({ status: 200, body: page })), async (fake) => {
      const json = await cli(["events", "--url", fake.url, "--json"])
      assert.strictEqual(json.code, 0, json.stderr)
      assert.strictEqual(json.stdout.trim(), page)
      const table = await cli(["events", "--url", fake.url])
      assert.match(table.stdout, /^1\s+t\s+1\s+2025-01-31T12:00:00Z\s+s\s+\{"id": 9223372036854775807, "price": 1\.50, "s": "caf\\u00e9"\}$/m)
      assert.strictEqual(fake.requests[0]!.query.get("limit"), "100")
    })
  })
})
