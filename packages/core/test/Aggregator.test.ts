import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Path from "node:path"
import * as Aggregator from "../src/Aggregator.js"
import * as AggregatorConfig from "../src/AggregatorConfig.js"
import * as MemoryEventStore from "../src/MemoryEventStore.js"
import * as SqliteEventStore from "../src/SqliteEventStore.js"
import { event, freshTopic, model, tempDir } from "./utils.js"

const onFile = (dbPath: string, settings: Partial<AggregatorConfig.Settings> = {}) =>
  Aggregator.layer.pipe(
    Layer.provide(SqliteEventStore.layer),
    Layer.provide(AggregatorConfig.layer({ dbPath, ...settings }))
  )

const inMemory = (settings: Partial<AggregatorConfig.Settings> = {}) =>
  Aggregator.layer.pipe(Layer.provide(MemoryEventStore.layer), Layer.provide(AggregatorConfig.layer(settings)))

/** Runs `f` with an aggregator built from `layer`, closing it (drain + close) afterwards. */
const using = <A, E, E2>(
  layer: Layer.Layer<Aggregator.Aggregator, E2>,
  f: (aggregator: Aggregator.Aggregator["Type"]) => Effect.Effect<A, E>
) => Effect.scoped(Effect.flatMap(Layer.build(layer), (ctx) => Effect.flatMap(Effect.provide(Aggregator.Aggregator, ctx), f)))

const assertInvariant = (stats: Aggregator.Stats) =>
  assert.strictEqual(stats.received, stats.unique_processed + stats.duplicate_dropped + stats.pending)

const stores = [
  { name: "memory", make: (_dir: string, settings: Partial<AggregatorConfig.Settings> = {}) => inMemory(settings) },
  {
    name: "sqlite",
    make: (dir: string, settings: Partial<AggregatorConfig.Settings> = {}) =>
      onFile(Path.join(dir, `${freshTopic("db")}.sqlite`), settings)
  }
] as const

