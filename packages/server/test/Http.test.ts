import { assert, describe, it } from "@effect/vitest"
import { type Event, EventStore, MemoryEventStore } from "@event-aggregator/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Http from "node:http"
import { allEvents, event, freshTopic, getJson, publish, quiet, request, startServer } from "./utils.js"

const live = <A, E>(name: string, test: () => Effect.Effect<A, E, import("effect/Scope").Scope>) =>
  it.scopedLive(name, () => Effect.provide(test(), quiet))

const statsOf = (url: string) => Effect.map(getJson(url, "/stats"), (r) => r.body)

/** The persisted counters, without the process's own fields. */
const counters = (stats: any) => ({
  received: stats.received,
  unique_processed: stats.unique_processed,
  duplicate_dropped: stats.duplicate_dropped,
  conflicts: stats.conflicts,
  pending: stats.pending,
  per_topic: stats.per_topic
})

describe("POST /publish", () => {
  live("accepts one event, an array, {events: [...]} and NDJSON; drops duplicates", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      const one = yield* publish(url, event(topic, "1"))
      assert.strictEqual(one.status, 200)
      assert.deepStrictEqual(one.body, { received: 1, accepted: 1, duplicates: 0, conflicts: 0 })

      const array = yield* publish(url, [event(topic, "1"), event(topic, "2"), event(topic, "2")])
      assert.deepStrictEqual(array.body, { received: 3, accepted: 1, duplicates: 2, conflicts: 0 })

      const wrapped = yield* publish(url, { events: [event(topic, "3"), event(topic, "1", { other: true })] })
      assert.deepStrictEqual(wrapped.body, { received: 2, accepted: 1, duplicates: 1, conflicts: 1 })

      const ndjson = [event(topic, "4"), event(topic, "3")].map((e) => JSON.stringify(e)).join("\n") + "\n"
      const lines = yield* publish(url, ndjson, { contentType: "application/x-ndjson" })
      assert.strictEqual(lines.status, 200)
      assert.deepStrictEqual(lines.body, { received: 2, accepted: 1, duplicates: 1, conflicts: 0 })

      const stored = yield* allEvents(url, topic)
      assert.deepStrictEqual(stored.map((e) => e.event_id), ["1", "2", "3", "4"])
      const stats = yield* statsOf(url)
      assert.deepStrictEqual(counters(stats), {
        received: 8,
        unique_processed: 4,
        duplicate_dropped: 4,
        conflicts: 1,
        pending: 0,
        per_topic: { [topic]: { unique_processed: 4, duplicate_dropped: 4, conflicts: 1 } }
      })
      assert.deepStrictEqual(stats.topics, [topic])
      assert.strictEqual(stats.workers, 2)
      assert.strictEqual(stats.queue_capacity, null)
    }))

  live("any topic name is counted, \"__proto__\" included", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      yield* publish(url, [event("__proto__", "1"), event("__proto__", "1"), event("constructor", "1")])
      const stats = yield* statsOf(url)
      assert.deepStrictEqual(stats.topics, ["__proto__", "constructor"])
      assert.deepStrictEqual(Object.keys(stats.per_topic), ["__proto__", "constructor"])
      assert.deepStrictEqual(stats.per_topic["constructor"], { unique_processed: 1, duplicate_dropped: 0, conflicts: 0 })
      assert.strictEqual(JSON.stringify(stats).includes(`"__proto__":{"unique_processed":1,"duplicate_dropped":1`), true)
    }))

  live("detail=true gives each event's status and the seq of the copy that won", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      yield* publish(url, [event(topic, "a"), event(topic, "b")])
      const r = yield* publish(url, [event(topic, "c"), event(topic, "a"), event(topic, "b", { x: 1 })], {
        query: "detail=true"
      })
      assert.deepStrictEqual(r.body, {
        received: 3,
        accepted: 1,
        duplicates: 2,
        conflicts: 1,
        results: [
          { index: 0, status: "accepted", seq: 3 },
          { index: 1, status: "duplicate", seq: 1 },
          { index: 2, status: "conflict", seq: 2 }
        ]
      })
      const stored = yield* getJson(url, `/events/${topic}/b`)
      assert.deepStrictEqual(stored.body.payload, {}, "the first copy is never overwritten")
    }))

  live("ack=queued answers 202 at once and the events are committed soon after", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      const r = yield* publish(url, [event(topic, "1"), event(topic, "2")], { query: "ack=queued" })
      assert.strictEqual(r.status, 202)
      assert.deepStrictEqual(r.body, { received: 2, queued: 2 })
      let stats = yield* statsOf(url)
      assert.strictEqual(stats.received, 2, "counted as received when queued, before the commit")
      while (stats.pending > 0) {
        yield* Effect.sleep("5 millis")
        stats = yield* statsOf(url)
      }
      assert.strictEqual((yield* allEvents(url, topic)).length, 2)
      assert.deepStrictEqual([stats.received, stats.unique_processed], [2, 2])
    }))

  live("ACK_MODE=queued makes queued the default; ack=durable still waits", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer({ server: { ackMode: "queued" } })
      const topic = freshTopic()
      assert.strictEqual((yield* publish(url, event(topic, "1"))).status, 202)
      const durable = yield* publish(url, event(topic, "2"), { query: "ack=durable" })
      assert.strictEqual(durable.status, 200)
      assert.strictEqual(durable.body.accepted, 1)
    }))

  live("5,000 events with 20% duplicates are all accounted for", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topics = [freshTopic("a"), freshTopic("b"), freshTopic("c")]
      const unique = Array.from({ length: 4000 }, (_, i) => event(topics[i % 3]!, `e-${i}`, { i }))
      const resent = Array.from({ length: 1000 }, (_, i) => unique[(i * 7) % 4000]!)
      // Interleave the re-sent copies after their originals, in batches of 500.
      const all = [...unique.slice(0, 2000), ...resent.slice(0, 400), ...unique.slice(2000), ...resent.slice(400)]
      const batches = Array.from({ length: 10 }, (_, b) => all.slice(b * 500, b * 500 + 500))
      const replies = yield* Effect.forEach(batches, (batch) => publish(url, batch), { concurrency: 4 })
      const sum = replies.reduce((acc, r) => acc + r.body.accepted, 0)
      // Batches race, so which copy is "the original" may differ; the totals may not.
      assert.strictEqual(sum, 4000)
      const stats = yield* statsOf(url)
      assert.strictEqual(stats.received, 5000)
      assert.strictEqual(stats.unique_processed, 4000)
      assert.strictEqual(stats.duplicate_dropped, 1000)
      assert.strictEqual(stats.conflicts, 0)
      assert.strictEqual(stats.pending, 0)
      const perTopic = topics.map((t) => stats.per_topic[t].unique_processed)
      assert.deepStrictEqual(perTopic, [1334, 1333, 1333])
      const stored = yield* allEvents(url)
      assert.strictEqual(stored.length, 4000)
      assert.strictEqual(new Set(stored.map((e) => `${e.topic}/${e.event_id}`)).size, 4000)
      const filtered = yield* allEvents(url, topics[1])
      assert.isTrue(filtered.every((e) => e.topic === topics[1]))
      assert.strictEqual(filtered.length, 1333)
    }))

  live("20 clients publishing the same keys at once store each key once", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer({ aggregator: { workerCount: 4 } })
      const topic = freshTopic()
      const keys = Array.from({ length: 200 }, (_, i) => event(topic, `k-${i}`))
      const clients = Array.from({ length: 20 }, (_, c) =>
        Effect.forEach(
          Array.from({ length: 10 }, (_, b) => keys.slice(((b + c) % 10) * 20, ((b + c) % 10) * 20 + 20)),
          (batch) => publish(url, batch),
          { concurrency: 1 }
        ))
      const replies = (yield* Effect.all(clients, { concurrency: "unbounded" })).flat()
      assert.isTrue(replies.every((r) => r.status === 200))
      assert.strictEqual(replies.reduce((acc, r) => acc + r.body.accepted, 0), 200)
      const stored = yield* allEvents(url, topic)
      assert.strictEqual(stored.length, 200)
      assert.strictEqual(new Set(stored.map((e) => e.event_id)).size, 200)
      const stats = yield* statsOf(url)
      assert.strictEqual(stats.received, 4000)
      assert.strictEqual(stats.unique_processed, 200)
      assert.strictEqual(stats.duplicate_dropped, 3800)
    }))
})

