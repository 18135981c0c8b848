/**
 * The conformance suite every EventStore passes: memory, SQLite and PostgreSQL run the same
 * tests. Each store's test file is one call of `suite`.
 */
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Path from "node:path"
import type * as Event from "../src/Event.js"
import * as EventStore from "../src/EventStore.js"
import { retentionTests } from "./RetentionSuite.js"
import { event, eventWithText, freshTopic, model, tempDir } from "./utils.js"

export interface Subject<E> {
  readonly name: string
  /** A fresh store, shared by every test of the block. */
  readonly layer: Layer.Layer<EventStore.EventStore, E>
  /** The same store reopened from a file; absent for stores that forget on close. */
  readonly reopenable?: (file: string) => Layer.Layer<EventStore.EventStore, E>
}

const readAll = (store: EventStore.EventStore["Type"], topic: string) =>
  store.read({ topic, after: 0, limit: 10_000 })

/** Groups of events drawn from a small pool of keys, so duplicates and conflicts occur. */
const groupsArb = FastCheck.array(
  FastCheck.array(
    FastCheck.record({
      topic: FastCheck.constantFrom("a", "b", "c"),
      id: FastCheck.integer({ min: 0, max: 7 }),
      variant: FastCheck.integer({ min: 0, max: 2 })
    }),
    { minLength: 1, maxLength: 12 }
  ),
  { minLength: 1, maxLength: 8 }
)

