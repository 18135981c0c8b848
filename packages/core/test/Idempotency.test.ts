import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as TestClock from "effect/TestClock"
import * as Path from "node:path"
import * as Aggregator from "../src/Aggregator.js"
import * as AggregatorConfig from "../src/AggregatorConfig.js"
import * as Idempotency from "../src/Idempotency.js"
import { EventStore as MemoryEventStoreTag } from "../src/EventStore.js"
import * as MemoryEventStore from "../src/MemoryEventStore.js"
import * as SqliteEventStore from "../src/SqliteEventStore.js"
import { event, freshTopic, tempDir, using } from "./utils.js"

const subjects = [
  {
    name: "memory",
    make: (_dir: string, settings: Partial<AggregatorConfig.Settings> = {}) =>
      Aggregator.layer.pipe(Layer.provide(MemoryEventStore.layer), Layer.provide(AggregatorConfig.layer(settings)))
  },
  ...(["thread", "inline"] as const).map((writer) => ({
    name: `sqlite (${writer} writer)`,
    make: (dir: string, settings: Partial<AggregatorConfig.Settings> = {}) =>
      Aggregator.layer.pipe(
        Layer.provide(SqliteEventStore.layer),
        Layer.provide(AggregatorConfig.layer({ dbPath: Path.join(dir, "db.sqlite"), sqliteWriter: writer, ...settings }))
      )
  }))
]

const request = (key: string, body: string, detail = true): Idempotency.Request => ({
  scope: "",
  key,
  fingerprint: Idempotency.fingerprint([body]),
  detail
})