describe("errors change nothing", () => {
  /** Publishes one event, then checks that `attempt` answers `status` and leaves the counters alone. */
  const rejects = (
    url: string,
    attempt: Effect.Effect<{ readonly status: number; readonly body: any; readonly headers: Headers }>,
    status: number,
    tag: string
  ) =>
    Effect.gen(function*() {
      const before = counters(yield* statsOf(url))
      const storedBefore = (yield* allEvents(url)).length
      const r = yield* attempt
      assert.strictEqual(r.status, status, JSON.stringify(r.body))
      assert.strictEqual(r.body.error, tag)
      assert.isString(r.body.message)
      assert.isAbove(r.body.message.length, 0)
      assert.deepStrictEqual(counters(yield* statsOf(url)), before)
      assert.strictEqual((yield* allEvents(url)).length, storedBefore)
      return r
    })

  live("400 malformed JSON, malformed NDJSON line, bad query parameters", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      yield* publish(url, event(topic, "seed"))
      yield* rejects(url, publish(url, "{\"topic\": "), 400, "BadRequest")
      const ndjson = `${JSON.stringify(event(topic, "1"))}\n{nope\n`
      const r = yield* rejects(url, publish(url, ndjson, { contentType: "application/x-ndjson" }), 400, "BadRequest")
      assert.include(r.body.message, "line 2")
      yield* rejects(url, publish(url, event(topic, "2"), { query: "ack=sometimes" }), 400, "BadRequest")
      yield* rejects(url, publish(url, event(topic, "2"), { query: "ack=queued&ack=durable" }), 400, "BadRequest")
      yield* rejects(url, getJson(url, "/events?limit=0"), 400, "BadRequest")
      yield* rejects(url, getJson(url, "/events?limit=10001"), 400, "BadRequest")
      yield* rejects(url, getJson(url, "/events?after=-1"), 400, "BadRequest")
      yield* rejects(url, getJson(url, "/events?after=abc"), 400, "BadRequest")
    }))

  live("401 without the API key on every route but /health and /ready", () =>
    Effect.gen(function*() {
      const key = "s3cret-key"
      const { url } = yield* startServer({ server: { apiKey: Option.some(Redacted.make(key)) } })
      const topic = freshTopic()
      const auth = { authorization: `Bearer ${key}` }
      assert.strictEqual((yield* publish(url, event(topic, "seed"), { headers: auth })).status, 200)
      const statsWithKey = () => Effect.map(getJson(url, "/stats", auth), (r) => counters(r.body))
      const before = yield* statsWithKey()
      for (const path of ["/stats", "/events", `/events/${topic}/seed`, "/metrics", "/docs", "/openapi.json"]) {
        const r = yield* getJson(url, path)
        assert.strictEqual(r.status, 401, path)
        assert.strictEqual(r.body.error, "Unauthorized")
      }
      const noKey = yield* publish(url, event(topic, "x"))
      assert.strictEqual(noKey.status, 401)
      const wrongKey = yield* publish(url, event(topic, "x"), { headers: { authorization: "Bearer s3cret-kez" } })
      assert.strictEqual(wrongKey.status, 401)
      assert.deepStrictEqual(yield* statsWithKey(), before)
      assert.strictEqual((yield* getJson(url, "/health")).status, 200)
      assert.strictEqual((yield* getJson(url, "/ready")).status, 200)
      assert.strictEqual((yield* getJson(url, `/events/${topic}/seed`, auth)).status, 200)
    }))

  live("404 for an unknown route or a key never accepted, as JSON; keys are URL-decoded", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = `${freshTopic()} with/slash`
      yield* publish(url, event(topic, "id ü/1"))
      yield* rejects(url, getJson(url, "/nope"), 404, "NotFound")
      yield* rejects(url, request(`${url}/stats`, { method: "DELETE" }), 404, "NotFound")
      yield* rejects(url, getJson(url, `/events/${encodeURIComponent(topic)}/missing`), 404, "NotFound")
      const found = yield* getJson(url, `/events/${encodeURIComponent(topic)}/${encodeURIComponent("id ü/1")}`)
      assert.strictEqual(found.status, 200)
      assert.strictEqual(found.body.event_id, "id ü/1")
      assert.strictEqual(found.body.topic, topic)
      assert.strictEqual(found.body.seq, 1)
    }))

  live("413 for a body over MAX_BODY_BYTES (declared or streamed) and for more than MAX_BATCH events", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer({ server: { maxBodyBytes: 64 * 1024, maxBatch: 100 } })
      const topic = freshTopic()
      yield* publish(url, event(topic, "seed"))
      const big = Array.from({ length: 90 }, (_, i) => event(topic, `big-${i}`, { pad: "x".repeat(1000) }))
      const declared = yield* rejects(url, publish(url, big), 413, "PayloadTooLarge")
      assert.strictEqual(declared.body.limit, 64 * 1024)
      const many = Array.from({ length: 101 }, (_, i) => event(topic, `m-${i}`))
      yield* rejects(url, publish(url, many), 413, "PayloadTooLarge")
      const manyLines = many.map((e) => JSON.stringify(e)).join("\n")
      yield* rejects(url, publish(url, manyLines, { contentType: "application/x-ndjson" }), 413, "PayloadTooLarge")

      // Chunked, no Content-Length: 100 MB offered; the server answers once 64 KiB have arrived.
      const streamed = yield* Effect.async<{ status: number; body: any; sent: number; headers: Headers }>((resume) => {
        const target = new URL(`${url}/publish`)
        const req = Http.request({
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: "POST",
          headers: { "content-type": "application/json", "transfer-encoding": "chunked" }
        })
        let sent = 0
        let done = false
        const chunk = Buffer.alloc(16 * 1024, 0x20)
        const pump = () => {
          while (!done && sent < 100 * 1024 * 1024) {
            sent += chunk.length
            if (!req.write(chunk)) return void req.once("drain", pump)
          }
          if (!done) req.end()
        }
        req.on("response", (res) => {
          done = true
          let text = ""
          res.on("data", (c) => (text += c))
          res.on("end", () =>
            resume(Effect.succeed({ status: res.statusCode ?? 0, body: JSON.parse(text), sent, headers: new Headers() })))
        })
        req.on("error", () => {
          // The server closes the connection after answering; the answer already arrived.
        })
        req.write("[")
        pump()
      })
      assert.strictEqual(streamed.status, 413)
      assert.strictEqual(streamed.body.error, "PayloadTooLarge")
      assert.isBelow(streamed.sent, 10 * 1024 * 1024, "answered long before the whole body was sent")
      assert.strictEqual((yield* allEvents(url)).length, 1)
    }))

  live("415 for an unsupported content type", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      yield* publish(url, event(freshTopic(), "seed"))
      yield* rejects(url, publish(url, JSON.stringify(event("t", "1")), { contentType: "text/plain" }), 415, "UnsupportedMediaType")
      yield* rejects(url, request(`${url}/publish`, { method: "POST", body: "x" }), 415, "UnsupportedMediaType")
    }))

  live("422 lists every problem as {index, path, message} and accepts nothing of the request", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      yield* publish(url, event(topic, "seed"))
      const bad = [
        event(topic, "ok-1"),
        { ...event(topic, "x"), timestamp: "2025-02-30T00:00:00Z" },
        { ...event(topic, "y"), extra: 1 },
        { topic: "", event_id: "z", timestamp: "2025-01-01T00:00:00Z", source: "s", payload: [] },
        "not an object"
      ]
      const r = yield* rejects(url, publish(url, bad), 422, "InvalidEvents")
      const where = r.body.issues.map((i: any) => `${i.index}:${i.path}`)
      assert.includeMembers(where, ["1:timestamp", "2:extra", "3:topic", "3:payload"])
      assert.isTrue(r.body.issues.some((i: any) => i.index === 4))
      assert.isTrue(r.body.issues.every((i: any) => typeof i.message === "string" && i.message.length > 0))
      assert.strictEqual((yield* getJson(url, `/events/${topic}/ok-1`)).status, 404, "the valid event was not accepted")
      yield* rejects(url, publish(url, { events: [event(topic, "w")], more: 1 }), 422, "InvalidEvents")
      yield* rejects(url, publish(url, "42"), 422, "InvalidEvents")
      const oversized = event(topic, "big", { pad: "x".repeat(300 * 1024) })
      const big = yield* rejects(url, publish(url, oversized), 422, "InvalidEvents")
      assert.strictEqual(big.body.issues[0].path, "payload")
    }))

  live("503 with Retry-After when the queue is full", () =>
    Effect.gen(function*() {
      // A store whose commits wait for a gate keeps queued events pending.
      const gate = yield* Deferred.make<void>()
      const gated = Layer.effect(
        EventStore.EventStore,
        Effect.map(EventStore.EventStore, (inner) => ({
          ...inner,
          append: (events: ReadonlyArray<Event.Event>) => Effect.zipRight(Deferred.await(gate), inner.append(events))
        }))
      ).pipe(Layer.provide(MemoryEventStore.layer))
      const { url } = yield* startServer({ aggregator: { queueMaxSize: 3 }, store: gated })
      const topic = freshTopic()
      const queued = yield* publish(url, [event(topic, "1"), event(topic, "2"), event(topic, "3")], { query: "ack=queued" })
      assert.strictEqual(queued.status, 202)
      const r = yield* rejects(url, publish(url, event(topic, "4")), 503, "QueueFull")
      assert.strictEqual(r.headers.get("retry-after"), "1")
      assert.strictEqual(r.body.capacity, 3)
      const stats = yield* statsOf(url)
      assert.strictEqual(stats.queue_capacity, 3)
      assert.strictEqual(stats.pending, 3)
      yield* Deferred.succeed(gate, undefined)
      let after = yield* statsOf(url)
      while (after.pending > 0) {
        yield* Effect.sleep("5 millis")
        after = yield* statsOf(url)
      }
      assert.strictEqual(after.unique_processed, 3)
      assert.strictEqual((yield* publish(url, event(topic, "4"))).status, 200, "accepted once there is room")
    }))

  live("413 for one request with more events than the whole queue holds (retrying could never help)", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer({ aggregator: { queueMaxSize: 3 } })
      const topic = freshTopic()
      yield* publish(url, event(topic, "seed"))
      const r = yield* rejects(
        url,
        publish(url, [event(topic, "1"), event(topic, "2"), event(topic, "3"), event(topic, "4")]),
        413,
        "PayloadTooLarge"
      )
      assert.strictEqual(r.body.limit, 3)
      assert.include(r.body.message, "QUEUE_MAXSIZE")
    }))
})

