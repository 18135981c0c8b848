// Following the log: every follower gets exactly the log's suffix after its cursor, in order, however
// its catch-up races the commits; a slow follower never slows publishers and still gets everything.
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Path from "node:path"
import * as Aggregator from "../src/Aggregator.js"
import * as AggregatorConfig from "../src/AggregatorConfig.js"
import type * as Event from "../src/Event.js"
import * as EventStore from "../src/EventStore.js"
import * as MemoryEventStore from "../src/MemoryEventStore.js"
import { createAggregator } from "../src/promise.js"
import * as SqliteEventStore from "../src/SqliteEventStore.js"
import { event, freshTopic, tempDir, using } from "./utils.js"

const stores = [
  { name: "memory", layer: (_dir: string, settings: Partial<AggregatorConfig.Settings> = {}) =>
    Aggregator.layer.pipe(Layer.provide(MemoryEventStore.layer), Layer.provide(AggregatorConfig.layer(settings))) },
  {
    name: "sqlite",
    layer: (dir: string, settings: Partial<AggregatorConfig.Settings> = {}) =>
      Aggregator.layer.pipe(
        Layer.provide(SqliteEventStore.layer),
        Layer.provide(AggregatorConfig.layer({ dbPath: Path.join(dir, `${freshTopic("f")}.sqlite`), ...settings }))
      )
  }
] as const

/** Runs `f` with an aggregator built from `layer`, closed afterwards. */
/** A follower running in the background, collecting what it gets. */
const collect = (stream: Stream.Stream<Event.StoredEvent, unknown>) =>
  Effect.gen(function*() {
    const got: Array<Event.StoredEvent> = []
    const fiber = yield* Effect.fork(Stream.runForEach(stream, (e) => Effect.sync(() => got.push(e))))
    return { got, fiber }
  })

/** Every stored event, in seq order, read page by page. */
const wholeLog = (agg: Aggregator.Aggregator["Type"]) =>
  Effect.gen(function*() {
    const all: Array<Event.StoredEvent> = []
    let after = 0
    for (;;) {
      const page = yield* agg.events({ after, limit: 10_000 })
      all.push(...page.events)
      if (page.next_after === null) return all
      after = page.next_after
    }
  })

/** Until `got` holds `n` events (others still run meanwhile). */
const until = (got: ReadonlyArray<unknown>, n: number) =>
  Effect.gen(function*() {
    while (got.length < n) yield* Effect.sleep("1 millis")
  })

