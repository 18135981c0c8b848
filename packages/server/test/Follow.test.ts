// Following the log over HTTP, on real sockets: GET /events/stream (Server-Sent Events) and the
// long-poll GET /events?wait=, in-process and as the built server.
import { assert, describe, it } from "@effect/vitest"
import * as HttpServer from "@effect/platform/HttpServer"
import { AggregatorConfig, Event, EventStore, MemoryEventStore } from "@event-aggregator/core"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Path from "node:path"
import * as Follow from "../src/internal/follow.js"
import * as Server from "../src/Server.js"
import * as ServerConfig from "../src/ServerConfig.js"
import * as Sse from "./sse.js"
import {
  allEvents,
  type Child,
  event,
  freshTopic,
  getJson,
  publish,
  quiet,
  spawnServer,
  startServer,
  tempDir
} from "./utils.js"

const live = <A, E>(name: string, test: () => Effect.Effect<A, E, Scope.Scope>, timeout?: number) =>
  it.scopedLive(name, () => Effect.provide(test(), quiet), timeout)

const stats = (url: string) => Effect.map(getJson(url, "/stats"), (r) => r.body)
const followers = (url: string) => Effect.map(stats(url), (s) => s.followers as number)
const seqsOf = (events: ReadonlyArray<any>): Array<number> => events.map((e) => e.seq)
const head = (url: string) => Effect.map(allEvents(url), (events) => events.length === 0 ? 0 : events[events.length - 1].seq as number)

/** Publishes `events` and insists on a durable 200. */
const publishOk = (url: string, body: unknown) =>
  Effect.flatMap(publish(url, body), (r) =>
    r.status === 200 ? Effect.succeed(r.body) : Effect.dieMessage(`publish answered ${r.status}: ${JSON.stringify(r.body)}`))

