// Idempotency-Key on POST /publish: real HTTP on an ephemeral port, real SQLite files, a spawned
// server killed between the commit and the answer.
import { EventStore, MemoryEventStore } from "@event-aggregator/core"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { event, freshTopic, getJson, publish, quiet, request, spawnScoped, startServer, tempDir } from "./utils.js"

const keyed = (key: string, headers: Record<string, string> = {}) => ({ "idempotency-key": key, ...headers })

/** The raw answer: status, headers and the body's exact text. */
const raw = (base: string, body: string, headers: Record<string, string>, query = "detail=true") =>
  Effect.promise(() =>
    fetch(`${base}/publish?${query}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body })
      .then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() }))
  )

/** A memory store whose appends wait for `gate` (and say so on `entered`). */
const gatedStore = (entered: Deferred.Deferred<void>, gate: Deferred.Deferred<void>) =>
  Layer.effect(
    EventStore.EventStore,
    Effect.map(MemoryEventStore.make, (store) => ({
      ...store,
      append: (events: Parameters<typeof store.append>[0], idempotent?: Parameters<typeof store.append>[1]) =>
        Effect.zipRight(Effect.zipRight(Deferred.succeed(entered, undefined), Deferred.await(gate)), store.append(events, idempotent))
    }))
  )

describe("Idempotency-Key", () => {
  it.scoped("same key, same body: the stored answer byte for byte with Idempotent-Replayed, nothing counted again", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      const body = JSON.stringify([event(topic, "a"), event(topic, "b"), event(topic, "a")])
      const first = yield* raw(url, body, keyed("key-1"))
      assert.strictEqual(first.status, 200)
      assert.isNull(first.headers.get("idempotent-replayed"))
      assert.deepStrictEqual(JSON.parse(first.text).results, [
        { index: 0, status: "accepted", seq: 1 },
        { index: 1, status: "accepted", seq: 2 },
        { index: 2, status: "duplicate", seq: 1 }
      ])
      const again = yield* raw(url, body, keyed("key-1"))
      assert.strictEqual(again.status, 200)
      assert.strictEqual(again.headers.get("idempotent-replayed"), "true")
      assert.strictEqual(again.text, first.text)
      const stats = (yield* getJson(url, "/stats")).body
      assert.strictEqual(stats.received, 3)
      assert.strictEqual(stats.duplicate_dropped, 1)
      assert.match((yield* request(`${url}/metrics`)).body, /^event_aggregator_idempotent_replays_total(\{[^}]*\})? [1-9]/m)
      // Without the key the same body is a business retry: counted, as duplicates.
      const plain = yield* publish(url, JSON.parse(body))
      assert.deepStrictEqual(plain.body, { received: 3, accepted: 0, duplicates: 3, conflicts: 0 })
    }).pipe(Effect.provide(quiet)))

  it.scoped("same key, another body or other parameters: 422 IdempotencyKeyReused, nothing stored", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      yield* raw(url, JSON.stringify(event(topic, "a")), keyed("k"))
      const other = yield* raw(url, JSON.stringify(event(topic, "b")), keyed("k"))
      assert.strictEqual(other.status, 422)
      assert.strictEqual(JSON.parse(other.text).error, "IdempotencyKeyReused")
      const summary = yield* raw(url, JSON.stringify(event(topic, "a")), keyed("k"), "detail=false")
      assert.strictEqual(summary.status, 422)
      assert.strictEqual((yield* getJson(url, "/stats")).body.received, 1)
      assert.strictEqual((yield* getJson(url, `/events/${topic}/b`)).status, 404)
    }).pipe(Effect.provide(quiet)))

  it.scoped("a bad key (empty, over 255 characters) or a key with ack=queued: 400, nothing stored", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      const body = JSON.stringify(event(topic, "a"))
      for (const key of ["", "x".repeat(256)]) {
        const bad = yield* raw(url, body, keyed(key))
        assert.strictEqual(bad.status, 400, key)
        assert.include(JSON.parse(bad.text).message, "Idempotency-Key")
      }
      const queued = yield* raw(url, body, keyed("k"), "ack=queued")
      assert.strictEqual(queued.status, 400)
      assert.include(JSON.parse(queued.text).message, "ack=durable")
      assert.strictEqual((yield* getJson(url, "/stats")).body.received, 0)
      assert.strictEqual((yield* raw(url, body, keyed("x".repeat(255)))).status, 200)
    }).pipe(Effect.provide(quiet)))

  it.scoped("an invalid body is not stored: the key's retry with a fixed body is processed", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      const invalid = yield* raw(url, JSON.stringify({ topic }), keyed("k"))
      assert.strictEqual(invalid.status, 422)
      assert.strictEqual(JSON.parse(invalid.text).error, "InvalidEvents")
      // Same body again: still invalid (not a replay of a stored answer).
      assert.isNull((yield* raw(url, JSON.stringify({ topic }), keyed("k"))).headers.get("idempotent-replayed"))
      const fixed = yield* raw(url, JSON.stringify(event(topic, "a")), keyed("k"))
      assert.strictEqual(fixed.status, 200)
    }).pipe(Effect.provide(quiet)))

  it.scoped("concurrent requests with one key: exactly one is processed, the others get 409 with Retry-After", () =>
    Effect.gen(function*() {
      const entered = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const { url } = yield* startServer({ store: gatedStore(entered, gate) })
      const topic = freshTopic()
      const body = JSON.stringify([event(topic, "a"), event(topic, "b")])
      const first = yield* Effect.fork(raw(url, body, keyed("same")))
      yield* Deferred.await(entered)
      const others = yield* Effect.all(Array.from({ length: 8 }, () => raw(url, body, keyed("same"))), { concurrency: "unbounded" })
      for (const other of others) {
        assert.strictEqual(other.status, 409)
        assert.strictEqual(other.headers.get("retry-after"), "1")
        assert.strictEqual(JSON.parse(other.text).error, "IdempotencyKeyInUse")
      }
      yield* Deferred.succeed(gate, undefined)
      const done = yield* Fiber.join(first)
      assert.strictEqual(done.status, 200)
      const replay = yield* raw(url, body, keyed("same"))
      assert.strictEqual(replay.headers.get("idempotent-replayed"), "true")
      assert.strictEqual(replay.text, done.text)
      assert.strictEqual((yield* getJson(url, "/stats")).body.received, 2)
    }).pipe(Effect.provide(quiet)))

  it.scoped("with an API key: keys are scoped to it, and replayed for it", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer({ server: { apiKey: Option.some(Redacted.make("secret")) } })
      const topic = freshTopic()
      const body = JSON.stringify(event(topic, "a"))
      const auth = { authorization: "Bearer secret" }
      assert.strictEqual((yield* raw(url, body, keyed("k", auth))).status, 200)
      const again = yield* raw(url, body, keyed("k", auth))
      assert.strictEqual(again.headers.get("idempotent-replayed"), "true")
      assert.strictEqual((yield* raw(url, body, keyed("k"))).status, 401)
    }).pipe(Effect.provide(quiet)))

  it.scoped("the OpenAPI document has the header, 409 and 422 answers and IDEMPOTENCY_TTL", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const doc = (yield* request(`${url}/openapi.json`)).body
      const op = doc.paths["/publish"].post
      const header = op.parameters.find((p: any) => p.name === "idempotency-key")
      assert.strictEqual(header.in, "header")
      assert.include(header.description, "IDEMPOTENCY_TTL")
      assert.property(op.responses, "409")
      assert.property(op.responses["409"].headers, "Retry-After")
      assert.include(JSON.stringify(op.responses["422"]), "IdempotencyKeyReused")
      assert.property(op.responses["200"].headers, "Idempotent-Replayed")
    }).pipe(Effect.provide(quiet)))
})

describe("Idempotency-Key across a crash", () => {
  const start = spawnScoped

  it.scopedLive("SIGKILL after the commit, before the answer: the retry gets the committed answer, replayed", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const db = Path.join(dir, "dedup.sqlite")
      const marker = Path.join(dir, "committed")
      const topic = freshTopic()
      const body = JSON.stringify([event(topic, "a"), event(topic, "b")])
      const first = yield* start({ DEDUP_DB_PATH: db, SQLITE_WRITER: "thread", EVENT_AGGREGATOR_TEST_HOLD_COMMITTED: `${topic}:${marker}` })
      // The answer never comes: the writer holds after the commit until the process is killed.
      yield* Effect.fork(Effect.either(raw(first.url, body, keyed("crash-key"))))
      yield* Effect.retry(
        Effect.suspend(() => Fs.existsSync(marker) ? Effect.void : Effect.fail("not yet")),
        Schedule.spaced("20 millis").pipe(Schedule.upTo("20 seconds"))
      )
      first.process.kill("SIGKILL")
      yield* Effect.promise(() => first.exited)

      const second = yield* start({ DEDUP_DB_PATH: db })
      const retry = yield* raw(second.url, body, keyed("crash-key"))
      assert.strictEqual(retry.status, 200)
      assert.strictEqual(retry.headers.get("idempotent-replayed"), "true")
      assert.deepStrictEqual(JSON.parse(retry.text), {
        received: 2,
        accepted: 2,
        duplicates: 0,
        conflicts: 0,
        results: [{ index: 0, status: "accepted", seq: 1 }, { index: 1, status: "accepted", seq: 2 }]
      })
      const stats = (yield* getJson(second.url, "/stats")).body
      assert.strictEqual(stats.received, 2)
      assert.strictEqual(stats.duplicate_dropped, 0)
    }))
})
