// The Effect client against a real server (in-process, SQLite in a temp dir) on a free port.
import { Client, ClientError } from "@event-aggregator/client"
import { assert, describe, it } from "@effect/vitest"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Chunk from "effect/Chunk"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { quiet, startServer } from "../../server/test/utils.js"
import { event, freshTopic, proxy } from "./utils.js"

/** 2^64 - 1: a double cannot hold it (JSON.parse gives 18446744073709552000). */
const BIG = "18446744073709551615"

/** A test on real time, the servers it starts logging only warnings. */
const live = <A, E>(name: string, test: () => Effect.Effect<A, E, Scope.Scope>) =>
  it.scopedLive(name, () => Effect.provide(test(), quiet))

const clientOf = (baseUrl: string, options: Partial<Client.Options> = {}) =>
  Client.make({ baseUrl, ...options }).pipe(Effect.provide(FetchHttpClient.layer))

describe("Client against a real server", () => {
  live("publishes and reads back a payload with an integer beyond 2^53, every digit kept", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* clientOf(server.url)
      const topic = freshTopic()
      const text = `{"id": ${BIG}, "price": 1.50, "s": "caf\\u00e9"}`

      const published = yield* client.publish(
        [event(topic, "text", text), event(topic, "value", { n: 1, nested: { ok: true } }), event(topic, "text", text)],
        { detail: true }
      )
      assert.deepStrictEqual(
        { received: published.received, accepted: published.accepted, duplicates: published.duplicates },
        { received: 3, accepted: 2, duplicates: 1 }
      )
      assert.deepStrictEqual(published.results?.map((r) => r.status), ["accepted", "accepted", "duplicate"])

      const page = yield* client.events({ topic })
      assert.deepStrictEqual(page.events.map((e) => e.event_id), ["text", "value"])
      assert.strictEqual(page.events[0]!.payload, text, "the payload's text, exactly as published")
      assert.include(page.events[0]!.payload, BIG)
      assert.deepStrictEqual(JSON.parse(page.events[1]!.payload), { n: 1, nested: { ok: true } })
      assert.strictEqual(page.next_after, null)
      assert.strictEqual(page.events[0]!.seq, published.results![0]!.seq)

      const got = yield* client.get({ topic, event_id: "text" })
      assert.strictEqual(Option.getOrThrow(got).payload, text)
      assert.isTrue(Option.isNone(yield* client.get({ topic, event_id: "missing" })))
      // Keys that need encoding in a path.
      yield* client.publish(event(topic, "a/b c?d", { k: 1 }))
      assert.strictEqual(Option.getOrThrow(yield* client.get({ topic, event_id: "a/b c?d" })).event_id, "a/b c?d")

      const stats = yield* client.stats
      assert.deepStrictEqual(stats.per_topic[topic], { unique_processed: 3, duplicate_dropped: 1, conflicts: 0 })

      const queued = yield* client.publish(event(topic, "queued", {}), { ack: "queued" })
      assert.deepStrictEqual(queued, { received: 1, queued: 1 })

      // A whole body as JSON text is sent as is.
      const body = yield* client.publish(`{"events": [${JSON.stringify(event(topic, "body", {}))}]}`)
      assert.strictEqual(body.accepted, 1)
    }))

  live("an invalid batch fails with InvalidEvents listing every problem, and stores nothing", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* clientOf(server.url)
      const topic = freshTopic()
      const error = yield* Effect.flip(client.publish([
        event(topic, "ok"),
        { ...event(topic, "bad-time"), timestamp: "yesterday" },
        { ...event("", "no-topic") }
      ]))
      assert.instanceOf(error, ClientError.InvalidEvents)
      assert.deepStrictEqual(error.issues.map((i) => [i.index, i.path]), [[1, "timestamp"], [2, "topic"]])
      assert.strictEqual((yield* client.events({ topic })).events.length, 0, "all or nothing")

      // A payload given as text that is not JSON never leaves the process: the server counts nothing.
      const before = (yield* client.stats).received
      const local = yield* Effect.flip(client.publish([event(topic, "1"), event(topic, "2", "{\"a\": 1}, \"topic\": \"x\"")]))
      assert.strictEqual(local._tag, "InvalidEvents")
      if (local._tag !== "InvalidEvents") return
      assert.deepStrictEqual(local.issues.map((i) => [i.index, i.path]), [[1, "payload"]])
      assert.match(local.message, /^1 problem in the events: event 1 payload: is not JSON text/)
      assert.strictEqual((yield* client.stats).received, before)

      const badQuery = yield* Effect.flip(client.events({ limit: 0 }))
      assert.strictEqual(badQuery._tag, "BadRequest")
    }))

  live("a wrong API key fails every call with Unauthorized; the right one is sent as a bearer token", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ server: { apiKey: Option.some(Redacted.make("s3cret")) } })
      const wrong = yield* clientOf(server.url, { apiKey: "nope", retry: { times: 3 } })
      const topic = freshTopic()
      for (
        const call of [
          wrong.publish(event(topic, "1")),
          wrong.events(),
          wrong.get({ topic, event_id: "1" }),
          wrong.stats,
          Stream.runDrain(wrong.follow())
        ] as const
      ) {
        const error = yield* Effect.flip(call as Effect.Effect<unknown, ClientError.ClientError>)
        assert.instanceOf(error, ClientError.Unauthorized)
        assert.match(error.message, /^missing or wrong API key/)
      }
      const right = yield* clientOf(server.url, { apiKey: Redacted.make("s3cret") })
      assert.strictEqual((yield* right.publish(event(topic, "1"))).accepted, 1)
      assert.strictEqual((yield* right.stats).per_topic[topic]?.unique_processed, 1)
    }))

  live("follow gives stored then live events, and resumes after a cut connection with no repeat and no gap", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const front = yield* proxy(server.url)
      const writer = yield* clientOf(server.url)
      const reader = yield* clientOf(front.url)
      const topic = freshTopic()
      yield* writer.publish([1, 2, 3].map((i) => event(topic, `e${i}`, `{"i":${i},"big":${BIG}}`)))

      const received: Array<Client.StoredEvent> = []
      const [three, five, eight] = [yield* Deferred.make<void>(), yield* Deferred.make<void>(), yield* Deferred.make<void>()]
      /** Opened once that many events have arrived. */
      const reached = new Map([[3, three], [5, five], [8, eight]])
      const reconnects: Array<Client.Reconnect> = []
      const follower = yield* reader.follow({
        topic,
        after: 0,
        onReconnect: (r) => Effect.sync(() => reconnects.push(r))
      }).pipe(
        Stream.tap((e) =>
          Effect.suspend(() => {
            received.push(e)
            const gate = reached.get(received.length)
            return gate === undefined ? Effect.void : Deferred.succeed(gate, undefined)
          })
        ),
        Stream.take(8),
        Stream.runCollect,
        Effect.fork
      )
      yield* Deferred.await(three)
      // Live: committed after the follower caught up.
      yield* writer.publish([4, 5].map((i) => event(topic, `e${i}`, `{"i":${i}}`)))
      yield* Deferred.await(five)
      front.cut()
      // Committed while the follower is disconnected: it must get them on reconnecting.
      yield* writer.publish([6, 7, 8].map((i) => event(topic, `e${i}`, `{"i":${i}}`)))
      yield* Deferred.await(eight)
      const events = Chunk.toArray(yield* Fiber.join(follower))

      assert.deepStrictEqual(events.map((e) => e.event_id), [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `e${i}`))
      const seqs = events.map((e) => e.seq)
      seqs.forEach((s, i) => i > 0 && assert.isAbove(s, seqs[i - 1]!, "ascending, no repeat"))
      assert.strictEqual(events[0]!.payload, `{"i":1,"big":${BIG}}`)
      assert.strictEqual(reconnects.length, 1)
      assert.strictEqual(reconnects[0]!.after, seqs[4])
      assert.strictEqual(reconnects[0]!.error._tag, "RequestError")
      // The second connection asked to resume after the last event it had.
      const streams = front.heads.filter((h) => h.startsWith("GET /events/stream"))
      assert.strictEqual(streams.length, 2)
      assert.notMatch(streams[0]!, /last-event-id/i)
      assert.match(streams[1]!, new RegExp(`\\r\\nlast-event-id: ${seqs[4]}\\r\\n`, "i"))
      // The whole log agrees: the follower saw every event of the topic, once.
      const page = yield* writer.events({ topic })
      assert.deepStrictEqual(page.events.map((e) => e.seq), seqs)
    }))

  live("follow from now gives only what commits after it connected", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const client = yield* clientOf(server.url)
      const topic = freshTopic()
      yield* client.publish(event(topic, "old"))
      const follower = yield* client.follow({ topic, after: "now" }).pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      // Readiness: the server counts the follower once it is subscribed.
      while ((yield* client.stats).followers < 1) yield* Effect.sleep("10 millis")
      yield* client.publish(event(topic, "new"))
      const [e] = Chunk.toArray(yield* Fiber.join(follower))
      assert.strictEqual(e!.event_id, "new")
    }))
})