describe("GET /events/stream", () => {
  live(
    "200 followers (half by topic, some from mid-log) while 20 publishers send 20,000 events with 25% duplicates: each gets exactly the log after its cursor, every event as stored",
    () =>
      Effect.gen(function*() {
        const { url } = yield* startServer()
        const topics = [0, 1, 2, 3].map((t) => freshTopic(`load${t}`))
        // 15,000 keys, each published once by its owner and 5,000 of them again by another publisher:
        // 20,000 events, 25% duplicates. Payloads hold what JSON.parse would change (digits beyond
        // 2^53, 1.50, escapes) and, one in eight, line breaks (SSE splits data at them).
        const UNIQUE = 15_000
        const PUBLISHERS = 20
        const OWN = UNIQUE / PUBLISHERS // 750
        const RESENT = 250
        const payloadText = (k: number) =>
          k % 8 === 0
            ? `{"k":${k},\n  "big":123456789012345678901234567890${k},\n  "f":1.50,\n  "s":"a\\nb \\u00e9"\n}`
            : `{"k":${k},"big":9007199254740993${k},"f":1.50,"s":"a\\nb \\u00e9"}`
        const topicOf = (k: number) => topics[k % 4]!
        const eventText = (k: number) =>
          `{"topic":${JSON.stringify(topicOf(k))},"event_id":"k${k}","timestamp":"2025-01-31T12:00:00Z","source":"load","payload":${
            payloadText(k)
          }}`
        const BATCH = 50
        const batchesOf = (p: number): Array<Array<number>> => {
          const keys: Array<number> = []
          for (let i = 0; i < OWN; i++) keys.push(p * OWN + i)
          // Re-sends of the next publisher's keys, some of them while its own copy is in flight.
          for (let i = 0; i < RESENT; i++) keys.push(((p + 1) % PUBLISHERS) * OWN + ((i * 3) % OWN))
          // A fixed interleaving: re-sends spread among the publisher's own keys.
          keys.sort((a, b) => ((a * 7919) % 1000) - ((b * 7919) % 1000) || a - b)
          const batches: Array<Array<number>> = []
          for (let i = 0; i < keys.length; i += BATCH) batches.push(keys.slice(i, i + BATCH))
          return batches
        }
        const plan = Array.from({ length: PUBLISHERS }, (_, p) => batchesOf(p))
        const send = (keys: ReadonlyArray<number>) =>
          publishOk(url, `[${keys.map(eventText).join(",")}]`)

        // Before the followers: the first 4 batches of every publisher (4,000 events).
        const EARLY = 4
        yield* Effect.forEach(plan, (batches) => Effect.forEach(batches.slice(0, EARLY), send), { concurrency: 5 })
        const mid = yield* head(url)
        assert.isAbove(mid, 1000)

        // The followers: all topics or one, from the start, from mid-log, or from the head now.
        const dataBySeq = new Map<number, string>()
        let mismatches = 0
        const onMessage = (m: Sse.Message) => {
          const seq = Number(m.id)
          const seen = dataBySeq.get(seq)
          if (seen === undefined) dataBySeq.set(seq, m.data)
          else if (seen !== m.data) mismatches++
        }
        const cursors = Array.from({ length: 200 }, (_, i) => ({
          topic: i % 2 === 1 ? topics[(i >> 1) % 4] : undefined,
          after: i % 3 === 0 ? 0 : i % 3 === 1 ? Math.floor(mid / 2) + (i % 7) : mid
        }))
        const streams = yield* Effect.forEach(cursors, (c) =>
          Sse.follow(
            `${url}/events/stream?after=${c.after}${c.topic === undefined ? "" : `&topic=${encodeURIComponent(c.topic)}`}`,
            { onMessage }
          ), { concurrency: 20 })
        assert.isTrue(streams.every((s) => s.status === 200))
        assert.strictEqual(yield* followers(url), 200)

        // The other 16,000 events, 20 publishers at once, while the followers follow.
        yield* Effect.forEach(plan, (batches) => Effect.forEach(batches.slice(EARLY), send), { concurrency: "unbounded" })
        const log = yield* allEvents(url)
        const mine = log.filter((e) => topics.includes(e.topic))
        assert.strictEqual(mine.length, UNIQUE, "each key stored once")
        const expected = cursors.map((c) =>
          seqsOf(log.filter((e) => e.seq > c.after && (c.topic === undefined || e.topic === c.topic)))
        )
        yield* Sse.eventually(
          "every follower has every event after its cursor",
          () => streams.every((s, i) => s.seqs.length >= expected[i]!.length)
        )
        streams.forEach((s, i) => assert.deepStrictEqual(s.seqs, expected[i], `follower ${i} (${JSON.stringify(cursors[i])})`))
        assert.isTrue(expected.every((e) => e.length > 0))
        assert.isTrue(streams.every((s) => s.retry() === 2000 && s.strayCarriageReturns() === 0))
        assert.strictEqual(streams[0]!.headers["content-type"], "text/event-stream")
        assert.strictEqual(streams[0]!.headers["cache-control"], "no-cache")

        // Every message's data is the stored event, byte for byte (written here without EventJson).
        assert.strictEqual(mismatches, 0, "every follower got the same data for a seq")
        for (const e of log) {
          const k = Number(e.event_id.slice(1))
          const text =
            `{"topic":${JSON.stringify(e.topic)},"event_id":${JSON.stringify(e.event_id)},"timestamp":"2025-01-31T12:00:00Z","source":"load","payload":${
              payloadText(k)
            },"seq":${e.seq},"received_at":${JSON.stringify(e.received_at)}}`
          if (dataBySeq.get(e.seq) !== text) assert.strictEqual(dataBySeq.get(e.seq), text, `seq ${e.seq}`)
        }
      }),
    60_000
  )

  live("a follower cut mid-stream resumes with Last-Event-ID while publishes continue: nothing lost, nothing twice", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      const other = freshTopic()
      const batch = (b: number) => Array.from({ length: 50 }, (_, i) => event(i % 5 === 0 ? other : topic, `${b}-${i}`))
      for (let b = 0; b < 10; b++) yield* publishOk(url, batch(b))

      // Publishes run until the resumed follower is under way.
      const resumed = yield* Deferred.make<void>()
      let sent = 10
      const publisher = yield* Effect.fork(Effect.gen(function*() {
        while (sent < 40 || !(yield* Deferred.isDone(resumed))) {
          yield* publishOk(url, batch(sent++))
        }
      }))

      const streamUrl = `${url}/events/stream?topic=${encodeURIComponent(topic)}&after=0`
      const first = yield* Sse.follow(streamUrl)
      yield* Sse.eventually("the first connection got some events", () => first.seqs.length >= 600)
      first.destroy()
      assert.isNull(publisher.unsafePoll(), "publishes continue")
      assert.strictEqual(yield* Effect.promise(() => first.ended), "aborted")
      const lastId = first.lastId()
      assert.strictEqual(lastId, String(first.seqs[first.seqs.length - 1]))
      // The server lets the follower go when its connection goes.
      yield* Sse.until("the cut follower is released", Effect.map(followers(url), (n) => n === 0))

      // Reconnecting as an EventSource does: the same URL, and the last id it saw.
      const second = yield* Sse.follow(streamUrl, { headers: { "last-event-id": lastId! } })
      assert.strictEqual(second.status, 200)
      yield* Sse.eventually("the second connection got events", () => second.seqs.length > 0)
      yield* Deferred.succeed(resumed, undefined)
      yield* Fiber.join(publisher)

      const log = seqsOf(yield* allEvents(url, topic))
      assert.strictEqual(log.length, sent * 40)
      yield* Sse.eventually("the resumed follower has the rest", () => first.seqs.length + second.seqs.length >= log.length)
      assert.deepStrictEqual([...first.seqs, ...second.seqs], log)
    }))

  live("after=now gives only what commits from now on; after and Last-Event-ID are checked", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      yield* publishOk(url, [event(topic, "1"), event(topic, "2")])
      const now = yield* Sse.follow(`${url}/events/stream?after=now&topic=${topic}`)
      assert.strictEqual(now.status, 200)
      yield* publishOk(url, [event(topic, "3"), event(topic, "2"), event(topic, "4")])
      yield* Sse.eventually("two new events", () => now.seqs.length >= 2)
      assert.deepStrictEqual(now.seqs, [3, 4])

      const cases: Array<[string, Record<string, string>, string]> = [
        ["after=x", {}, "after must be an integer of 0 or more, or \"now\", got \"x\""],
        ["after=-1", {}, "after must be an integer of 0 or more, or \"now\", got \"-1\""],
        ["after=1.5", {}, "after must be an integer of 0 or more, or \"now\", got \"1.5\""],
        ["", { "last-event-id": "abc" }, "Last-Event-ID must be a seq (an integer of 0 or more), got \"abc\""],
        ["after=1", { "last-event-id": "-3" }, "Last-Event-ID must be a seq (an integer of 0 or more), got \"-3\""]
      ]
      for (const [query, headers, message] of cases) {
        // Opened as a stream: a cursor wrongly accepted must fail here, not hang on an endless body.
        const r = yield* Sse.follow(`${url}/events/stream?${query}`, { headers })
        assert.strictEqual(r.status, 400, query)
        yield* Effect.promise(() => r.ended)
        assert.deepStrictEqual(JSON.parse(r.body()), { error: "BadRequest", message })
      }
      // Last-Event-ID wins over after.
      const resumed = yield* Sse.follow(`${url}/events/stream?after=0&topic=${topic}`, { headers: { "last-event-id": "3" } })
      yield* Sse.eventually("one event", () => resumed.seqs.length >= 1)
      assert.deepStrictEqual(resumed.seqs, [4])
    }))

  live("after=now starts with the head's id: a client cut before any event resumes there and misses nothing", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      yield* publishOk(url, [event(topic, "1"), event(topic, "2")])
      const head = (yield* allEvents(url)).at(-1).seq
      const first = yield* Sse.follow(`${url}/events/stream?after=now&topic=${topic}`)
      yield* Sse.eventually("the head's id", () => first.lastId() === String(head))
      first.destroy()
      yield* Effect.promise(() => first.ended)
      yield* publishOk(url, [event(topic, "3")])
      const again = yield* Sse.follow(`${url}/events/stream?after=now&topic=${topic}`, { headers: { "last-event-id": first.lastId()! } })
      yield* Sse.eventually("the event committed while away", () => again.seqs.length >= 1)
      assert.deepStrictEqual(again.seqs, [head + 1])
    }))

  live("a payload with carriage returns between its tokens arrives as the same JSON", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      const body = `{"topic":"${topic}","event_id":"cr","timestamp":"2025-01-31T12:00:00Z","source":"s","payload":{"a":1,\r"b":\r\n[2,\r3]}}`
      yield* publishOk(url, body)
      const stream = yield* Sse.follow(`${url}/events/stream?topic=${topic}`, { keep: true })
      yield* Sse.eventually("the event", () => stream.messages.length >= 1)
      assert.strictEqual(stream.strayCarriageReturns(), 0)
      const data = JSON.parse(stream.messages[0]!.data)
      assert.deepStrictEqual(data.payload, { a: 1, b: [2, 3] })
      assert.include(stream.messages[0]!.data, `"payload":{"a":1,\n"b":\n[2,\n3]}`)
    }))

  live("MAX_FOLLOWERS=2: the third stream gets 503 TooManyFollowers with Retry-After; a closed one frees its place", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer({ aggregator: { maxFollowers: 2 } })
      const one = yield* Sse.follow(`${url}/events/stream`)
      const two = yield* Sse.follow(`${url}/events/stream?after=now`)
      assert.deepStrictEqual([one.status, two.status], [200, 200])
      const third = yield* Sse.follow(`${url}/events/stream`)
      assert.strictEqual(third.status, 503)
      assert.strictEqual(third.headers["retry-after"], "1")
      yield* Effect.promise(() => third.ended)
      const body = JSON.parse(third.body())
      assert.strictEqual(body.error, "TooManyFollowers")
      assert.strictEqual(body.limit, 2)
      assert.include(body.message, "MAX_FOLLOWERS")
      // A long poll that has to wait follows the log too.
      const poll = yield* getJson(url, "/events?after=0&wait=5")
      assert.strictEqual(poll.status, 503)
      assert.strictEqual(poll.body.error, "TooManyFollowers")
      assert.strictEqual(poll.headers.get("retry-after"), "1")

      one.destroy()
      yield* Sse.until("a place is free", Effect.map(followers(url), (n) => n === 1))
      const again = yield* Sse.follow(`${url}/events/stream`)
      assert.strictEqual(again.status, 200)
    }))

  live("with API_KEY, /events/stream needs the key", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer({ server: { apiKey: Option.some(Redacted.make("sekret")) } })
      const without = yield* Sse.follow(`${url}/events/stream`)
      assert.strictEqual(without.status, 401)
      yield* Effect.promise(() => without.ended)
      assert.strictEqual(JSON.parse(without.body()).error, "Unauthorized")
      const wrong = yield* Sse.follow(`${url}/events/stream`, { headers: { authorization: "Bearer nope" } })
      assert.strictEqual(wrong.status, 401)
      const withKey = yield* Sse.follow(`${url}/events/stream`, { headers: { authorization: "Bearer sekret" } })
      assert.strictEqual(withKey.status, 200)
      assert.strictEqual(withKey.headers["content-type"], "text/event-stream")
    }))

  live("/openapi.json documents the stream, its errors and the long-poll's wait", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const spec = (yield* getJson(url, "/openapi.json")).body
      const stream = spec.paths["/events/stream"].get
      assert.property(stream.responses["200"].content, "text/event-stream")
      assert.includeMembers(Object.keys(stream.responses), ["200", "400", "401", "503"])
      assert.property(stream.responses["503"].headers, "Retry-After")
      const params = stream.parameters.map((p: any) => `${p.in}:${p.name}`)
      assert.includeMembers(params, ["query:topic", "query:after", "header:last-event-id"])
      assert.includeMembers(spec.paths["/events"].get.parameters.map((p: any) => p.name), ["wait"])
      const unavailable = JSON.stringify(stream.responses["503"])
      for (const tag of ["StoreUnavailable", "TooManyFollowers", "ShuttingDown"]) assert.include(unavailable, `"enum":["${tag}"]`)
    }))
})

