/**
 * The retention section of the conformance suite (run by `EventStoreSuite.suite` for every store):
 * pruning steps, key records, forgetting, bounds, and pruning beside concurrent appends. Each test
 * applies a policy to its own fresh topic only (the store is shared by the whole block).
 */
import { assert, type Vitest } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as EventStore from "../src/EventStore.js"
import type * as Retention from "../src/Retention.js"
import { event, freshTopic } from "./utils.js"

const T0 = Date.parse("2030-01-01T00:00:00Z")

const policyFor = (topic: string, retentionMs: number | null, windowMs: number | null): Retention.Policy => ({
  default: { retentionMs: null, windowMs: null },
  topics: [[topic, { retentionMs, windowMs }]]
})

/** Prunes with `request` until a step says there is no more; the steps' totals. */
const pruneAll = (store: EventStore.EventStore["Type"], request: Omit<EventStore.PruneRequest, "maxRows"> & { maxRows?: number }) =>
  Effect.gen(function*() {
    const prune = store.prune
    if (prune === undefined) return yield* Effect.dieMessage("the store cannot prune")
    const total = { pruned: 0, recorded: 0, forgotten: 0, steps: 0 }
    for (;;) {
      const step = yield* prune({ maxRows: 1000, ...request })
      total.pruned += step.pruned
      total.recorded += step.recorded
      total.forgotten += step.forgotten
      total.steps++
      if (!step.more) return total
    }
  })

const ids = (rows: ReadonlyArray<{ readonly event_id: string }>) => rows.map((r) => r.event_id)