describe("layers", () => {
  live("layerConfig reads EVENT_AGGREGATOR_URL and EVENT_AGGREGATOR_API_KEY", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ server: { apiKey: Option.some(Redacted.make("k")) } })
      const env = (map: Record<string, string>) =>
        Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(map))))
      const stats = Effect.flatMap(Client.EventAggregatorClient, (c) => c.stats)
      const ok = yield* stats.pipe(
        Effect.provide(Client.layerConfig().pipe(
          Layer.provide(FetchHttpClient.layer),
          Layer.provide(env({ EVENT_AGGREGATOR_URL: `${server.url}/`, EVENT_AGGREGATOR_API_KEY: "k" }))
        ))
      )
      assert.strictEqual(ok.received, 0)
      const missing = yield* stats.pipe(
        Effect.provide(Client.layerConfig().pipe(Layer.provide(FetchHttpClient.layer), Layer.provide(env({})))),
        Effect.either
      )
      assert.isTrue(Either.isLeft(missing))
      if (Either.isLeft(missing)) assert.include(String(missing.left), "EVENT_AGGREGATOR_URL")
      const bad = yield* stats.pipe(
        Effect.provide(Client.layerConfig().pipe(
          Layer.provide(FetchHttpClient.layer),
          Layer.provide(env({ EVENT_AGGREGATOR_URL: "localhost:8080" }))
        )),
        Effect.either
      )
      assert.isTrue(Either.isLeft(bad))
      if (Either.isLeft(bad)) assert.include(String(bad.left), "must be an absolute http or https URL")
    }))
})
