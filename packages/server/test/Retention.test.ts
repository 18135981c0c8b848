import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { event, getJson, publish, quiet, startServer } from "./utils.js"

/**
 * Reads `/stats` until `done` holds. The pruner runs on the TestClock, but its store calls are real
 * I/O: a pass woken during `TestClock.adjust` may read the clock before the adjustment ends and then
 * sleep past it. So now and then the clock moves one more second (at most 10: the test leaves wider
 * margins), which wakes the next pass.
 */
const statsWhen = (url: string, done: (stats: any) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      const stats = (yield* getJson(url, "/stats")).body
      if (done(stats)) return stats
      if (i % 100 === 99) yield* TestClock.adjust("1 second")
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage("the condition never held")
  })

/** The start of an event stream, up to and including the first event message. */
const streamStart = (url: string) =>
  Effect.promise(async () => {
    const controller = new AbortController()
    const response = await fetch(url, { signal: controller.signal })
    const reader = response.body!.getReader()
    let text = ""
    while (!text.includes("data: {\"topic\"")) {
      const { done, value } = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)

    }
    controller.abort()
    return { status: response.status, text }
  })

describe("retention over HTTP", () => {
  // TestClock: the in-process server's pruner runs when the test moves time on. Seconds, not hours:
  // every simulated second also wakes the dashboard's 1 s sampler.
  it.scoped("410 while the key is remembered, then 404; pruned_before on pages and streams; per-topic stats", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer({
        aggregator: {
          retention: "60s",
          dedupWindow: "120s",
          topicRetention: { keep: "forever" },
          topicDedupWindow: { keep: "forever" },
          pruneIntervalMs: 1000
        }
      })
      const first = yield* publish(url, [event("logs", "a", { n: 1 }), event("logs", "b")], { query: "detail=true" })
      assert.strictEqual(first.status, 200)
      const seqA = first.body.results[0].seq
      const seqB = first.body.results[1].seq
      yield* TestClock.adjust("30 seconds")
      const kept = (yield* publish(url, [event("logs", "c"), event("keep", "x")], { query: "detail=true" })).body.results
      assert.strictEqual((yield* getJson(url, "/events/logs/a")).status, 200)

      yield* TestClock.adjust("31 seconds")
      const stats = yield* statsWhen(url, (s) => s.per_topic.logs.stored === 1)
      assert.deepStrictEqual(stats.per_topic.logs, {
        unique_processed: 3,
        duplicate_dropped: 0,
        conflicts: 0,
        stored: 1,
        oldest_seq: kept[0].seq,
        key_records: 2,
        retention: "1m",
        dedup_window: "2m"
      })
      assert.deepStrictEqual([stats.per_topic.keep.retention, stats.per_topic.keep.stored], ["forever", 1])
      assert.deepStrictEqual(stats.retention, { retention: "1m", dedup_window: "2m" })
      assert.strictEqual(stats.received, 4)

      const gone = yield* getJson(url, "/events/logs/a")
      assert.strictEqual(gone.status, 410)
      assert.deepStrictEqual([gone.body.error, gone.body.seq], ["Gone", seqA])
      const page = (yield* getJson(url, "/events?topic=logs&after=0")).body
      assert.deepStrictEqual([page.events.map((e: any) => e.event_id), page.pruned_before], [["c"], seqB + 1])
      assert.isUndefined((yield* getJson(url, `/events?topic=logs&after=${seqB}`)).body.pruned_before)
      assert.isUndefined((yield* getJson(url, "/events?topic=keep")).body.pruned_before)
      const stream = yield* streamStart(`${url}/events/stream?topic=logs&after=0`)
      assert.strictEqual(stream.status, 200)
      assert.include(stream.text, `event: pruned\ndata: {"pruned_before":${seqB + 1}}\n\n`)
      assert.isTrue(stream.text.indexOf("event: pruned") < stream.text.indexOf(`id: ${kept[0].seq}`))

      // A late re-send is still a duplicate of the original, or a conflict.
      const late = yield* publish(url, [event("logs", "a", { n: 1 }), event("logs", "a", { n: 2 })], { query: "detail=true" })
      assert.deepStrictEqual(late.body.results.map((r: any) => [r.status, r.seq]), [["duplicate", seqA], ["conflict", seqA]])

      const metrics = (yield* getJson(url, "/metrics")).body as string
      assert.match(metrics, /event_aggregator_events_pruned_total\S* 2\b/)
      assert.match(metrics, /event_aggregator_key_records\S* 2\b/)

      // Past the window: forgotten, 404, and accepted anew with a new seq.
      yield* TestClock.adjust("60 seconds")
      yield* statsWhen(url, (s) => s.per_topic.logs.key_records === 1)
      assert.strictEqual((yield* getJson(url, "/events/logs/a")).status, 404)
      const again = yield* publish(url, [event("logs", "a")], { query: "detail=true" })
      assert.strictEqual(again.body.results[0].status, "accepted")
      assert.isTrue(again.body.results[0].seq > kept[1].seq)
    }).pipe(Effect.provide(quiet)))

  it.scoped("/openapi.json documents 410 Gone and pruned_before", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const spec = (yield* getJson(url, "/openapi.json")).body
      const get = spec.paths["/events/{topic}/{event_id}"].get
      assert.property(get.responses, "410")
      assert.include(JSON.stringify(spec.components.schemas.Page), "pruned_before")
    }).pipe(Effect.provide(quiet)))

  it.scoped("a bad retention setting refuses to start, naming the setting", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(startServer({ aggregator: { retention: "30d", dedupWindow: "1d" } }))
      assert.include(String(error), "DEDUP_WINDOW")
    }).pipe(Effect.provide(quiet)))
})