export const retentionTests = (it: Vitest.MethodsNonLive<EventStore.EventStore>) => {
  it.effect("retention: events past it are pruned, younger ones stay; their keys still dedup until the window ends, then are accepted anew", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const topic = freshTopic("ret")
      const policy = policyFor(topic, 60_000, 180_000)
      yield* TestClock.setTime(T0)
      const first = (yield* store.append([event(topic, "a", { v: 1 }), event(topic, "b", { v: 2 })])).outcomes
      yield* TestClock.setTime(T0 + 30_000)
      const [young] = (yield* store.append([event(topic, "c")])).outcomes

      // At T0 + 60 s nothing is past retention yet (strictly older than now - retention goes).
      assert.strictEqual((yield* pruneAll(store, { now: T0 + 60_000, policy })).pruned, 0)
      const done = yield* pruneAll(store, { now: T0 + 61_000, policy })
      assert.deepStrictEqual([done.pruned, done.recorded, done.forgotten], [2, 2, 0])
      assert.deepStrictEqual(ids(yield* store.read({ topic, after: 0, limit: 100 })), ["c"])
      assert.isTrue(Option.isNone(yield* store.get({ topic, event_id: "a" })))
      assert.deepStrictEqual(yield* store.keyRecord!({ topic, event_id: "a" }), Option.some(first[0]!.seq))

      // A late re-send: the same content is a duplicate of the original seq, other content a conflict.
      yield* TestClock.setTime(T0 + 62_000)
      const late = (yield* store.append([event(topic, "a", { v: 1 }), event(topic, "b", { v: 3 }), event(topic, "b", { v: 2 })])).outcomes
      assert.deepStrictEqual(late, [
        { status: "duplicate", seq: first[0]!.seq },
        { status: "conflict", seq: first[1]!.seq },
        { status: "duplicate", seq: first[1]!.seq }
      ])
      const report = (yield* store.retention!).get(topic)
      assert.deepStrictEqual(report, { pruned: 2, prunedThrough: first[1]!.seq, keyRecords: 2, forgotten: 0, oldest: young!.seq })
      // Lifetime counters are not changed by pruning.
      assert.deepStrictEqual((yield* store.counters).per_topic.get(topic), { unique_processed: 3, duplicate_dropped: 3, conflicts: 1 })

      // Past the window (T0 + 180 s) the keys of a and b are forgotten; c leaves retention as a key record.
      const later = yield* pruneAll(store, { now: T0 + 181_000, policy })
      assert.deepStrictEqual([later.pruned, later.recorded, later.forgotten], [1, 1, 2])
      assert.isTrue(Option.isNone(yield* store.keyRecord!({ topic, event_id: "a" })))
      yield* TestClock.setTime(T0 + 182_000)
      const again = (yield* store.append([event(topic, "a", { v: 9 }), event(topic, "c")])).outcomes
      assert.strictEqual(again[0]!.status, "accepted")
      assert.isTrue(again[0]!.seq > young!.seq)
      assert.deepStrictEqual(again[1], { status: "duplicate", seq: young!.seq })
      assert.deepStrictEqual(ids(yield* store.read({ topic, after: 0, limit: 100 })), ["a"])
      assert.strictEqual(Option.getOrThrow(yield* store.get({ topic, event_id: "a" })).payload, "{\"v\":9}")
    }))

  it.effect("retention: a window equal to the retention forgets keys with their events", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const topic = freshTopic("ret")
      const policy = policyFor(topic, 10_000, 10_000)
      yield* TestClock.setTime(T0)
      const [first] = (yield* store.append([event(topic, "a")])).outcomes
      const done = yield* pruneAll(store, { now: T0 + 11_000, policy })
      assert.deepStrictEqual([done.pruned, done.recorded, done.forgotten], [1, 0, 1])
      const [again] = (yield* store.append([event(topic, "a")])).outcomes
      assert.strictEqual(again!.status, "accepted")
      assert.isTrue(again!.seq > first!.seq)
    }))

  it.effect("retention: a duplicate of a key record is decided by content as JSON values (key order, spacing)", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const topic = freshTopic("ret")
      const policy = policyFor(topic, 10_000, null)
      yield* TestClock.setTime(T0)
      const spelled = { ...event(topic, "a"), payload: "{\"x\": 1.0, \"y\": [1, 2]}" } as ReturnType<typeof event>
      const [first] = (yield* store.append([spelled])).outcomes
      yield* pruneAll(store, { now: T0 + 11_000, policy })
      const other = { ...event(topic, "a"), payload: "{\"y\":[1,2],\"x\":1}" } as ReturnType<typeof event>
      const digit = { ...event(topic, "a"), payload: "{\"y\":[1,2],\"x\":1.01}" } as ReturnType<typeof event>
      const outcomes = (yield* store.append([other, digit, event(topic, "a", {}, { source: "elsewhere" })])).outcomes
      assert.deepStrictEqual(outcomes.map((o) => o.status), ["duplicate", "conflict", "conflict"])
      assert.isTrue(outcomes.every((o) => o.seq === first!.seq))
    }))

  it.effect("retention: steps are bounded by maxRows; per-topic rules leave other topics alone", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const topic = freshTopic("ret")
      const other = freshTopic("ret-other")
      yield* TestClock.setTime(T0)
      yield* store.append(Array.from({ length: 5 }, (_, i) => event(topic, `e${i}`)))
      yield* store.append([event(other, "x")])
      const policy = policyFor(topic, 1_000, null)
      const step = yield* store.prune!({ now: T0 + 2_000, policy, maxRows: 2 })
      assert.deepStrictEqual(step, { pruned: 2, recorded: 2, forgotten: 0, more: true })
      const rest = yield* pruneAll(store, { now: T0 + 2_000, policy, maxRows: 2 })
      assert.deepStrictEqual([rest.pruned, rest.steps], [3, 2])
      assert.deepStrictEqual(ids(yield* store.read({ topic, after: 0, limit: 100 })), [])
      assert.deepStrictEqual(ids(yield* store.read({ topic: other, after: 0, limit: 100 })), ["x"])
      assert.strictEqual((yield* store.retention!).get(topic)?.oldest, null)
    }))

  it.effect("retention: when the newest event of the log is pruned, its seq is never given again", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const topic = freshTopic("ret")
      yield* TestClock.setTime(T0)
      const [last] = (yield* store.append([event(topic, "a")])).outcomes
      assert.strictEqual(yield* store.head, last!.seq)
      yield* pruneAll(store, { now: T0 + 2_000, policy: policyFor(topic, 1_000, 1_000) })
      assert.strictEqual(yield* store.head, last!.seq)
      const all = yield* store.read({ after: last!.seq - 1, limit: 10 })
      assert.deepStrictEqual(all, [])
      const [next] = (yield* store.append([event(topic, "b")])).outcomes
      assert.strictEqual(next!.seq, last!.seq + 1)
      assert.deepStrictEqual(ids(yield* store.read({ after: last!.seq - 1, limit: 10 })), ["b"])
    }))

  it.effect("retention: pruning beside concurrent appends never removes an event younger than its retention", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const topic = freshTopic("ret")
      const policy = policyFor(topic, 50_000, null)
      yield* TestClock.setTime(T0)
      for (let g = 0; g < 10; g++) yield* store.append(Array.from({ length: 20 }, (_, i) => event(topic, `old-${g}-${i}`)))
      yield* TestClock.setTime(T0 + 100_000)
      const appends = Effect.forEach(
        Array.from({ length: 20 }, (_, g) => Array.from({ length: 10 }, (_, i) => event(topic, `new-${g}-${i}`))),
        (group) => store.append(group),
        { concurrency: 4 }
      )
      const [appended, pruned] = yield* Effect.all([appends, pruneAll(store, { now: T0 + 100_000, policy, maxRows: 7 })], {
        concurrency: "unbounded"
      })
      assert.isTrue(appended.every((r) => r.outcomes.every((o) => o.status === "accepted")))
      assert.strictEqual(pruned.pruned, 200)
      const left = yield* store.read({ topic, after: 0, limit: 1000 })
      assert.strictEqual(left.length, 200)
      assert.isTrue(left.every((r) => r.event_id.startsWith("new-")))
    }))
}