describe("Aggregator", () => {
  for (const subject of stores) {
    describe(`${subject.name} store`, () => {
      it.scoped("publish returns one outcome per event and keeps the stats invariant", () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          yield* using(subject.make(dir), (agg) =>
            Effect.gen(function*() {
              const topic = freshTopic()
              const outcomes = yield* agg.publish([event(topic, "1"), event(topic, "2"), event(topic, "1")])
              assert.deepStrictEqual(Aggregator.summarize(outcomes), {
                received: 3,
                accepted: 2,
                duplicates: 1,
                conflicts: 0
              })
              const stats = yield* agg.stats
              assert.strictEqual(stats.received, 3)
              assert.strictEqual(stats.unique_processed, 2)
              assert.strictEqual(stats.duplicate_dropped, 1)
              assert.strictEqual(stats.pending, 0)
              assert.deepStrictEqual(stats.topics, [topic])
              assert.deepStrictEqual(stats.per_topic[topic], { unique_processed: 2, duplicate_dropped: 1, conflicts: 0 })
              assert.strictEqual(stats.workers, 2)
              assert.strictEqual(stats.queue_capacity, null)
              assertInvariant(stats)
            }))
        }))

      it.effect.prop(
        "random publish sequences: distinct keys stored once, in first-publish order; stats match",
        [FastCheck.array(
          FastCheck.array(
            FastCheck.record({
              topic: FastCheck.constantFrom("a", "b", "c"),
              id: FastCheck.integer({ min: 0, max: 9 }),
              variant: FastCheck.integer({ min: 0, max: 1 })
            }),
            { minLength: 1, maxLength: 10 }
          ),
          { minLength: 1, maxLength: 10 }
        )],
        ([requests]) =>
          Effect.scoped(Effect.gen(function*() {
            const dir = yield* tempDir
            const run = freshTopic("p")
            const groups = requests.map((r) => r.map((g) => event(`${run}-${g.topic}`, `e${g.id}`, { v: g.variant })))
            const expected = model(groups)
            yield* using(subject.make(dir), (agg) =>
              Effect.gen(function*() {
                // Sequential publishes: each request's outcomes are those of the model.
                for (let i = 0; i < groups.length; i++) {
                  const outcomes = yield* agg.publish(groups[i]!)
                  assert.deepStrictEqual(outcomes.map((o) => o.status), expected.statuses[i])
                  assertInvariant(yield* agg.stats)
                }
                const stats = yield* agg.stats
                const total = groups.reduce((n, g) => n + g.length, 0)
                assert.strictEqual(stats.received, total)
                assert.strictEqual(stats.unique_processed, expected.first.size)
                for (const [topic, ids] of expected.order) {
                  const page = yield* agg.events({ topic, after: 0, limit: 1000 })
                  assert.deepStrictEqual(page.events.map((e) => e.event_id), ids)
                  assert.deepStrictEqual(stats.per_topic[topic], expected.perTopic.get(topic))
                }
              }))
          })),
        { fastCheck: { numRuns: 25 } }
      )

      it.scoped("many fibers publishing overlapping keys at once: each key is stored once", () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          yield* using(subject.make(dir, { workerCount: 4 }), (agg) =>
            Effect.gen(function*() {
              const topic = freshTopic()
              const publishers = Array.from({ length: 40 }, (_, p) =>
                agg.publish(Array.from({ length: 50 }, (_, i) => event(topic, `k${(p * 7 + i) % 120}`))))
              const results = yield* Effect.all(publishers, { concurrency: "unbounded" })
              const accepted = results.flat().filter((o) => o.status === "accepted").length
              assert.strictEqual(accepted, 120)
              const page = yield* agg.events({ topic, after: 0, limit: 1000 })
              assert.strictEqual(page.events.length, 120)
              assert.strictEqual(new Set(page.events.map((e) => e.event_id)).size, 120)
              const stats = yield* agg.stats
              assert.strictEqual(stats.received, 2000)
              assert.strictEqual(stats.unique_processed, 120)
              assert.strictEqual(stats.duplicate_dropped, 1880)
              assertInvariant(stats)
            }))
        }))

      it.scoped("the stats invariant holds while publishes are in flight", () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          yield* using(subject.make(dir), (agg) =>
            Effect.gen(function*() {
              const topic = freshTopic()
              const load = yield* Effect.fork(Effect.all(
                Array.from({ length: 30 }, (_, p) =>
                  agg.publish(Array.from({ length: 100 }, (_, i) => event(topic, `k${(p * 31 + i) % 500}`)))),
                { concurrency: 10 }
              ))
              let samples = 0
              while (samples < 200) {
                assertInvariant(yield* agg.stats)
                samples++
                yield* Effect.yieldNow()
              }
              yield* Fiber.join(load)
              assertInvariant(yield* agg.stats)
            }))
        }))

      it.scoped("a request larger than the whole queue fails with BatchTooLarge and changes nothing", () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          yield* using(subject.make(dir, { queueMaxSize: 5 }), (agg) =>
            Effect.gen(function*() {
              const topic = freshTopic()
              const exit = yield* Effect.exit(agg.publish(Array.from({ length: 6 }, (_, i) => event(topic, `${i}`))))
              assert.isTrue(Exit.isFailure(exit))
              const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
              assert.instanceOf(error, Aggregator.BatchTooLarge)
              const stats = yield* agg.stats
              assert.strictEqual(stats.received, 0)
              assert.strictEqual(stats.queue_capacity, 5)
              const ok = yield* agg.publish(Array.from({ length: 5 }, (_, i) => event(topic, `${i}`)))
              assert.strictEqual(ok.length, 5)
            }))
        }))
    })
  }

  it.scoped("restart on the same file: duplicates still rejected, counters and seq continue", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "restart.sqlite")
      const topic = freshTopic()
      const first = yield* using(onFile(file), (agg) =>
        Effect.gen(function*() {
          const outcomes = yield* agg.publish([event(topic, "1"), event(topic, "2"), event(topic, "2")])
          // Queued events must be committed by the close below.
          yield* agg.enqueue([event(topic, "3"), event(topic, "1")])
          return outcomes
        }))
      yield* using(onFile(file), (agg) =>
        Effect.gen(function*() {
          const before = yield* agg.stats
          assert.strictEqual(before.received, 5)
          assert.strictEqual(before.unique_processed, 3)
          assert.strictEqual(before.duplicate_dropped, 2)
          assert.strictEqual(before.pending, 0)
          const outcomes = yield* agg.publish([event(topic, "1"), event(topic, "3"), event(topic, "4", { new: true })])
          assert.deepStrictEqual(outcomes.map((o) => o.status), ["duplicate", "duplicate", "accepted"])
          assert.strictEqual(outcomes[0]!.seq, first[0]!.seq)
          assert.isTrue(outcomes[2]!.seq > first[1]!.seq)
          const after = yield* agg.stats
          assert.strictEqual(after.received, 8)
          assert.deepStrictEqual(after.per_topic[topic], { unique_processed: 4, duplicate_dropped: 4, conflicts: 0 })
          const page = yield* agg.events({ topic, after: 0, limit: 10 })
          assert.deepStrictEqual(page.events.map((e) => e.event_id), ["1", "2", "3", "4"])
          assert.strictEqual(page.next_after, null)
        }))
    }))

  it.scoped("queued events are on disk after a graceful close", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "drain.sqlite")
      const topic = freshTopic()
      yield* using(onFile(file, { workerCount: 1 }), (agg) =>
        Effect.gen(function*() {
          for (let i = 0; i < 50; i++) {
            yield* agg.enqueue(Array.from({ length: 100 }, (_, j) => event(topic, `${i}-${j}`)))
          }
        }))
      yield* using(onFile(file), (agg) =>
        Effect.gen(function*() {
          const stats = yield* agg.stats
          assert.strictEqual(stats.unique_processed, 5000)
          assert.strictEqual(stats.received, 5000)
        }))
    }))

  it.scoped("events pages: next_after is the last seq when more follows, null at the end", () =>
    Effect.gen(function*() {
      yield* using(inMemory(), (agg) =>
        Effect.gen(function*() {
          const topic = freshTopic()
          yield* agg.publish(Array.from({ length: 5 }, (_, i) => event(topic, `${i}`)))
          const first = yield* agg.events({ topic, after: 0, limit: 2 })
          assert.strictEqual(first.events.length, 2)
          assert.strictEqual(first.next_after, first.events[1]!.seq)
          const second = yield* agg.events({ topic, after: first.next_after!, limit: 3 })
          assert.deepStrictEqual(second.events.map((e) => e.event_id), ["2", "3", "4"])
          assert.strictEqual(second.next_after, null)
          assert.isTrue(Option.isSome(yield* agg.get({ topic, event_id: "4" })))
          assert.isTrue(Option.isNone(yield* agg.get({ topic, event_id: "5" })))
        }))
    }))

  it.scoped("after close begins, publishes fail with ShuttingDown", () =>
    Effect.gen(function*() {
      const layer = inMemory()
      let captured: Aggregator.Aggregator["Type"] | undefined
      yield* using(layer, (agg) => Effect.sync(() => { captured = agg }))
      const agg = captured!
      assert.isFalse(yield* agg.accepting)
      const exit = yield* Effect.exit(agg.publish([event(freshTopic(), "1")]))
      const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      assert.instanceOf(error, Aggregator.ShuttingDown)
    }))
})