describe("GET /events?wait= (long-poll)", () => {
  live("waits for the next event of its topic and answers as soon as it commits", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const [topic, other] = [freshTopic(), freshTopic()]
      yield* publishOk(url, [event(topic, "1"), event(topic, "2")])
      const after = yield* head(url)

      const started = Date.now()
      const poll = yield* Effect.fork(getJson(url, `/events?topic=${topic}&after=${after}&wait=30`))
      yield* Sse.until("the poll waits", Effect.map(followers(url), (n) => n >= 1))
      // Another topic's event does not answer it (nothing must happen meanwhile).
      yield* publishOk(url, event(other, "x"))
      yield* Effect.sleep("200 millis")
      assert.isNull(poll.unsafePoll(), "still waiting after another topic's commit")

      yield* publishOk(url, event(topic, "3"))
      const answer = yield* Fiber.join(poll)
      const elapsed = Date.now() - started
      assert.strictEqual(answer.status, 200)
      assert.deepStrictEqual(answer.body.events.map((e: any) => e.event_id), ["3"])
      assert.strictEqual(answer.body.next_after, null)
      assert.isBelow(elapsed, 10_000, `answered after ${elapsed} ms`)
      assert.strictEqual(yield* followers(url), 0, "the wait let its follower go")
    }))

  live("answers at once when a page exists or wait=0; an empty page when the wait runs out; wait is checked", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      yield* publishOk(url, [event(topic, "1"), event(topic, "2")])

      let started = Date.now()
      const existing = yield* getJson(url, `/events?topic=${topic}&after=0&wait=30`)
      assert.deepStrictEqual(existing.body.events.map((e: any) => e.event_id), ["1", "2"])
      assert.isBelow(Date.now() - started, 2_000)

      started = Date.now()
      const atOnce = yield* getJson(url, `/events?topic=${topic}&after=2&wait=0`)
      assert.deepStrictEqual(atOnce.body, { events: [], next_after: null })
      assert.isBelow(Date.now() - started, 2_000)

      started = Date.now()
      const runsOut = yield* getJson(url, `/events?topic=${topic}&after=2&wait=1`)
      const elapsed = Date.now() - started
      assert.deepStrictEqual(runsOut.body, { events: [], next_after: null })
      assert.isAtLeast(elapsed, 950)
      assert.isBelow(elapsed, 5_000)

      for (const wait of ["61", "-1", "x", "1.5", "100"]) {
        const r = yield* getJson(url, `/events?after=2&wait=${wait}`)
        assert.strictEqual(r.status, 400, wait)
        assert.deepStrictEqual(r.body, {
          error: "BadRequest",
          message: `wait must be an integer from 0 to 60 (seconds), got ${JSON.stringify(wait)}`
        })
      }
      assert.strictEqual((yield* getJson(url, "/events?after=2&wait=60&limit=0")).status, 400)
    }))
})

