/** The dashboard's routes over HTTP: its files (open, gzipped, cached), its overview and topics (behind the key). */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Http from "node:http"
import * as Zlib from "node:zlib"
import { quantile } from "../src/internal/history.js"
import { event, freshTopic, getJson, publish, quiet, startServer } from "./utils.js"

const live = <A, E>(name: string, test: () => Effect.Effect<A, E, import("effect/Scope").Scope>) =>
  it.scopedLive(name, () => Effect.provide(test(), quiet))

/** A GET with node:http (fetch would decompress): status, headers and the raw body. */
const raw = (url: string, headers: Record<string, string> = {}) =>
  Effect.async<{ status: number; headers: Http.IncomingHttpHeaders; body: Buffer }>((resume) => {
    Http.get(url, { headers }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) })))
    })
  })

const key = "dashboard-http-key"
const auth = { authorization: `Bearer ${key}` }

describe("dashboard routes", () => {
  live("the page and its files load without the key, gzipped when asked, 304 when unchanged; data needs the key", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer({ server: { apiKey: Option.some(Redacted.make(key)) } })
      for (const path of ["/", "/dashboard", "/dashboard/"]) {
        const page = yield* raw(`${url}${path}`)
        assert.strictEqual(page.status, 200, path)
        assert.match(page.headers["content-type"]!, /^text\/html/)
        assert.include(page.body.toString(), "/dashboard/app.js")
      }
      const plain = yield* raw(`${url}/dashboard/app.js`)
      assert.strictEqual(plain.status, 200)
      assert.match(plain.headers["content-type"]!, /^text\/javascript/)
      const gzipped = yield* raw(`${url}/dashboard/app.js`, { "accept-encoding": "gzip, br" })
      assert.strictEqual(gzipped.headers["content-encoding"], "gzip")
      assert.isBelow(gzipped.body.length, plain.body.length / 2)
      assert.isTrue(Zlib.gunzipSync(gzipped.body).equals(plain.body))
      const again = yield* raw(`${url}/dashboard/app.js`, { "if-none-match": plain.headers.etag! })
      assert.strictEqual(again.status, 304)
      assert.strictEqual((yield* raw(`${url}/dashboard/app.css`)).status, 200)
      assert.strictEqual((yield* raw(`${url}/dashboard/nothing.js`)).status, 401, "not a dashboard file: the API answers, and wants the key")
      assert.strictEqual((yield* getJson(url, "/dashboard/overview")).status, 401)
      assert.strictEqual((yield* getJson(url, "/dashboard/topics")).status, 401)
      assert.strictEqual((yield* getJson(url, "/dashboard/overview", auth)).status, 200)
    }))

  live("overview: totals as /stats says, one history point a second after `since`, commit figures; a bad since is a 400", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      yield* publish(url, [event(topic, "1"), event(topic, "2"), event(topic, "1")])
      // Wait (polling) until the history has two points.
      let overview: any
      for (;;) {
        overview = (yield* getJson(url, "/dashboard/overview")).body
        if (overview.history.length >= 2) break
        yield* Effect.sleep("100 millis")
      }
      const stats = (yield* getJson(url, "/stats")).body
      assert.strictEqual(overview.state, "ready")
      assert.strictEqual(overview.store, "sqlite")
      assert.deepStrictEqual(overview.totals.received, stats.received)
      assert.deepStrictEqual(overview.totals.unique_processed, stats.unique_processed)
      assert.strictEqual(overview.totals.topic_count, stats.topics.length)
      assert.notProperty(overview.totals, "per_topic")
      assert.isAtLeast(overview.commits.groups, 1)
      assert.isNumber(overview.commits.latency_p99_ms)
      const last = overview.history[overview.history.length - 1]
      assert.deepStrictEqual(last.slice(1), [3, 2, 1, 0, 0], "received, unique, duplicates, conflicts, pending")
      const times: Array<number> = overview.history.map((p: Array<number>) => p[0])
      assert.deepStrictEqual(times, [...times].sort((a, b) => a - b))
      const later = (yield* getJson(url, `/dashboard/overview?since=${times[0]}`)).body
      assert.isTrue(later.history.every((p: Array<number>) => p[0]! > times[0]!))
      assert.strictEqual(later.history[0][0], times[1])
      const bad = yield* getJson(url, "/dashboard/overview?since=yesterday")
      assert.strictEqual(bad.status, 400)
      assert.strictEqual(bad.body.error, "BadRequest")
    }))

  live("topics: each topic's counters and the received_at of its newest event", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const [a, b] = [freshTopic("a"), freshTopic("b")]
      yield* publish(url, [event(a, "1"), event(b, "1")])
      yield* publish(url, [event(a, "2"), event(b, "1")])
      const topics = (yield* getJson(url, "/dashboard/topics")).body.topics
      const newestOf = (t: string) => Effect.map(getJson(url, `/events?topic=${t}`), (r) => r.body.events.at(-1).received_at)
      assert.deepStrictEqual(topics.find((t: any) => t.topic === a), {
        topic: a, unique_processed: 2, duplicate_dropped: 0, conflicts: 0, last_event_at: yield* newestOf(a)
      })
      assert.deepStrictEqual(topics.find((t: any) => t.topic === b), {
        topic: b, unique_processed: 1, duplicate_dropped: 1, conflicts: 0, last_event_at: yield* newestOf(b)
      })
    }))
})

describe("commit quantiles from histogram samples", () => {
  const histogram = (values: ReadonlyArray<number>) => {
    const bounds = [1, 2, 4, 8, Number.POSITIVE_INFINITY]
    return { bounds, cumulative: bounds.map((b) => values.filter((v) => v <= b).length), count: values.length, sum: values.reduce((s, v) => s + v, 0) }
  }
  it("interpolates inside the bucket of the rank, over what was recorded between two samples", () => {
    const older = histogram([0.5, 0.5, 0.5, 0.5])
    const newer = histogram([0.5, 0.5, 0.5, 0.5, 3, 3, 3, 3])
    // Between the samples: four values in (2, 4]; the median is inside that bucket.
    const p50 = quantile(older, newer, 0.5)!
    assert.isAbove(p50, 2)
    assert.isAtMost(p50, 4)
    assert.strictEqual(quantile(newer, newer, 0.5), undefined, "nothing recorded in between")
    assert.strictEqual(quantile(undefined, histogram([10]), 0.99), 8, "past the last finite bound: that bound")
  })
})