export const suite = <E>(subject: Subject<E>) =>
  it.layer(subject.layer, { timeout: "60 seconds" })(`EventStore (${subject.name})`, (it) => {
    it.effect("appends new events with increasing seq and reads them back in order", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const topic = freshTopic()
        const { outcomes } = yield* store.append([
          event(topic, "1", { n: 1 }),
          event(topic, "2", { nested: { list: [1, "two", null, true], unicode: "é✓😀" } }),
          event(topic, "3")
        ])
        assert.deepStrictEqual(outcomes.map((o) => o.status), ["accepted", "accepted", "accepted"])
        assert.isTrue(outcomes[0]!.seq < outcomes[1]!.seq && outcomes[1]!.seq < outcomes[2]!.seq)
        const rows = yield* readAll(store, topic)
        assert.deepStrictEqual(rows.map((r) => r.event_id), ["1", "2", "3"])
        assert.deepStrictEqual(rows.map((r) => r.seq), outcomes.map((o) => o.seq))
        assert.strictEqual(rows[1]!.payload, JSON.stringify({ nested: { list: [1, "two", null, true], unicode: "é✓😀" } }))
        assert.strictEqual(rows[0]!.timestamp, "2025-01-31T12:00:00Z")
        assert.strictEqual(rows[0]!.source, "test")
        assert.isFalse(Number.isNaN(Date.parse(rows[0]!.received_at)))
      }))

    it.effect("a duplicate never overwrites the first copy, and a different copy is a conflict", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const topic = freshTopic()
        const [first] = (yield* store.append([event(topic, "k", { v: 1 })])).outcomes
        const { outcomes } = yield* store.append([
          event(topic, "k", { v: 1 }),
          event(topic, "k", { v: 2 }),
          event(topic, "k", { v: 1 }, { source: "other" }),
          event(topic, "k", { v: 1 }, { timestamp: "2025-01-31T12:00:01Z" })
        ])
        assert.deepStrictEqual(outcomes.map((o) => o.status), ["duplicate", "conflict", "conflict", "conflict"])
        assert.deepStrictEqual(outcomes.map((o) => o.seq), [first!.seq, first!.seq, first!.seq, first!.seq])
        const stored = yield* store.get({ topic, event_id: "k" })
        assert.isTrue(Option.isSome(stored))
        assert.strictEqual(Option.getOrThrow(stored).payload, "{\"v\":1}")
        assert.strictEqual(Option.getOrThrow(stored).source, "test")
        assert.strictEqual((yield* readAll(store, topic)).length, 1)
      }))

    it.effect("payloads are compared as JSON values: key order does not make a conflict", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const topic = freshTopic()
        yield* store.append([event(topic, "k", { a: 1, b: { c: [1, 2], d: "x" } })])
        const [again] = (yield* store.append([event(topic, "k", { b: { d: "x", c: [1, 2] }, a: 1 })])).outcomes
        assert.strictEqual(again!.status, "duplicate")
        const [reordered] = (yield* store.append([event(topic, "k", { b: { d: "x", c: [2, 1] }, a: 1 })])).outcomes
        assert.strictEqual(reordered!.status, "conflict")
      }))

    it.effect("payloads are stored and returned byte for byte: big integers, exponents, escapes, spacing", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const topic = freshTopic()
        const texts = [
          `{"n": 9223372036854775807, "u": 18446744073709551615, "big": 123456789012345678901234567890}`,
          `{"tiny":1e-400,"neg":-0,"fixed":1.50,"exp":6.02E+23}`,
          `{"s":"caf\\u00e9 \\"q\\" \\/ \\ud83d\\ude00 é✓😀","empty":{},"list":[ 1 , [ ] ,null,true,false ]}`,
          `{\n  "pretty": [\n    1,\n    2\n  ]\n}`
        ]
        const { outcomes } = yield* store.append(texts.map((t, i) => eventWithText(topic, String(i), t)))
        assert.deepStrictEqual(outcomes.map((o) => o.status), ["accepted", "accepted", "accepted", "accepted"])
        const rows = yield* readAll(store, topic)
        assert.deepStrictEqual(rows.map((r) => r.payload), texts)
        for (let i = 0; i < texts.length; i++) {
          const got = yield* store.get({ topic, event_id: String(i) })
          assert.strictEqual(Option.getOrThrow(got).payload, texts[i])
        }
      }))

    it.effect("a copy with the same JSON value in other spelling is a duplicate; one digit off is a conflict", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const topic = freshTopic()
        yield* store.append([
          eventWithText(topic, "int64", `{"n":9223372036854775807}`),
          eventWithText(topic, "text", `{"s":"é","a":1.0,"b":[1e2]}`)
        ])
        const { outcomes } = yield* store.append([
          eventWithText(topic, "int64", `{ "n" : 9223372036854775807 }`),
          eventWithText(topic, "int64", `{"n":9223372036854775808}`),
          eventWithText(topic, "text", `{"b":[100],"a":1,"s":"\\u00e9"}`),
          eventWithText(topic, "text", `{"b":[100.5],"a":1,"s":"é"}`)
        ])
        assert.deepStrictEqual(outcomes.map((o) => o.status), ["duplicate", "conflict", "duplicate", "conflict"])
        const stored = yield* store.get({ topic, event_id: "int64" })
        assert.strictEqual(Option.getOrThrow(stored).payload, `{"n":9223372036854775807}`, "the first copy stays")
      }))

    it.effect("append returns the counter changes it committed, per topic", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const a = freshTopic("a")
        const b = freshTopic("b")
        yield* store.append([event(a, "1")])
        const { deltas } = yield* store.append([event(a, "1"), event(b, "1"), event(a, "1", { v: 2 }), event(a, "2")])
        assert.deepStrictEqual(Array.from(deltas), [
          [a, { unique_processed: 1, duplicate_dropped: 2, conflicts: 1 }],
          [b, { unique_processed: 1, duplicate_dropped: 0, conflicts: 0 }]
        ])
      }))

    it.effect("duplicates inside one group: the first copy wins, later ones point at it", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const topic = freshTopic()
        const { outcomes } = yield* store.append([
          event(topic, "x", { v: 1 }),
          event(topic, "y"),
          event(topic, "x", { v: 1 }),
          event(topic, "x", { v: 2 }),
          event(topic, "y")
        ])
        assert.deepStrictEqual(outcomes.map((o) => o.status), [
          "accepted",
          "accepted",
          "duplicate",
          "conflict",
          "duplicate"
        ])
        assert.strictEqual(outcomes[2]!.seq, outcomes[0]!.seq)
        assert.strictEqual(outcomes[3]!.seq, outcomes[0]!.seq)
        assert.strictEqual(outcomes[4]!.seq, outcomes[1]!.seq)
        const stored = yield* store.get({ topic, event_id: "x" })
        assert.strictEqual(Option.getOrThrow(stored).payload, "{\"v\":1}")
      }))

    it.effect("the key is exact: case-sensitive, no trimming, topics are separate", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const topic = freshTopic()
        const other = freshTopic()
        const { outcomes } = yield* store.append([
          event(topic, "id"),
          event(topic, "ID"),
          event(topic, " id"),
          event(topic, "id "),
          event(other, "id"),
          event(`${topic}/x`, "y"),
          event(topic, "x/y")
        ])
        assert.deepStrictEqual(outcomes.map((o) => o.status), Array(7).fill("accepted"))
        assert.isTrue(Option.isNone(yield* store.get({ topic, event_id: "Id" })))
      }))

    it.effect("reads page by seq, filtered by topic", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const a = freshTopic("a")
        const b = freshTopic("b")
        const group = Array.from({ length: 10 }, (_, i) => event(i % 2 === 0 ? a : b, String(i)))
        const { outcomes } = yield* store.append(group)
        const firstPage = yield* store.read({ topic: a, after: 0, limit: 2 })
        assert.deepStrictEqual(firstPage.map((e) => e.event_id), ["0", "2"])
        const secondPage = yield* store.read({ topic: a, after: firstPage[1]!.seq, limit: 2 })
        assert.deepStrictEqual(secondPage.map((e) => e.event_id), ["4", "6"])
        const all = yield* store.read({ after: outcomes[0]!.seq - 1, limit: 10 })
        assert.deepStrictEqual(all.map((e) => e.event_id), group.map((e) => e.event_id))
        const tail = yield* store.read({ after: outcomes[9]!.seq, limit: 10 })
        assert.isTrue(tail.every((e) => e.seq > outcomes[9]!.seq))
        assert.deepStrictEqual(yield* store.read({ topic: freshTopic(), after: 0, limit: 10 }), [])
      }))

    it.effect("counters count per topic, in the same commit", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const a = freshTopic("a")
        const b = freshTopic("b")
        yield* store.append([event(a, "1"), event(a, "1"), event(b, "1"), event(a, "2", { v: 1 })])
        yield* store.append([event(a, "2", { v: 2 }), event(b, "2")])
        const counters = yield* store.counters
        assert.deepStrictEqual(counters.per_topic.get(a), { unique_processed: 2, duplicate_dropped: 2, conflicts: 1 })
        assert.deepStrictEqual(counters.per_topic.get(b), { unique_processed: 2, duplicate_dropped: 0, conflicts: 0 })
      }))

    it.effect("lastEventTimes: each topic's newest event's received_at (a duplicate moves nothing)", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        if (store.lastEventTimes === undefined) return assert.fail(`the ${subject.name} store reports no last event times`)
        const a = freshTopic("a")
        const b = freshTopic("b")
        const first = yield* store.append([event(a, "1"), event(b, "1")])
        yield* TestClock.adjust("1 second")
        const second = yield* store.append([event(a, "2"), event(b, "1")])
        yield* TestClock.adjust("1 second")
        yield* store.append([event(a, "1"), event(b, "1")])
        assert.notStrictEqual(first.receivedAt, second.receivedAt)
        const times = yield* store.lastEventTimes
        assert.strictEqual(times.get(a), second.receivedAt)
        assert.strictEqual(times.get(b), first.receivedAt)
        assert.isFalse(times.has(freshTopic("none")))
      }))

    it.effect.prop(
      "for random groups: stored keys are the distinct keys, in first-publish order, counters match",
      [groupsArb],
      ([groups]) =>
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const run = freshTopic("p")
          const toEvent = (g: { topic: string; id: number; variant: number }): Event.Event =>
            event(`${run}-${g.topic}`, `e${g.id}`, { variant: g.variant })
          const eventGroups = groups.map((group) => group.map(toEvent))
          const expected = model(eventGroups)
          for (let i = 0; i < eventGroups.length; i++) {
            const { outcomes } = yield* store.append(eventGroups[i]!)
            assert.deepStrictEqual(outcomes.map((o) => o.status), expected.statuses[i])
          }
          const counters = yield* store.counters
          for (const [topic, ids] of expected.order) {
            const rows = yield* readAll(store, topic)
            assert.deepStrictEqual(rows.map((r) => r.event_id), ids)
            for (const row of rows) {
              const first = expected.first.get(JSON.stringify([topic, row.event_id]))!
              assert.strictEqual(row.payload, first.payload)
            }
            assert.deepStrictEqual(counters.per_topic.get(topic), expected.perTopic.get(topic))
          }
        }),
      { fastCheck: { numRuns: 50 } }
    )

    retentionTests(it)

    if (subject.reopenable !== undefined) {
      const reopenable = subject.reopenable
      it.scoped("after reopening: duplicates are still rejected, counters and seq continue", () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          const file = Path.join(dir, "nested", "dir", "events.db")
          const topic = freshTopic()
          const first = yield* Effect.scoped(Effect.gen(function*() {
            const ctx = yield* Layer.build(reopenable(file))
            const store = EventStore.EventStore.pipe(Effect.provide(ctx))
            return (yield* Effect.flatMap(store, (s) => s.append([event(topic, "1"), event(topic, "2")]))).outcomes
          }))
          yield* Effect.scoped(Effect.gen(function*() {
            const ctx = yield* Layer.build(reopenable(file))
            const store = yield* EventStore.EventStore.pipe(Effect.provide(ctx))
            const { outcomes } = yield* store.append([event(topic, "1"), event(topic, "2", { changed: true }), event(topic, "3")])
            assert.deepStrictEqual(outcomes.map((o) => o.status), ["duplicate", "conflict", "accepted"])
            assert.isTrue(outcomes[2]!.seq > first[1]!.seq)
            const counters = yield* store.counters
            assert.deepStrictEqual(counters.per_topic.get(topic), { unique_processed: 3, duplicate_dropped: 2, conflicts: 1 })
            assert.deepStrictEqual((yield* readAll(store, topic)).map((r) => r.event_id), ["1", "2", "3"])
          }))
        }))
    }
  })
