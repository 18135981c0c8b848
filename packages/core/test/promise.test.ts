import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { createAggregator } from "../src/promise.js"

const ev = (event_id: string, payload: Record<string, unknown> = {}) => ({
  topic: "facade",
  event_id,
  timestamp: "2025-01-31T12:00:00Z",
  source: "test",
  payload
})

describe("promise facade", () => {
  it("publishes, dedups across a reopen, and rejects with tagged errors", async () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-facade-"))
    try {
      const path = Path.join(dir, "db", "events.sqlite")
      const agg = await createAggregator({ path })
      const first = await agg.publish([ev("1"), ev("2"), ev("1")])
      assert.deepStrictEqual(
        { received: first.received, accepted: first.accepted, duplicates: first.duplicates },
        { received: 3, accepted: 2, duplicates: 1 }
      )
      assert.deepStrictEqual(first.results.map((r) => r.status), ["accepted", "accepted", "duplicate"])
      const single = await agg.publish(ev("3"))
      assert.strictEqual(single.accepted, 1)
      const error = await agg.publish([ev("4"), { ...ev("5"), payload: "nope" }]).catch((e: unknown) => e)
      assert.strictEqual((error as { _tag?: string })._tag, "InvalidEvents")
      assert.strictEqual((await agg.stats()).received, 4)
      assert.isUndefined(await agg.get("facade", "4"))
      await agg.enqueue([ev("6")])
      await agg.close()

      const again = await createAggregator({ path })
      const retry = await again.publish([ev("1"), ev("6"), ev("2", { changed: true })])
      assert.deepStrictEqual(retry.results.map((r) => r.status), ["duplicate", "duplicate", "conflict"])
      const page = await again.events({ topic: "facade" })
      assert.deepStrictEqual(page.events.map((e) => e.event_id), ["1", "2", "3", "6"])
      assert.strictEqual(page.events[1]!.payload, "{}", "the first copy of 2, as JSON text")
      assert.strictEqual((await again.get("facade", "2"))?.event_id, "2")
      await again.events({ limit: 0 }).then(
        () => assert.fail("limit 0 must be rejected"),
        (e: Error) => assert.include(e.message, "limit")
      )
      await again.close()
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("JSON text keeps int64 payloads exactly; JavaScript values JSON cannot hold are refused, tagged", async () => {
    const agg = await createAggregator({ store: "memory" })
    try {
      const text = `[{"topic":"t","event_id":"big","timestamp":"2025-01-31T12:00:00Z","source":"s","payload":{"id": 9223372036854775807}}]`
      assert.strictEqual((await agg.publish(text)).accepted, 1)
      assert.strictEqual((await agg.get("t", "big"))?.payload, `{"id": 9223372036854775807}`)
      // A JavaScript number is already rounded; a BigInt is not.
      await agg.publish({ ...ev("bigint"), payload: { id: 9223372036854775807n } })
      assert.strictEqual((await agg.get("facade", "bigint"))?.payload, `{"id":9223372036854775807}`)
      const nan = await agg.publish({ ...ev("nan"), payload: { x: Number.NaN } }).catch((e: unknown) => e)
      assert.strictEqual((nan as { _tag?: string })._tag, "InvalidEvents")
      assert.strictEqual((nan as { issues: Array<{ path: string }> }).issues[0]!.path, "payload.x")
      const broken = await agg.publish("[{\"topic\": ").catch((e: unknown) => e)
      assert.strictEqual((broken as { _tag?: string })._tag, "JsonSyntaxError")
      assert.strictEqual((await agg.stats()).received, 2)
    } finally {
      await agg.close()
    }
  })

  it("refuses bad settings at creation with the configuration's message, instead of hanging", async () => {
    const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
      [{ workerCount: 0 }, "WORKER_COUNT: must be an integer from 1 to 1024, got 0"],
      [{ queueMaxSize: -5 }, "QUEUE_MAXSIZE: must be an integer of 0 or more, got -5"],
      [{ synchronous: "OFF" }, "SQLITE_SYNCHRONOUS: must be one of FULL, NORMAL, got \"OFF\""],
      [{ maxPayloadDepth: 0 }, "MAX_PAYLOAD_DEPTH: must be an integer from 1 to 1000, got 0"],
      [{ store: "mysql" }, "EVENT_STORE: must be one of sqlite, memory, got \"mysql\""],
      [{ retention: "30d", dedupWindow: "7d" }, "DEDUP_WINDOW: must be at least RETENTION (30d), got 7d"],
      [{ topicRetention: { logs: 5 } }, "TOPIC_RETENTION: must be a record of topic to duration, got object"]
    ]
    for (const [options, message] of cases) {
      const error = await createAggregator({ store: "memory", ...options } as never).catch((e: unknown) => e)
      assert.strictEqual((error as { _tag?: string })._tag, "InvalidArgument", JSON.stringify(options))
      assert.strictEqual((error as Error).message, `configuration error: ${message}`)
    }
  })

  it("fuzz: any input to publish resolves or rejects with a tagged error, never a defect; rejections change nothing", async () => {
    const agg = await createAggregator({ store: "memory", maxPayloadDepth: 16 })
    try {
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      const deep = (n: number): unknown => {
        let v: unknown = {}
        for (let i = 0; i < n; i++) v = { a: v }
        return v
      }
      const weird = FastCheck.constantFrom<unknown>(
        undefined, null, Number.NaN, Number.POSITIVE_INFINITY, -0, 10n ** 30n, Symbol("s"), () => 1, new Date(0),
        new Map([[1, 2]]), new Uint8Array(2), cyclic, deep(20), deep(2000), "x".repeat(300_000), Object.create(null)
      )
      const value = FastCheck.oneof(FastCheck.jsonValue({ maxDepth: 3 }), weird, FastCheck.string({ unit: "binary", maxLength: 10 }))
      const event = FastCheck.record({
        topic: FastCheck.oneof(FastCheck.constant("fuzz"), value),
        event_id: FastCheck.oneof(FastCheck.string({ minLength: 1, maxLength: 5 }), value),
        timestamp: FastCheck.oneof(FastCheck.constant("2025-01-31T12:00:00Z"), value),
        source: FastCheck.oneof(FastCheck.constant("s"), value),
        payload: FastCheck.oneof(FastCheck.dictionary(FastCheck.string({ maxLength: 3 }), value, { maxKeys: 3 }), value)
      }, { requiredKeys: [] })
      const input = FastCheck.oneof(
        value,
        event,
        FastCheck.array(event, { maxLength: 4 }),
        FastCheck.string({ maxLength: 60 }), // JSON text, mostly malformed
        FastCheck.array(
          FastCheck.record({
            topic: FastCheck.jsonValue({ maxDepth: 1 }),
            event_id: FastCheck.string({ maxLength: 3 }),
            timestamp: FastCheck.constant("2025-01-31T12:00:00Z"),
            source: FastCheck.jsonValue({ maxDepth: 1 }),
            payload: FastCheck.jsonValue({ maxDepth: 3 })
          }, { requiredKeys: [] }),
          { maxLength: 3 }
        ).map((es) => JSON.stringify(es))
      )
      // 100,000 levels of JavaScript nesting: refused, no stack overflow.
      const tooDeep = await agg.publish({ ...ev("deep"), payload: deep(100_000) }).catch((e: unknown) => e)
      assert.strictEqual((tooDeep as { _tag?: string })._tag, "InvalidEvents")
      const known = new Set(["InvalidEvents", "JsonSyntaxError"])
      let received = (await agg.stats()).received
      await FastCheck.assert(
        FastCheck.asyncProperty(input, async (i) => {
          const outcome = await agg.publish(i).then((r) => ({ ok: r }), (error: unknown) => ({ error }))
          const now = (await agg.stats()).received
          if ("error" in outcome) {
            const tag = (outcome.error as { _tag?: unknown })._tag
            assert.isTrue(typeof tag === "string" && known.has(tag), `untagged rejection: ${String(outcome.error)}`)
            assert.strictEqual(now, received, "a rejection changed the counters")
          } else {
            assert.strictEqual(now, received + outcome.ok.received)
            received = now
          }
        }),
        { numRuns: 500 }
      )
    } finally {
      await agg.close()
    }
  })

  it("rejects at creation when the database cannot be opened", async () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-facade-"))
    try {
      Fs.writeFileSync(Path.join(dir, "file"), "x")
      const error = await createAggregator({ path: Path.join(dir, "file", "db.sqlite") }).catch((e: unknown) => e)
      assert.strictEqual((error as { _tag?: string })._tag, "StoreError")
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
