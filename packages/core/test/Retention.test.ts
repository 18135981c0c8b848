import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Path from "node:path"
import * as Aggregator from "../src/Aggregator.js"
import * as AggregatorConfig from "../src/AggregatorConfig.js"
import * as MemoryEventStore from "../src/MemoryEventStore.js"
import * as Retention from "../src/Retention.js"
import * as SqliteEventStore from "../src/SqliteEventStore.js"
import { event, tempDir, using } from "./utils.js"

const refusal = (settings: Partial<AggregatorConfig.Settings>) =>
  Effect.map(Effect.flip(Layer.build(AggregatorConfig.layer(settings)).pipe(Effect.scoped)), AggregatorConfig.describeError)

const fromEnv = (env: Record<string, string>) =>
  Effect.flatMap(AggregatorConfig.AggregatorConfig, Effect.succeed).pipe(
    Effect.provide(AggregatorConfig.layerFromEnv()),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
  )

/** Reads `effect` until `done` holds, letting other fibers (the pruner) run in between; no clock involved. */
const eventually = <A, E>(effect: Effect.Effect<A, E>, done: (a: A) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      const a = yield* effect
      if (done(a)) return a
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage("the condition never held")
  })

describe("Retention settings", () => {
  it("parses durations: forever and whole numbers with a unit, at least a second", () => {
    const ms = (text: string) => Option.map(Retention.parseDuration(text), Duration.toMillis)
    assert.deepStrictEqual(ms("90s"), Option.some(90_000))
    assert.deepStrictEqual(ms("12h"), Option.some(12 * 3_600_000))
    assert.deepStrictEqual(ms("30d"), Option.some(30 * 86_400_000))
    assert.deepStrictEqual(ms("2w"), Option.some(14 * 86_400_000))
    assert.deepStrictEqual(ms(" 15m "), Option.some(900_000))
    assert.isTrue(Option.exists(Retention.parseDuration("forever"), (d) => !Duration.isFinite(d)))
    for (const bad of ["", "30", "1.5d", "-1d", "10y", "500ms", "soon", "1 day"]) {
      assert.isTrue(Option.isNone(Retention.parseDuration(bad)), bad)
    }
    assert.strictEqual(Retention.format(Duration.days(30)), "30d")
    assert.strictEqual(Retention.format(Duration.infinity), "forever")
  })

  it.effect("a bad duration or a window shorter than the retention stops start-up with one line naming the setting", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* refusal({ retention: "soon" }),
        "RETENTION: must be \"forever\" or a duration such as 90s, 12h, 30d, 2w, got \"soon\""
      )
      assert.strictEqual(
        yield* refusal({ retention: "2d", dedupWindow: "1d" }),
        "DEDUP_WINDOW: must be at least RETENTION (2d), got 1d"
      )
      assert.strictEqual(
        yield* refusal({ retention: "1d", dedupWindow: "1d", topicRetention: { logs: "2d" } }),
        "TOPIC_DEDUP_WINDOW: the dedup window of topic \"logs\" (1d) must be at least its retention (2d)"
      )
      assert.strictEqual(
        yield* refusal({ topicDedupWindow: { logs: "often" } }),
        "TOPIC_DEDUP_WINDOW: topic \"logs\": must be \"forever\" or a duration such as 90s, 12h, 30d, 2w, got \"often\""
      )
      // The environment says the same.
      const env = yield* Effect.flip(fromEnv({ RETENTION: "2d", DEDUP_WINDOW: "1d" }))
      assert.strictEqual(AggregatorConfig.describeError(env), "DEDUP_WINDOW: must be at least RETENTION (2d), got 1d")
      const map = yield* Effect.flip(fromEnv({ TOPIC_RETENTION: "logs" }))
      assert.match(AggregatorConfig.describeError(map), /^TOPIC_RETENTION: must be topic=duration items/)
    }))

  it.effect("the environment: RETENTION, DEDUP_WINDOW, TOPIC_RETENTION=logs=1d,orders=30d, TOPIC_DEDUP_WINDOW", () =>
    Effect.gen(function*() {
      const settings = yield* fromEnv({
        RETENTION: "7d",
        DEDUP_WINDOW: "90d",
        TOPIC_RETENTION: "logs=1d, orders=30d",
        TOPIC_DEDUP_WINDOW: "logs=2d"
      })
      assert.deepStrictEqual(
        [settings.retention, settings.dedupWindow, settings.topicRetention, settings.topicDedupWindow],
        ["7d", "90d", { logs: "1d", orders: "30d" }, { logs: "2d" }]
      )
      const result = Retention.policyOf(settings)
      assert.isTrue("policy" in result)
      if (!("policy" in result)) return
      assert.deepStrictEqual(Retention.ruleOf(result.policy, "logs"), { retentionMs: 86_400_000, windowMs: 2 * 86_400_000 })
      assert.deepStrictEqual(Retention.ruleOf(result.policy, "orders"), { retentionMs: 30 * 86_400_000, windowMs: 90 * 86_400_000 })
      assert.deepStrictEqual(Retention.ruleOf(result.policy, "other"), { retentionMs: 7 * 86_400_000, windowMs: 90 * 86_400_000 })
    }))
})

