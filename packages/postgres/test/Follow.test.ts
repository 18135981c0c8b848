// Following the log across instances: a follower of one aggregator gets what another commits, in
// seq order, with no gap and no repeat (announced by NOTIFY from the commit statement).
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Aggregator from "../../core/src/Aggregator.js"
import * as AggregatorConfig from "../../core/src/AggregatorConfig.js"
import type * as Event from "../../core/src/Event.js"
import { event } from "../../core/test/utils.js"
import { PostgresEventStore } from "../src/index.js"
import { available, dropSchemas, freshSchema, urlFor } from "./utils.js"

const reachable = await available()
afterAll(dropSchemas)

const instance = (schema: string) =>
  Effect.flatMap(
    Layer.build(Aggregator.layer.pipe(
      Layer.provide(PostgresEventStore.layerWith({ url: urlFor(schema), maxConnections: 2 })),
      Layer.provide(AggregatorConfig.layer())
    )),
    (ctx) => Effect.provide(Aggregator.Aggregator, ctx)
  )

describe.skipIf(!reachable)("following the log on PostgreSQL", () => {
  it.scopedLive("a follower of instance B gets every event instance A commits, interleaved with B's own, in seq order", () =>
    Effect.gen(function*() {
      const schema = yield* Effect.promise(() => freshSchema("ea_follow"))
      const a = yield* instance(schema)
      const b = yield* instance(schema)
      yield* a.publish([event("t", "before")])
      const got: Array<Event.StoredEvent> = []
      const follower = yield* Effect.fork(Stream.runForEach(b.follow({ topic: "t" }), (e) => Effect.sync(() => got.push(e))))
      while (got.length < 1) yield* Effect.sleep("5 millis")
      // A commits while B's follower is live: B hears of it only through the store's announcements.
      for (let i = 0; i < 20; i++) {
        yield* (i % 3 === 0 ? b : a).publish([event("t", `e${i}`), event("t", `e${i}`), event("other", `o${i}`)])
      }
      const log = (yield* a.events({ topic: "t", after: 0, limit: 1000 })).events
      assert.strictEqual(log.length, 21)
      while (got.length < log.length) yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(follower)
      assert.deepStrictEqual(got.map((e) => e.seq), log.map((e) => e.seq))
      assert.deepStrictEqual(got.map((e) => e.event_id), ["before", ...Array.from({ length: 20 }, (_, i) => `e${i}`)])
    }), { timeout: 60_000 })
})
