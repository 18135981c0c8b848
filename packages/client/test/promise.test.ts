// The Promise facade against a real server: every call, follow as an async iterable, tagged rejections.
import { createClient, InvalidArgument, InvalidEvents, Unauthorized } from "@event-aggregator/client/promise"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { quiet, startServer } from "../../server/test/utils.js"
import { event, freshTopic } from "./utils.js"

const KEY = "promise-key"
let url: string
let scope: Scope.CloseableScope

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  const started = await Effect.runPromise(
    startServer({ server: { apiKey: Option.some(Redacted.make(KEY)) } }).pipe(Effect.provide(quiet), Scope.extend(scope))
  )
  url = started.url
})
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

/** Resolves once the server counts `n` followers (a readiness probe). */
const followers = async (client: ReturnType<typeof createClient>, n: number) => {
  while ((await client.stats()).followers !== n) await new Promise((resolve) => setTimeout(resolve, 10))
}

describe("createClient", () => {
  it("publishes, pages, gets and counts; payloads come back as their exact JSON text", async () => {
    const client = createClient({ url, apiKey: KEY })
    try {
      const topic = freshTopic("promise")
      const text = "{\"id\": 18446744073709551615}"
      const published = await client.publish([event(topic, "1", text), event(topic, "2", { a: [1, 2] })], { detail: true })
      assert.deepStrictEqual(published.results?.map((r) => r.status), ["accepted", "accepted"])
      assert.strictEqual((await client.publish(event(topic, "1", text))).duplicates, 1)
      const queued = await client.publish(event(topic, "3"), { ack: "queued" })
      assert.strictEqual(queued.queued, 1)
      // Readiness probe: the queued event is committed (the page below then has one more to follow).
      while ((await client.stats()).pending !== 0) await new Promise((resolve) => setTimeout(resolve, 10))

      const page = await client.events({ topic, limit: 2 })
      assert.deepStrictEqual(page.events.map((e) => e.payload), [text, "{\"a\":[1,2]}"])
      assert.strictEqual(page.next_after, page.events[1]!.seq)
      assert.strictEqual((await client.get(topic, "1"))?.payload, text)
      assert.isUndefined(await client.get(topic, "nope"))
      const stats = await client.stats()
      assert.strictEqual(stats.per_topic[topic]?.duplicate_dropped, 1)
    } finally {
      await client.close()
    }
  })

  it("rejects with the tagged errors themselves, and throws InvalidArgument for bad options", async () => {
    const client = createClient({ url, apiKey: KEY })
    const wrong = createClient({ url, apiKey: "wrong", retries: 0 })
    try {
      const invalid = await client.publish([event(freshTopic(), "1"), { ...event("", "2") }]).catch((e: unknown) => e)
      assert.instanceOf(invalid, InvalidEvents)
      assert.strictEqual((invalid as InvalidEvents)._tag, "InvalidEvents")
      assert.deepStrictEqual((invalid as InvalidEvents).issues.map((i) => i.index), [1])

      const unauthorized = await wrong.stats().catch((e: unknown) => e)
      assert.instanceOf(unauthorized, Unauthorized)
      const fromFollow = await wrong.follow()[Symbol.asyncIterator]().next().catch((e: unknown) => e)
      assert.instanceOf(fromFollow, Unauthorized)

      assert.throws(() => createClient({ url: "localhost:8080" }), InvalidArgument, /url must be an absolute http or https URL/)
      assert.throws(() => createClient({ url, retries: -1 }), InvalidArgument, /retries/)
      assert.throws(() => createClient({ url, timeoutMs: 0 }), InvalidArgument, /timeoutMs/)
    } finally {
      await client.close()
      await wrong.close()
    }
  })

  it("follow is an async iterable: stored then live events; leaving the loop closes the stream", async () => {
    const client = createClient({ url, apiKey: KEY })
    try {
      const topic = freshTopic("promise-follow")
      await client.publish([1, 2].map((i) => event(topic, `e${i}`, { i })))
      const seen: Array<string> = []
      for await (const e of client.follow({ topic })) {
        seen.push(e.event_id)
        // Live: committed once the follower has given out the stored ones.
        if (seen.length === 2) await client.publish(event(topic, "e3", { i: 3 }))
        if (seen.length === 3) break
      }
      assert.deepStrictEqual(seen, ["e1", "e2", "e3"])
      await followers(client, 0)

      // return() ends a pending next() as done, and the connection with it.
      const following = client.follow({ topic, after: "now" })
      const pending = following.next()
      await followers(client, 1)
      await following.return()
      assert.deepStrictEqual(await pending, { done: true, value: undefined })
      await followers(client, 0)

      // close() ends every open follow.
      const open = client.follow({ topic, after: "now" })
      const waiting = open.next()
      await followers(client, 1)
      await client.close()
      assert.deepStrictEqual(await waiting, { done: true, value: undefined })
      const probe = createClient({ url, apiKey: KEY })
      await followers(probe, 0)
      await probe.close()
      await client.stats().then(
        () => assert.fail("a closed client must not answer"),
        (e: unknown) => assert.instanceOf(e, InvalidArgument)
      )
    } finally {
      await client.close()
    }
  })
})
