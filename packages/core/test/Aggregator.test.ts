import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Path from "node:path"
import * as Aggregator from "../src/Aggregator.js"
import * as AggregatorConfig from "../src/AggregatorConfig.js"
import type * as Event from "../src/Event.js"
import * as EventStore from "../src/EventStore.js"
import * as MemoryEventStore from "../src/MemoryEventStore.js"
import * as Page from "../src/Page.js"
import * as SqliteEventStore from "../src/SqliteEventStore.js"
import { event, freshTopic, model, tempDir, using } from "./utils.js"

/** A store that counts its appends and, while `gate` is closed, holds every append before it runs. */
const instrumented = (gate?: Deferred.Deferred<void>) => {
  let appends = 0
  const wrap = <E, R>(inner: Layer.Layer<EventStore.EventStore, E, R>) =>
    Layer.effect(
      EventStore.EventStore,
      Effect.map(EventStore.EventStore, (store) => ({
        ...store,
        append: (events: ReadonlyArray<Event.Event>) =>
          Effect.zipRight(
            Effect.zipRight(gate === undefined ? Effect.void : Deferred.await(gate), Effect.sync(() => appends++)),
            store.append(events)
          )
      }))
    ).pipe(Layer.provide(inner))
  return { wrap, appends: () => appends }
}

type Wrap = <E, R>(inner: Layer.Layer<EventStore.EventStore, E, R>) => Layer.Layer<EventStore.EventStore, E, R>
const plain: Wrap = (inner) => inner

const onFile = (dbPath: string, settings: Partial<AggregatorConfig.Settings> = {}, wrap: Wrap = plain) =>
  Aggregator.layer.pipe(
    Layer.provide(wrap(SqliteEventStore.layer)),
    Layer.provide(AggregatorConfig.layer({ dbPath, ...settings }))
  )

const inMemory = (settings: Partial<AggregatorConfig.Settings> = {}, wrap: Wrap = plain) =>
  Aggregator.layer.pipe(Layer.provide(wrap(MemoryEventStore.layer)), Layer.provide(AggregatorConfig.layer(settings)))