describe("event streams at shutdown", () => {
  live("drain ends every stream and long poll at once (before the requests in flight are answered); a new stream gets 503", () =>
    Effect.gen(function*() {
      // The publish in flight holds the drain open until the test lets it commit.
      const commit = yield* Deferred.make<void>()
      // Whatever happens, the held publish is let go at the end, so the server can stop.
      yield* Effect.addFinalizer(() => Deferred.succeed(commit, undefined))
      let hold = false
      const held = Layer.effect(
        EventStore.EventStore,
        Effect.map(MemoryEventStore.make, (inner) => ({
          ...inner,
          append: (events: ReadonlyArray<Event.Event>) =>
            Effect.zipRight(hold ? Deferred.await(commit) : Effect.void, inner.append(events))
        }))
      )
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Server.layer(held).pipe(
          Layer.provide(AggregatorConfig.layer()),
          Layer.provide(ServerConfig.layer({ port: 0, host: "127.0.0.1", shutdownTimeoutMillis: 20_000 }))
        ),
        scope
      )
      const address = Context.get(context, HttpServer.HttpServer).address
      const url = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
      const topic = freshTopic()
      yield* publishOk(url, [event(topic, "1"), event(topic, "2")])
      const streams = yield* Effect.forEach([0, 1, 2], () => Sse.follow(`${url}/events/stream?topic=${topic}`))
      yield* Sse.eventually("the streams caught up", () => streams.every((s) => s.seqs.length === 2))
      const poll = yield* Effect.fork(getJson(url, `/events?topic=${topic}&after=2&wait=60`))
      yield* Sse.until("the poll waits", Effect.map(followers(url), (n) => n === 4))

      hold = true
      const inFlight = yield* Effect.fork(publish(url, event(freshTopic(), "in-flight")))
      yield* Sse.until("the publish is in flight", Effect.map(stats(url), (s) => s.pending === 1))
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))

      // Well inside the 20 s shutdown timeout: the streams end when drain begins, not when it gives up.
      const ends = yield* Effect.promise(() => Promise.all(streams.map((s) => s.ended))).pipe(
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "the streams did not end when drain began" })
      )
      assert.deepStrictEqual(ends, ["end", "end", "end"], "every stream completed")
      const polled = yield* Fiber.join(poll)
      assert.deepStrictEqual(polled.body, { events: [], next_after: null })
      assert.isNull(inFlight.unsafePoll(), "the publish in flight is still held: the streams ended at drain start")
      const refused = yield* Sse.follow(`${url}/events/stream`)
      assert.strictEqual(refused.status, 503)
      assert.strictEqual(refused.headers["retry-after"], "1")
      yield* Effect.promise(() => refused.ended)
      assert.strictEqual(JSON.parse(refused.body()).error, "ShuttingDown")

      yield* Deferred.succeed(commit, undefined)
      assert.strictEqual((yield* Fiber.join(inFlight)).status, 200)
      yield* Fiber.join(closing)
    }))

  it.scopedLive("SIGTERM with 50 live followers: every stream completes, the process exits 0 without waiting for the shutdown timeout, and each resumes after a restart", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = { DEDUP_DB_PATH: Path.join(dir, "dedup.sqlite"), SQLITE_SYNCHRONOUS: "NORMAL" }
      const topic = freshTopic()
      const start = Effect.acquireRelease(Effect.promise(() => spawnServer(env)), (child: Child) =>
        Effect.sync(() => {
          if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
        }))
      const first = yield* start
      for (let b = 0; b < 10; b++) {
        yield* publishOk(first.url, Array.from({ length: 100 }, (_, i) => event(i % 2 ? topic : `${topic}-b`, `${b}-${i}`)))
      }
      const cursorOf = (i: number) => (i % 2 === 0 ? "" : `topic=${encodeURIComponent(topic)}`)
      const streams = yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        (i) => Sse.follow(`${first.url}/events/stream?${cursorOf(i)}`),
        { concurrency: 10 }
      )
      yield* Sse.eventually("every follower caught up", () => streams.every((s, i) => s.seqs.length === (i % 2 === 0 ? 1000 : 500)))
      // Publishes keep coming while the server stops (some are refused, some land).
      let stopping = false
      const publisher = yield* Effect.fork(Effect.gen(function*() {
        for (let b = 10; !stopping; b++) {
          yield* Effect.promise(() =>
            fetch(`${first.url}/publish`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify([event(topic, `${b}-x`)])
            }).then((r) => r.text(), () => "")
          )
        }
      }))

      const started = Date.now()
      first.process.kill("SIGTERM")
      const ends = yield* Effect.promise(() => Promise.all(streams.map((s) => s.ended)))
      const code = yield* Effect.promise(() => first.exited)
      const elapsed = Date.now() - started
      stopping = true
      yield* Fiber.join(publisher)
      assert.deepStrictEqual(new Set(ends), new Set(["end"]), "every response completed")
      assert.strictEqual(code, 0, first.output())
      assert.isBelow(elapsed, 5_000, `exited ${elapsed} ms after SIGTERM (the shutdown timeout is 10 s)`)
      assert.notInclude(first.output(), "shutdown timeout")

      // Elsewhere (here: the same store, restarted), each resumes after its last id.
      const second = yield* start
      const resumed = yield* Effect.forEach(
        streams,
        (s, i) =>
          Sse.follow(`${second.url}/events/stream?${cursorOf(i)}`, {
            headers: s.lastId() === undefined ? {} : { "last-event-id": s.lastId()! }
          }),
        { concurrency: 10 }
      )
      const all = seqsOf(yield* allEvents(second.url))
      const mine = seqsOf(yield* allEvents(second.url, topic))
      yield* Sse.eventually(
        "every follower has the whole log",
        () => resumed.every((r, i) => streams[i]!.seqs.length + r.seqs.length >= (i % 2 === 0 ? all : mine).length)
      )
      streams.forEach((s, i) => assert.deepStrictEqual([...s.seqs, ...resumed[i]!.seqs], i % 2 === 0 ? all : mine, `follower ${i}`))
    }).pipe(Effect.provide(quiet)))
})