describe("Idempotency-Key", () => {
  it("keys of 1 to 255 characters; durations like 90s, 24h, 30d", () => {
    assert.isUndefined(Idempotency.checkKey("a"))
    assert.isUndefined(Idempotency.checkKey("x".repeat(255)))
    assert.isString(Idempotency.checkKey(""))
    assert.isString(Idempotency.checkKey("x".repeat(256)))
    assert.strictEqual(Idempotency.parseDuration("90s"), 90_000)
    assert.strictEqual(Idempotency.parseDuration("24h"), 86_400_000)
    assert.strictEqual(Idempotency.parseDuration("30d"), 30 * 86_400_000)
    assert.isUndefined(Idempotency.parseDuration("1 fortnight"))
    assert.notStrictEqual(Idempotency.fingerprint(["ab", "c"]), Idempotency.fingerprint(["a", "bc"]))
  })

  it.effect("IDEMPOTENCY_TTL from the environment: a duration (default 24h); anything else is refused naming it", () =>
    Effect.gen(function*() {
      const read = (env: Record<string, string>) =>
        Effect.withConfigProvider(
          Effect.scoped(Effect.map(Layer.build(AggregatorConfig.layerFromEnv()), (ctx) => Context.get(ctx, AggregatorConfig.AggregatorConfig))),
          ConfigProvider.fromMap(new Map(Object.entries(env)))
        )
      assert.strictEqual((yield* read({})).idempotencyTtl, 24 * 3_600_000)
      assert.strictEqual((yield* read({ IDEMPOTENCY_TTL: "90s" })).idempotencyTtl, 90_000)
      assert.strictEqual((yield* read({ IDEMPOTENCY_TTL: "30d" })).idempotencyTtl, 30 * 86_400_000)
      const bad = yield* Effect.flip(read({ IDEMPOTENCY_TTL: "forever" }))
      assert.include(AggregatorConfig.describeError(bad), "IDEMPOTENCY_TTL")
      const short = yield* Effect.flip(read({ IDEMPOTENCY_TTL: "10ms" }))
      assert.include(AggregatorConfig.describeError(short), "IDEMPOTENCY_TTL: must be a duration of at least 1s")
    }))

  for (const subject of subjects) {
    describe(`${subject.name} store`, () => {
      it.scoped("same key and body: the stored response is replayed and nothing is counted again", () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          const topic = freshTopic()
          yield* using(subject.make(dir), (aggregator) =>
            Effect.gen(function*() {
              let runs = 0
              const events = Effect.sync(() => {
                runs++
                return [event(topic, "a"), event(topic, "b"), event(topic, "a")]
              })
              const first = yield* aggregator.publishIdempotent(request("k1", "body"), events)
              assert.isFalse(first.replayed)
              assert.strictEqual(first.status, 200)
              assert.deepStrictEqual(JSON.parse(first.body), {
                received: 3,
                accepted: 2,
                duplicates: 1,
                conflicts: 0,
                results: [
                  { index: 0, status: "accepted", seq: 1 },
                  { index: 1, status: "accepted", seq: 2 },
                  { index: 2, status: "duplicate", seq: 1 }
                ]
              })
              const replays = (yield* Metric.value(Aggregator.metrics.replayed)).count
              const again = yield* aggregator.publishIdempotent(request("k1", "body"), events)
              assert.isTrue(again.replayed)
              assert.strictEqual((yield* Metric.value(Aggregator.metrics.replayed)).count, replays + 1)
              assert.strictEqual(again.body, first.body)
              assert.strictEqual(runs, 1)
              const stats = yield* aggregator.stats
              assert.strictEqual(stats.received, 3)
              assert.strictEqual(stats.duplicate_dropped, 1)

              const other = yield* Effect.flip(aggregator.publishIdempotent(request("k1", "other body"), events))
              assert.strictEqual(other._tag, "IdempotencyKeyReused")
              assert.strictEqual(runs, 1)
              // Another key is another request: the same events are business duplicates now.
              const fresh = yield* aggregator.publishIdempotent(request("k2", "body", false), events)
              assert.deepStrictEqual(JSON.parse(fresh.body), { received: 3, accepted: 0, duplicates: 3, conflicts: 0 })
            })
          )
        }))

      it.scoped("same key while the first is in flight: KeyInUse, and only the first is processed", () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          const topic = freshTopic()
          yield* using(subject.make(dir), (aggregator) =>
            Effect.gen(function*() {
              const entered = yield* Deferred.make<void>()
              const release = yield* Deferred.make<void>()
              let runs = 0
              const events = Effect.gen(function*() {
                runs++
                yield* Deferred.succeed(entered, undefined)
                yield* Deferred.await(release)
                return [event(topic, "a")]
              })
              const first = yield* Effect.fork(aggregator.publishIdempotent(request("k", "b"), events))
              yield* Deferred.await(entered)
              const second = yield* Effect.flip(aggregator.publishIdempotent(request("k", "b"), events))
              assert.strictEqual(second._tag, "IdempotencyKeyInUse")
              yield* Deferred.succeed(release, undefined)
              const done = yield* Fiber.join(first)
              assert.isFalse(done.replayed)
              assert.strictEqual(runs, 1)
              const replay = yield* aggregator.publishIdempotent(request("k", "b"), events)
              assert.isTrue(replay.replayed)
              assert.strictEqual((yield* aggregator.stats).received, 1)
            })
          )
        }))

      it.scoped("a request that fails stores nothing: the key is free for its retry", () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          const topic = freshTopic()
          yield* using(subject.make(dir), (aggregator) =>
            Effect.gen(function*() {
              const failed = yield* Effect.flip(aggregator.publishIdempotent(request("k", "b"), Effect.fail("invalid" as const)))
              assert.strictEqual(failed, "invalid")
              const retry = yield* aggregator.publishIdempotent(request("k", "b"), Effect.succeed([event(topic, "a")]))
              assert.isFalse(retry.replayed)
              assert.strictEqual(JSON.parse(retry.body).accepted, 1)
            })
          )
        }))

      it.scoped("a record expires after IDEMPOTENCY_TTL (TestClock): the key is then a new request", () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          const topic = freshTopic()
          yield* using(subject.make(dir, { idempotencyTtl: 60 * 60 * 1000 }), (aggregator) =>
            Effect.gen(function*() {
              const events = Effect.succeed([event(topic, "a")])
              yield* aggregator.publishIdempotent(request("k", "b"), events)
              yield* TestClock.adjust("59 minutes")
              assert.isTrue((yield* aggregator.publishIdempotent(request("k", "b"), events)).replayed)
              yield* TestClock.adjust("1 minute")
              const after = yield* aggregator.publishIdempotent(request("k", "other"), events)
              assert.isFalse(after.replayed)
              assert.deepStrictEqual(JSON.parse(after.body).results, [{ index: 0, status: "duplicate", seq: 1 }])
              assert.strictEqual((yield* aggregator.stats).received, 2)
            })
          )
        }))
    })
  }

  it.scoped("SQLite: a stored response survives a restart on the same file", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const topic = freshTopic()
      const layer = subjects[1]!.make(dir)
      const events = Effect.succeed([event(topic, "a"), event(topic, "b")])
      const first = yield* using(layer, (aggregator) => aggregator.publishIdempotent(request("k", "b"), events))
      const again = yield* using(layer, (aggregator) =>
        Effect.zip(aggregator.publishIdempotent(request("k", "b"), events), aggregator.stats))
      assert.isTrue(again[0].replayed)
      assert.strictEqual(again[0].body, first.body)
      assert.strictEqual(again[1].received, 2)
    }))

  it.scoped("expired records are purged in the background (memory, TestClock)", () =>
    Effect.gen(function*() {
      const store = yield* MemoryEventStore.make
      const layer = Aggregator.layer.pipe(
        Layer.provide(Layer.succeed(MemoryEventStoreTag, store)),
        Layer.provide(AggregatorConfig.layer({ idempotencyTtl: 1000 }))
      )
      yield* using(layer, (aggregator) =>
        Effect.gen(function*() {
          yield* aggregator.publishIdempotent(request("k", "b"), Effect.succeed([event(freshTopic(), "a")]))
          // The record is there before its time is up.
          assert.strictEqual((yield* store.idempotency!.claim({ scope: "", key: "k" }, 0))._tag, "Stored")
          yield* TestClock.adjust("2 minutes")
          // The background purge ran: nothing is left to delete.
          assert.strictEqual(yield* store.idempotency!.purge(Number.MAX_SAFE_INTEGER, 10), 0)
        })
      )
    }))
})