describe("reads and operations", () => {
  live("GET /events pages in seq order with next_after, filtered by topic", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const [a, b] = [freshTopic("a"), freshTopic("b")]
      yield* publish(url, [event(a, "1"), event(b, "1"), event(a, "2"), event(b, "2"), event(a, "3")])
      const first = yield* getJson(url, `/events?topic=${a}&limit=2`)
      assert.deepStrictEqual(first.body.events.map((e: any) => e.seq), [1, 3])
      assert.strictEqual(first.body.next_after, 3)
      const second = yield* getJson(url, `/events?topic=${a}&limit=2&after=3`)
      assert.deepStrictEqual(second.body.events.map((e: any) => e.event_id), ["3"])
      assert.strictEqual(second.body.next_after, null)
      const everything = yield* getJson(url, "/events")
      assert.deepStrictEqual(everything.body.events.map((e: any) => e.seq), [1, 2, 3, 4, 5])
      const e = everything.body.events[0]
      assert.deepStrictEqual(Object.keys(e).sort(), ["event_id", "payload", "received_at", "seq", "source", "timestamp", "topic"])
    }))

  live("/health, /ready, /docs and /openapi.json (the whole contract: publish, bearer key, NDJSON, Retry-After)", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      assert.deepStrictEqual((yield* getJson(url, "/health")).body, { status: "ok" })
      assert.deepStrictEqual((yield* getJson(url, "/ready")).body, { status: "ready" })
      const docs = yield* getJson(url, "/docs")
      assert.strictEqual(docs.status, 200)
      assert.include(docs.body, "swagger")
      assert.include(docs.body, "/publish")
      const spec = (yield* getJson(url, "/openapi.json")).body
      assert.includeMembers(Object.keys(spec.paths), ["/publish", "/events", "/events/{topic}/{event_id}", "/stats", "/health", "/ready", "/metrics"])
      assert.deepStrictEqual(spec.components.securitySchemes.bearer, {
        type: "http",
        scheme: "bearer",
        description: "API_KEY, when the server has one"
      })
      assert.deepStrictEqual(spec.security, [{ bearer: [] }])
      assert.deepStrictEqual(spec.paths["/health"].get.security, [])
      assert.includeMembers(Object.keys(spec.paths["/publish"].post.requestBody.content), ["application/json", "application/x-ndjson"])
      const unavailable = Object.entries(spec.paths).flatMap(([path, ops]: [string, any]) =>
        Object.entries(ops).flatMap(([method, op]: [string, any]) => (op.responses["503"] ? [[`${method} ${path}`, op.responses["503"]]] : []))
      )
      assert.isAtLeast(unavailable.length, 4)
      for (const [where, response] of unavailable) assert.property(response.headers ?? {}, "Retry-After", where)
      // The payload is documented as the object it is on the wire.
      assert.strictEqual(spec.components.schemas.StoredEvent.properties.payload.type, "object")
    }))

  live("/metrics by value: counters, commit sizes and request durations move by exactly the traffic sent", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const scrape = Effect.map(getJson(url, "/metrics"), (r) => r.body as string)
      /** The sum of the samples of `name` whose labels include every `labels` pair. */
      const value = (text: string, name: string, labels: Record<string, string> = {}) =>
        text.split("\n")
          .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
          .filter((line) => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
          .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0)
      const before = yield* scrape
      const topic = freshTopic()
      yield* publish(url, [event(topic, "1"), event(topic, "2"), event(topic, "3")])
      yield* publish(url, [event(topic, "1"), event(topic, "2", { other: true }), event(topic, "4")])
      yield* publish(url, "{", {})
      const after = yield* scrape
      const delta = (name: string, labels?: Record<string, string>) => value(after, name, labels) - value(before, name, labels)
      assert.strictEqual(delta("event_aggregator_events_received_total"), 6)
      assert.strictEqual(delta("event_aggregator_events_unique_total"), 4)
      assert.strictEqual(delta("event_aggregator_events_duplicate_total"), 2)
      assert.strictEqual(delta("event_aggregator_events_conflict_total"), 1)
      assert.strictEqual(value(after, "event_aggregator_queue_depth"), 0)
      assert.strictEqual(delta("event_aggregator_commit_batch_size_count"), 2, "two requests, one after the other: two commits")
      assert.strictEqual(delta("event_aggregator_commit_batch_size_sum"), 6)
      assert.strictEqual(delta("event_aggregator_commit_duration_seconds_count"), 2)
      assert.strictEqual(delta("http_server_request_duration_seconds_count", { route: "/publish", status: "200" }), 2)
      assert.strictEqual(delta("http_server_request_duration_seconds_count", { route: "/publish", status: "400" }), 1)
    }))

  live("group commit over HTTP: publishes that arrive while a commit runs share the next one", () =>
    Effect.gen(function*() {
      // The first commit waits at a gate until all 50 requests are in; a design that commits each
      // request on its own would still make 50 commits, one that groups makes 2 (one worker: the
      // first request alone, then everything that arrived meanwhile).
      const gate = yield* Deferred.make<void>()
      let appends = 0
      const gated = Layer.effect(
        EventStore.EventStore,
        Effect.map(EventStore.EventStore, (inner) => ({
          ...inner,
          append: (events: ReadonlyArray<Event.Event>) =>
            Effect.zipRight(Effect.zipRight(Deferred.await(gate), Effect.sync(() => appends++)), inner.append(events))
        }))
      ).pipe(Layer.provide(MemoryEventStore.layer))
      const { url } = yield* startServer({ store: gated, aggregator: { workerCount: 1 } })
      const topic = freshTopic()
      const load = yield* Effect.fork(Effect.all(
        Array.from({ length: 50 }, (_, i) => publish(url, event(topic, `k${i}`))),
        { concurrency: "unbounded" }
      ))
      let stats = yield* statsOf(url)
      while (stats.pending < 50) stats = yield* statsOf(url)
      yield* Deferred.succeed(gate, undefined)
      const replies = yield* Fiber.join(load)
      assert.isTrue(replies.every((r) => r.status === 200 && r.body.accepted === 1))
      assert.isAtMost(appends, 2, `${appends} commits for 50 concurrent publishes`)
      assert.strictEqual((yield* allEvents(url, topic)).length, 50)
    }))
})
