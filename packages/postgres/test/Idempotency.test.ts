// Idempotency-Key records shared by instances: two aggregators, each on its own store (own pool),
// on one PostgreSQL schema.
import { Aggregator, AggregatorConfig, Idempotency } from "@event-aggregator/core"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { Client } from "pg"
import * as PostgresEventStore from "../src/PostgresEventStore.js"
import { available, baseUrl, dropSchemas, freshSchema, urlFor } from "./utils.js"

const reachable = await available()
afterAll(dropSchemas)

const instance = (schema: string) =>
  Effect.map(
    Layer.build(Aggregator.layer.pipe(
      Layer.provide(PostgresEventStore.layerWith({ url: urlFor(schema) })),
      Layer.provide(AggregatorConfig.layer())
    )),
    (ctx) => ctx.unsafeMap.get(Aggregator.Aggregator.key) as Aggregator.Aggregator["Type"]
  )

const event = (topic: string, event_id: string) => ({
  topic,
  event_id,
  timestamp: "2025-01-31T12:00:00Z",
  source: "pg",
  payload: '{"n":1}' as never
})

const request = (key: string, body: string): Idempotency.Request => ({
  scope: "",
  key,
  fingerprint: Idempotency.fingerprint([body]),
  detail: true
})

describe.skipIf(!reachable)("Idempotency-Key on PostgreSQL, across instances", () => {
  it.scopedLive("a retry on another instance is replayed; another body is refused; in flight elsewhere is refused", () =>
    Effect.gen(function*() {
      const schema = yield* Effect.promise(() => freshSchema())
      const a = yield* instance(schema)
      const b = yield* instance(schema)
      const events = Effect.succeed([event("orders", "1"), event("orders", "2"), event("orders", "1")])

      const first = yield* a.publishIdempotent(request("k1", "body"), events)
      assert.isFalse(first.replayed)
      const onB = yield* b.publishIdempotent(request("k1", "body"), events)
      assert.isTrue(onB.replayed)
      assert.strictEqual(onB.body, first.body)
      assert.deepStrictEqual(JSON.parse(first.body).results, [
        { index: 0, status: "accepted", seq: 1 },
        { index: 1, status: "accepted", seq: 2 },
        { index: 2, status: "duplicate", seq: 1 }
      ])
      const reused = yield* Effect.flip(b.publishIdempotent(request("k1", "other"), events))
      assert.strictEqual(reused._tag, "IdempotencyKeyReused")

      // k2 in flight on A (its events wait on a latch): B is told so, and processes nothing.
      const entered = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      let runs = 0
      const held = Effect.gen(function*() {
        runs++
        yield* Deferred.succeed(entered, undefined)
        yield* Deferred.await(release)
        return [event("orders", "3")]
      })
      const onA = yield* Effect.fork(a.publishIdempotent(request("k2", "b"), held))
      yield* Deferred.await(entered)
      const busy = yield* Effect.flip(b.publishIdempotent(request("k2", "b"), held))
      assert.strictEqual(busy._tag, "IdempotencyKeyInUse")
      yield* Deferred.succeed(release, undefined)
      const done = yield* Fiber.join(onA)
      const replay = yield* b.publishIdempotent(request("k2", "b"), held)
      assert.isTrue(replay.replayed)
      assert.strictEqual(replay.body, done.body)
      assert.strictEqual(runs, 1)
    }))

  it.scopedLive("a failed request releases its claim; a claim older than a minute is taken over", () =>
    Effect.gen(function*() {
      const schema = yield* Effect.promise(() => freshSchema())
      const a = yield* instance(schema)
      const b = yield* instance(schema)
      const failed = yield* Effect.flip(a.publishIdempotent(request("k", "b"), Effect.fail("invalid" as const)))
      assert.strictEqual(failed, "invalid")
      assert.isFalse((yield* b.publishIdempotent(request("k", "b"), Effect.succeed([event("t", "1")]))).replayed)

      // An instance that died holding a claim: a fresh claim refuses, an old one is taken over.
      const admin = new Client({ connectionString: baseUrl })
      yield* Effect.acquireRelease(Effect.promise(() => admin.connect()), () => Effect.promise(() => admin.end()))
      yield* Effect.promise(() =>
        admin.query(`INSERT INTO ${schema}.idempotency_keys (scope, key, claim, expires_at) VALUES ('', 'dead', gen_random_uuid(), 9e15)`)
      )
      const busy = yield* Effect.flip(a.publishIdempotent(request("dead", "b"), Effect.succeed([event("t", "2")])))
      assert.strictEqual(busy._tag, "IdempotencyKeyInUse")
      yield* Effect.promise(() =>
        admin.query(`UPDATE ${schema}.idempotency_keys SET claimed_at = now() - interval '61 seconds' WHERE key = 'dead'`)
      )
      const taken = yield* a.publishIdempotent(request("dead", "b"), Effect.succeed([event("t", "2")]))
      assert.isFalse(taken.replayed)
      assert.isTrue((yield* b.publishIdempotent(request("dead", "b"), Effect.succeed([event("t", "2")]))).replayed)
    }))
})