describe("Aggregator.follow", () => {
  for (const subject of stores) {
    describe(`${subject.name} store`, () => {
      it.live.prop(
        "random publishes with duplicates, followers from random cursors racing the commits: each gets exactly the log after its cursor",
        [
          FastCheck.array(
            FastCheck.array(
              FastCheck.record({ topic: FastCheck.constantFrom("a", "b", "c"), id: FastCheck.integer({ min: 0, max: 40 }) }),
              { minLength: 1, maxLength: 20 }
            ),
            { minLength: 1, maxLength: 12 }
          ),
          FastCheck.array(
            FastCheck.record({
              // Where the follower starts: before which publish, and after which seq (as a share of what is stored then).
              at: FastCheck.nat({ max: 12 }),
              share: FastCheck.double({ min: 0, max: 1, noNaN: true }),
              topic: FastCheck.constantFrom(undefined, "a", "b")
            }),
            { minLength: 1, maxLength: 6 }
          )
        ],
        ([groups, followers]) =>
          Effect.scoped(Effect.gen(function*() {
            const dir = yield* tempDir
            const run = freshTopic("r")
            yield* using(subject.layer(dir, { workerCount: 2 }), (agg) =>
              Effect.gen(function*() {
                const started: Array<{ readonly after: number; readonly topic: string | undefined; readonly got: Array<Event.StoredEvent>; readonly fiber: Fiber.RuntimeFiber<void, unknown> }> = []
                const publishes: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
                for (let i = 0; i <= groups.length; i++) {
                  for (const f of followers.filter((f) => Math.min(f.at, groups.length) === i)) {
                    const stored = (yield* agg.stats).unique_processed
                    const after = Math.floor(f.share * stored)
                    const topic = f.topic === undefined ? undefined : `${run}-${f.topic}`
                    const c = yield* collect(agg.follow({ after, topic }))
                    started.push({ after, topic, ...c })
                  }
                  const group = groups[i]
                  // Publishes run concurrently with each other and with the followers' catch-up.
                  if (group !== undefined) {
                    publishes.push(yield* Effect.fork(agg.publish(group.map((g) => event(`${run}-${g.topic}`, `e${g.id}`)))))
                  }
                }
                for (const p of publishes) yield* Fiber.join(p)
                const log = (yield* wholeLog(agg)).filter((e) => e.topic.startsWith(`${run}-`))
                for (const f of started) {
                  const expected = log.filter((e) => e.seq > f.after && (f.topic === undefined || e.topic === f.topic))
                  yield* until(f.got, expected.length)
                  yield* Fiber.interrupt(f.fiber)
                  assert.deepStrictEqual(f.got.map((e) => e.seq), expected.map((e) => e.seq), `after ${f.after}, topic ${f.topic}`)
                  assert.deepStrictEqual(f.got, expected)
                }
              }))
          })),
        { fastCheck: { numRuns: 40 } }
      )

      it.live("a follower that stops reading never blocks publishers, and later gets every event in order", () =>
        Effect.scoped(Effect.gen(function*() {
          const dir = yield* tempDir
          yield* using(subject.layer(dir), (agg) =>
            Effect.gen(function*() {
              const topic = freshTopic()
              const gate = yield* Deferred.make<void>()
              const got: Array<Event.StoredEvent> = []
              const slow = yield* Effect.fork(Stream.runForEach(agg.follow({ topic }), (e) =>
                Effect.zipRight(Effect.sync(() => got.push(e)), got.length === 1 ? Deferred.await(gate) : Effect.void)))
              yield* agg.publish([event(topic, "first")])
              yield* until(got, 1)
              // 400 commits (over the 32 announcements kept) while the follower does not read.
              for (let i = 0; i < 400; i++) yield* agg.publish([event(topic, `e${i}`)])
              const stats = yield* agg.stats
              assert.strictEqual(stats.unique_processed - (stats.unique_processed - 401), 401)
              assert.strictEqual(stats.followers, 1)
              yield* Deferred.succeed(gate, undefined)
              yield* until(got, 401)
              assert.deepStrictEqual(got.map((e) => e.event_id), ["first", ...Array.from({ length: 400 }, (_, i) => `e${i}`)])
              yield* Fiber.interrupt(slow)
              assert.strictEqual((yield* agg.stats).followers, 0)
            }))
        })), { timeout: 60_000 })
    })
  }

  it.live("a commit between the catch-up's head read and its last page is given once, not again when announced", () =>
    Effect.gen(function*() {
      // The follower's first page read waits at a gate; the test commits meanwhile.
      const reading = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      let held = false
      const store = Layer.effect(
        EventStore.EventStore,
        Effect.map(MemoryEventStore.make, (inner) => ({
          ...inner,
          read: (options: EventStore.ReadOptions) =>
            held || options.topic === undefined
              ? inner.read(options)
              : Effect.zipRight(
                Effect.zipRight(Effect.sync(() => (held = true)), Effect.zipRight(Deferred.succeed(reading, undefined), Deferred.await(gate))),
                inner.read(options)
              )
        }))
      )
      const layer = Aggregator.layer.pipe(Layer.provide(store), Layer.provide(AggregatorConfig.layer()))
      yield* using(layer, (agg) =>
        Effect.gen(function*() {
          const topic = freshTopic()
          const other = freshTopic()
          yield* agg.publish([event(topic, "before")])
          const c = yield* collect(agg.follow({ topic }))
          yield* Deferred.await(reading)
          // Committed after the head was read (1) and before the page is: ours first, then another topic's.
          yield* agg.publish([event(topic, "during"), event(other, "x")])
          yield* Deferred.succeed(gate, undefined)
          yield* agg.publish([event(topic, "after")])
          yield* until(c.got, 3)
          yield* agg.publish([event(topic, "last")])
          yield* until(c.got, 4)
          yield* Fiber.interrupt(c.fiber)
          assert.deepStrictEqual(c.got.map((e) => e.event_id), ["before", "during", "after", "last"])
        }))
    }))

  it.live("\"now\" starts at the head: only what commits afterwards", () =>
    using(stores[0].layer(""), (agg) =>
      Effect.gen(function*() {
        const topic = freshTopic()
        yield* agg.publish([event(topic, "old-1"), event(topic, "old-2")])
        const c = yield* collect(agg.follow({ topic, after: "now" }))
        while ((yield* agg.stats).followers === 0) yield* Effect.yieldNow()
        yield* agg.publish([event(topic, "new-1"), event(topic, "old-1")])
        yield* until(c.got, 1)
        yield* Fiber.interrupt(c.fiber)
        assert.deepStrictEqual(c.got.map((e) => e.event_id), ["new-1"])
      })))

  it.live("MAX_FOLLOWERS: one follower too many is refused with TooManyFollowers; closing the aggregator ends every stream", () =>
    Effect.gen(function*() {
      const topic = freshTopic()
      let first: Fiber.RuntimeFiber<Chunk.Chunk<Event.StoredEvent>, unknown> | undefined
      yield* using(stores[0].layer("", { maxFollowers: 2 }), (agg) =>
        Effect.gen(function*() {
          first = yield* Effect.fork(Stream.runCollect(agg.follow({ topic })))
          const second = yield* Effect.fork(Stream.runCollect(agg.follow({ topic })))
          while ((yield* agg.stats).followers < 2) yield* Effect.yieldNow()
          const third = yield* Effect.exit(Stream.runCollect(agg.follow({ topic })))
          assert.isTrue(Exit.isFailure(third))
          if (Exit.isFailure(third)) assert.include(String(third.cause), "TooManyFollowers")
          yield* agg.publish([event(topic, "1")])
          yield* Fiber.interrupt(second)
        }))
      // The layer closed: the first follower's stream has ended by itself, with what it had.
      const ended = yield* Fiber.join(first!)
      assert.deepStrictEqual(Chunk.toReadonlyArray(ended).map((e) => e.event_id), ["1"])
    }))

  it("the Promise facade: for await over follow; break ends the subscription", async () => {
    const agg = await createAggregator({ store: "memory" })
    try {
      await agg.publish([1, 2, 3].map((i) => ({ topic: "f", event_id: `${i}`, timestamp: "2025-01-31T12:00:00Z", source: "s", payload: { i } })))
      const seen: Array<string> = []
      for await (const e of agg.follow({ topic: "f", after: 1 })) {
        seen.push(`${e.seq}:${e.payload}`)
        if (seen.length === 2) break
      }
      assert.deepStrictEqual(seen, ["2:{\"i\":2}", "3:{\"i\":3}"])
      assert.strictEqual((await agg.stats()).followers, 0)
      assert.throws(() => agg.follow({ after: -1 }), /after must be/)
    } finally {
      await agg.close()
    }
  })
})