describe("Retention in the Aggregator", () => {
  const settings: Partial<AggregatorConfig.Settings> = {
    retention: "1h",
    dedupWindow: "2h",
    topicRetention: { logs: "10m" },
    topicDedupWindow: { logs: "20m" }
  }

  it.scoped("the pruner applies each topic's retention on schedule: 410 while the key is remembered, then forgotten", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(
        Aggregator.layer.pipe(Layer.provide(MemoryEventStore.layer), Layer.provide(AggregatorConfig.layer(settings)))
      )
      const agg = yield* Effect.provide(Aggregator.Aggregator, ctx)
      const [log] = yield* agg.publish([event("logs", "a", { n: 1 })])
      const [order] = yield* agg.publish([event("orders", "a")])

      yield* TestClock.adjust("9 minutes")
      assert.isTrue(Option.isSome(yield* agg.get({ topic: "logs", event_id: "a" })))

      yield* TestClock.adjust("2 minutes")
      // Readiness probe: the pruner (a fiber woken by the clock) has removed it.
      const gone = yield* Effect.flip(Effect.flatten(
        eventually(Effect.either(agg.get({ topic: "logs", event_id: "a" })), (r) => r._tag === "Left")
      ))
      assert.deepStrictEqual(gone._tag === "EventPruned" ? gone.seq : undefined, log!.seq)
      assert.isTrue(Option.isSome(yield* agg.get({ topic: "orders", event_id: "a" })))
      const page = yield* agg.events({ topic: "logs", after: 0, limit: 10 })
      assert.deepStrictEqual(page, { events: [], next_after: null, pruned_before: log!.seq + 1 })
      const all = yield* agg.events({ after: 0, limit: 10 })
      assert.deepStrictEqual([all.events.map((e) => e.seq), all.pruned_before], [[order!.seq], log!.seq + 1])
      assert.isUndefined((yield* agg.events({ topic: "orders", after: 0, limit: 10 })).pruned_before)
      const stats = yield* agg.stats
      assert.deepStrictEqual(stats.per_topic["logs"], {
        unique_processed: 1,
        duplicate_dropped: 0,
        conflicts: 0,
        stored: 0,
        oldest_seq: null,
        key_records: 1,
        retention: "10m",
        dedup_window: "20m"
      })
      assert.deepStrictEqual(
        [stats.per_topic["orders"]?.stored, stats.per_topic["orders"]?.oldest_seq, stats.per_topic["orders"]?.retention],
        [1, order!.seq, "1h"]
      )
      assert.deepStrictEqual(stats.retention, { retention: "1h", dedup_window: "2h" })
      assert.strictEqual(stats.unique_processed, 2)
      // A late re-send is still a duplicate of the original; other content still a conflict.
      assert.deepStrictEqual(yield* agg.publish([event("logs", "a", { n: 1 }), event("logs", "a", { n: 2 })]), [
        { status: "duplicate", seq: log!.seq },
        { status: "conflict", seq: log!.seq }
      ])

      // Past the window the key is forgotten: 404, and the same key is accepted anew.
      yield* TestClock.adjust("10 minutes")
      yield* eventually(Effect.either(agg.get({ topic: "logs", event_id: "a" })), (r) => r._tag === "Right")
      const [again] = yield* agg.publish([event("logs", "a", { n: 3 })])
      assert.strictEqual(again!.status, "accepted")
      assert.isTrue(again!.seq > order!.seq)
      assert.strictEqual((yield* agg.stats).per_topic["logs"]?.unique_processed, 2)
    }))

  it.scoped("restart keeps the schedule: what left retention while the process was down is pruned at start", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const layer = Aggregator.layer.pipe(
        Layer.provide(SqliteEventStore.layer),
        Layer.provide(AggregatorConfig.layer({ ...settings, dbPath: Path.join(dir, "events.db") }))
      )
      const run = <A, E>(f: (agg: Aggregator.Aggregator["Type"]) => Effect.Effect<A, E>) => using(layer, f)
      const [first] = yield* run((agg) => agg.publish([event("orders", "a"), event("orders", "b")]))
      yield* TestClock.setTime(Duration.toMillis("30 minutes"))
      const kept = yield* run((agg) => Effect.map(agg.stats, (s) => s.per_topic["orders"]?.stored))
      assert.strictEqual(kept, 2)
      yield* TestClock.setTime(Duration.toMillis("61 minutes"))
      yield* run((agg) =>
        Effect.gen(function*() {
          const stats = yield* eventually(agg.stats, (s) => s.per_topic["orders"]?.stored === 0)
          assert.strictEqual(stats.per_topic["orders"]?.key_records, 2)
          assert.strictEqual(stats.unique_processed, 2)
          assert.deepStrictEqual(yield* agg.publish([event("orders", "a")]), [{ status: "duplicate", seq: first!.seq }])
        }))
    }))
})