/** Runs `f` with an aggregator built from `layer`, closing it (drain + close) afterwards. */
const stores = [
  {
    name: "memory",
    make: (_dir: string, settings: Partial<AggregatorConfig.Settings> = {}, wrap: Wrap = plain) => inMemory(settings, wrap)
  },
  {
    name: "sqlite",
    make: (dir: string, settings: Partial<AggregatorConfig.Settings> = {}, wrap: Wrap = plain) =>
      onFile(Path.join(dir, `${freshTopic("db")}.sqlite`), settings, wrap)
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
                // Sequential publishes: each request's outcomes are those of the model, and the
                // counters move by exactly what the test sent.
                let sent = 0
                for (let i = 0; i < groups.length; i++) {
                  const outcomes = yield* agg.publish(groups[i]!)
                  sent += groups[i]!.length
                  assert.deepStrictEqual(outcomes.map((o) => o.status), expected.statuses[i])
                  const now = yield* agg.stats
                  assert.strictEqual(now.received, sent)
                  assert.strictEqual(now.pending, 0)
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
              assert.strictEqual(stats.pending, 0)
            }))
        }))

      it.scoped("while publishes wait to commit: received counts each admitted event at once, pending drains to 0", () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          const gate = yield* Deferred.make<void>()
          const store = instrumented(gate)
          yield* using(subject.make(dir, {}, store.wrap), (agg) =>
            Effect.gen(function*() {
              const topic = freshTopic()
              const requests = Array.from({ length: 30 }, (_, p) =>
                Array.from({ length: 100 }, (_, i) => event(topic, `k${(p * 31 + i) % 500}`)))
              const distinct = new Set(requests.flat().map((e) => e.event_id)).size
              const load = yield* Effect.fork(Effect.all(requests.map((r) => agg.publish(r)), { concurrency: "unbounded" }))
              // Commits are held at the gate: every event is received and pending, none is counted yet.
              let held = yield* agg.stats
              while (held.received < 3000) {
                yield* Effect.yieldNow()
                held = yield* agg.stats
              }
              assert.deepStrictEqual(
                [held.received, held.pending, held.unique_processed, held.duplicate_dropped],
                [3000, 3000, 0, 0]
              )
              yield* Deferred.succeed(gate, undefined)
              let previous = held
              while (previous.pending > 0) {
                yield* Effect.yieldNow()
                const now = yield* agg.stats
                assert.strictEqual(now.received, 3000, "received never moves once admitted")
                assert.isAtMost(now.pending, previous.pending, "pending only drains")
                assert.isAtLeast(now.unique_processed, previous.unique_processed)
                assert.isAtLeast(now.duplicate_dropped, previous.duplicate_dropped)
                previous = now
              }
              yield* Fiber.join(load)
              const done = yield* agg.stats
              assert.deepStrictEqual(
                [done.received, done.pending, done.unique_processed, done.duplicate_dropped],
                [3000, 0, distinct, 3000 - distinct]
              )
              // The persisted counters are a recount of the stored log.
              const page = yield* agg.events({ topic, after: 0, limit: 10_000 })
              assert.strictEqual(page.events.length, done.unique_processed)
            }))
        }))

      it.scoped("group commit: 50 concurrent single-event publishes commit in far fewer than 50 transactions", () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          const store = instrumented()
          yield* using(subject.make(dir, {}, store.wrap), (agg) =>
            Effect.gen(function*() {
              const topic = freshTopic()
              const outcomes = yield* Effect.all(
                Array.from({ length: 50 }, (_, i) => agg.publish([event(topic, `k${i}`)])),
                { concurrency: "unbounded" }
              )
              assert.strictEqual(outcomes.flat().filter((o) => o.status === "accepted").length, 50)
              assert.isAtMost(store.appends(), 10, `${store.appends()} transactions for 50 publishes`)
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

  it.effect("every entry point refuses a bad setting with the same message: layer(...), the environment", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Partial<AggregatorConfig.Settings>, string, string]> = [
        [{ workerCount: 0 }, "WORKER_COUNT", "0"],
        [{ workerCount: 2.5 }, "WORKER_COUNT", "2.5"],
        [{ queueMaxSize: -1 }, "QUEUE_MAXSIZE", "-1"],
        [{ maxEventBytes: 0 }, "MAX_EVENT_BYTES", "0"],
        [{ maxPayloadDepth: 0 }, "MAX_PAYLOAD_DEPTH", "0"],
        [{ maxPayloadDepth: 5000 }, "MAX_PAYLOAD_DEPTH", "5000"],
        [{ sqliteCacheSize: 1024 }, "SQLITE_CACHE_SIZE", "1024"],
        [{ dbPath: "" }, "DEDUP_DB_PATH", ""]
      ]
      for (const [settings, variable, text] of cases) {
        const fromLayer = yield* Effect.flip(Layer.build(AggregatorConfig.layer(settings)).pipe(Effect.scoped))
        const line = AggregatorConfig.describeError(fromLayer)
        assert.match(line, new RegExp(`^${variable}: must be`), line)
        const fromEnv = yield* Effect.flip(Layer.build(AggregatorConfig.layerFromEnv()).pipe(
          Effect.scoped,
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([[variable, text]])))
        ))
        if (text !== "2.5" && text !== "") assert.strictEqual(AggregatorConfig.describeError(fromEnv), line)
      }
      const synchronous = yield* Effect.flip(
        Layer.build(AggregatorConfig.layer({ synchronous: "OFF" as "FULL" })).pipe(Effect.scoped)
      )
      assert.strictEqual(AggregatorConfig.describeError(synchronous), "SQLITE_SYNCHRONOUS: must be one of FULL, NORMAL, got \"OFF\"")
      const writer = yield* Effect.flip(
        Layer.build(AggregatorConfig.layer({ sqliteWriter: "process" as "thread" })).pipe(Effect.scoped)
      )
      assert.strictEqual(AggregatorConfig.describeError(writer), "SQLITE_WRITER: must be one of thread, inline, got \"process\"")
      const fromEnv = yield* Effect.flip(Layer.build(AggregatorConfig.layerFromEnv()).pipe(
        Effect.scoped,
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["SQLITE_CACHE_SIZE", "lots"]])))
      ))
      assert.match(AggregatorConfig.describeError(fromEnv), /^SQLITE_CACHE_SIZE: must be a size in bytes/)
      const sized = yield* Layer.build(AggregatorConfig.layerFromEnv()).pipe(
        Effect.flatMap((ctx) => Effect.map(AggregatorConfig.AggregatorConfig.pipe(Effect.provide(ctx)), (s) => s.sqliteCacheSize)),
        Effect.scoped,
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["SQLITE_CACHE_SIZE", "128MiB"]])))
      )
      assert.strictEqual(sized, 128 * 1024 * 1024)
    }))

  it.scoped("a page ends early at about 32 MiB of payload, and next_after resumes exactly there", () =>
    Effect.gen(function*() {
      yield* using(inMemory({ maxEventBytes: 2 * 1024 * 1024 }), (agg) =>
        Effect.gen(function*() {
          const topic = freshTopic()
          const big = "x".repeat(1024 * 1024)
          yield* agg.publish(Array.from({ length: 40 }, (_, i) => event(topic, `${i}`, { big })))
          yield* agg.publish(Array.from({ length: 200 }, (_, i) => event(topic, `small-${i}`)))
          const first = yield* agg.events({ topic, after: 0, limit: 10_000 })
          const bytes = first.events.reduce((n, e) => n + e.payload.length, 0)
          assert.isBelow(first.events.length, 40)
          assert.isAtMost(bytes, Page.MAX_BYTES)
          assert.strictEqual(first.next_after, first.events[first.events.length - 1]!.seq)
          const ids: Array<string> = first.events.map((e) => e.event_id)
          let after = first.next_after
          while (after !== null) {
            const page = yield* agg.events({ topic, after, limit: 10_000 })
            ids.push(...page.events.map((e) => e.event_id))
            after = page.next_after
          }
          assert.deepStrictEqual(ids, [...Array.from({ length: 40 }, (_, i) => `${i}`), ...Array.from({ length: 200 }, (_, i) => `small-${i}`)])
          // A limit still counts events: 5 of the small ones (this fresh store put the big ones at 1-40).
          const five = yield* agg.events({ topic, after: 40, limit: 5 })
          assert.strictEqual(five.events.length, 5)
          assert.strictEqual(five.next_after, five.events[4]!.seq)
        }))
    }))

  it.scopedLive("a queued ack outlives a store outage: tried again until it commits; a durable publish gets the error", () =>
    Effect.gen(function*() {
      // The store fails every append until `healed`; the test counts the attempts.
      const healed = yield* Deferred.make<void>()
      let attempts = 0
      const flaky = Layer.effect(
        EventStore.EventStore,
        Effect.map(EventStore.EventStore, (inner) => ({
          ...inner,
          append: (events: ReadonlyArray<Event.Event>) =>
            Effect.flatMap(Deferred.isDone(healed), (ok) => {
              attempts++
              return ok
                ? inner.append(events)
                : Effect.fail(new EventStore.StoreError({ operation: "append", cause: new Error("disk unplugged") }))
            })
        }))
      ).pipe(Layer.provide(MemoryEventStore.layer))
      yield* using(inMemory({ workerCount: 1 }, () => flaky), (agg) =>
        Effect.gen(function*() {
          const topic = freshTopic()
          yield* agg.enqueue([event(topic, "q1"), event(topic, "q2")])
          const durable = yield* Effect.exit(agg.publish([event(topic, "d1")]))
          assert.isTrue(Exit.isFailure(durable), "the durable publish is answered with the failure")
          // The queued events are still pending (acknowledged, not lost) while the store is down.
          while (attempts < 12) yield* Effect.sleep("10 millis")
          const during = yield* agg.stats
          assert.deepStrictEqual([during.received, during.pending, during.unique_processed], [2, 2, 0])
          yield* Deferred.succeed(healed, undefined)
          let stats = yield* agg.stats
          while (stats.pending > 0) {
            yield* Effect.sleep("20 millis")
            stats = yield* agg.stats
          }
          assert.deepStrictEqual([stats.received, stats.unique_processed], [2, 2])
          const page = yield* agg.events({ topic, after: 0, limit: 10 })
          assert.deepStrictEqual(page.events.map((e) => e.event_id), ["q1", "q2"])
        }))
    }), { timeout: 30_000 })

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