describe("the SSE body", () => {
  it.scoped("retry first, then a keep-alive comment after 15 s without a message, not while events flow", () =>
    Effect.gen(function*() {
      const events = yield* Queue.unbounded<Event.StoredEvent>()
      // As a follower's stream does: its first pull answers at once (its first catch-up page, here empty).
      let first = true
      const source = Stream.repeatEffectChunk(Effect.suspend(() => {
        if (!first) return Effect.map(Queue.take(events), Chunk.of)
        first = false
        return Effect.succeed(Chunk.empty<Event.StoredEvent>())
      }))
      const response = yield* Follow.eventStream(source, Effect.never)
      assert.strictEqual(response.body._tag, "Stream")
      if (response.body._tag !== "Stream") return
      const out = yield* Queue.unbounded<string>()
      yield* Effect.forkScoped(response.body.stream.pipe(
        Stream.decodeText(),
        Stream.runForEach((text) => Queue.offer(out, text))
      ))
      assert.strictEqual(yield* Queue.take(out), "retry: 2000\n\n")
      yield* TestClock.adjust("10 seconds")
      yield* Queue.offer(events, {
        topic: "t",
        event_id: "e",
        timestamp: "2025-01-31T12:00:00Z",
        source: "s",
        payload: Event.Payload.make("{\"a\":\n1}"),
        seq: 7,
        received_at: "2025-01-31T12:00:01.000Z"
      })
      assert.strictEqual(
        yield* Queue.take(out),
        "id: 7\ndata: {\"topic\":\"t\",\"event_id\":\"e\",\"timestamp\":\"2025-01-31T12:00:00Z\",\"source\":\"s\",\"payload\":{\"a\":\ndata: 1},\"seq\":7,\"received_at\":\"2025-01-31T12:00:01.000Z\"}\n\n"
      )
      // 10 s after the event (20 s after the start): a fixed 15 s beat would have spoken by now.
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Queue.takeAll(out)), [])
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* Queue.take(out), ": keep-alive\n\n")
      yield* TestClock.adjust("15 seconds")
      assert.strictEqual(yield* Queue.take(out), ": keep-alive\n\n")
    }))
})
