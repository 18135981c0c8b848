// Start-up and shutdown, in-process: /health answers from the first moment, /ready says 503 while
// the store opens and while the queue drains, and what is in flight is answered before the end.
import { assert, describe, it } from "@effect/vitest"
import { AggregatorConfig, type Event, EventStore, MemoryEventStore } from "@event-aggregator/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scope from "effect/Scope"
import * as Net from "node:net"
import * as Server from "../src/Server.js"
import * as ServerConfig from "../src/ServerConfig.js"
import { event, freshTopic, getJson, publish, quiet, type Reply } from "./utils.js"

/** A port nobody listens on right now. */
const freePort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const probe = Net.createServer()
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as Net.AddressInfo).port
      probe.close(() => resolve(port))
    })
  })
)

/** Retries `request` until `done` holds for its reply (connection refused counts as not yet). */
const until = (request: Effect.Effect<Reply>, done: (r: Reply) => boolean) =>
  Effect.gen(function*() {
    for (;;) {
      const r = yield* Effect.either(Effect.catchAllDefect(request, (d) => Effect.fail(d)))
      if (r._tag === "Right" && done(r.right)) return r.right
      yield* Effect.sleep("5 millis")
    }
  })

const serverOn = (port: number, store: Layer.Layer<EventStore.EventStore>, shutdownTimeoutMillis = 5_000) =>
  Server.layer(store).pipe(
    Layer.provide(AggregatorConfig.layer()),
    Layer.provide(ServerConfig.layer({ port, host: "127.0.0.1", shutdownTimeoutMillis }))
  )

/** A memory store whose commits wait for `commit`. */
const heldStore = (commit: Deferred.Deferred<void>) =>
  Layer.effect(
    EventStore.EventStore,
    Effect.map(MemoryEventStore.make, (inner) => ({
      ...inner,
      append: (events: ReadonlyArray<Event.Event>) => Effect.zipRight(Deferred.await(commit), inner.append(events))
    }))
  )

describe("server lifecycle", () => {
  it.scopedLive("while the store opens: /health 200, /ready and every other route 503 with Retry-After; then ready", () =>
    Effect.gen(function*() {
      const opened = yield* Deferred.make<void>()
      const slowStore = Layer.effect(EventStore.EventStore, Effect.zipRight(Deferred.await(opened), MemoryEventStore.make))
      const port = yield* freePort
      const url = `http://127.0.0.1:${port}`
      const starting = yield* Effect.fork(Layer.build(serverOn(port, slowStore)))

      const ready = yield* until(getJson(url, "/ready"), () => true)
      assert.strictEqual(ready.status, 503)
      assert.strictEqual(ready.body.error, "NotReady")
      assert.include(ready.body.message, "starting")
      assert.strictEqual(ready.headers.get("retry-after"), "1")
      assert.deepStrictEqual((yield* getJson(url, "/health")).body, { status: "ok" })
      const early = yield* publish(url, event(freshTopic(), "1"))
      assert.strictEqual(early.status, 503)
      assert.strictEqual(early.headers.get("retry-after"), "1")
      assert.strictEqual((yield* getJson(url, "/stats")).status, 503)

      yield* Deferred.succeed(opened, undefined)
      yield* Fiber.join(starting)
      assert.deepStrictEqual((yield* getJson(url, "/ready")).body, { status: "ready" })
      assert.strictEqual((yield* publish(url, event(freshTopic(), "1"))).status, 200)
    }).pipe(Effect.provide(quiet)))

  it.scopedLive("while the queue drains: /ready 503, new work refused with Retry-After, the publish in flight answered 200", () =>
    Effect.gen(function*() {
      const commit = yield* Deferred.make<void>()
      const held = heldStore(commit)
      const port = yield* freePort
      const url = `http://127.0.0.1:${port}`
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(serverOn(port, held), scope)
      const topic = freshTopic()
      const inFlight = yield* Effect.fork(publish(url, event(topic, "in-flight")))
      yield* until(getJson(url, "/stats"), (r) => r.body.pending === 1)

      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      const draining = yield* until(getJson(url, "/ready"), (r) => r.status === 503)
      assert.include(draining.body.message, "draining")
      assert.strictEqual(draining.headers.get("retry-after"), "1")
      assert.strictEqual(draining.headers.get("connection"), "close")
      assert.strictEqual((yield* getJson(url, "/health")).status, 200)
      const refused = yield* publish(url, event(topic, "late"))
      assert.strictEqual(refused.status, 503)
      assert.strictEqual(refused.headers.get("retry-after"), "1")

      yield* Deferred.succeed(commit, undefined)
      const answered = yield* Fiber.join(inFlight)
      assert.strictEqual(answered.status, 200)
      assert.strictEqual(answered.body.accepted, 1)
      yield* Fiber.join(closing)
      const after = yield* Effect.either(getJson(url, "/health").pipe(Effect.catchAllDefect((d) => Effect.fail(d))))
      assert.isTrue(after._tag === "Left", "the listener is closed once shutdown is over")
    }).pipe(Effect.provide(quiet)))

  it.scopedLive("a request in flight past the shutdown timeout no longer holds the drain: the app is detached while it waits", () => {
    const warnings: Array<string> = []
    return Effect.gen(function*() {
      const commit = yield* Deferred.make<void>()
      const port = yield* freePort
      const url = `http://127.0.0.1:${port}`
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(serverOn(port, heldStore(commit), 300), scope)
      const inFlight = yield* Effect.fork(publish(url, event(freshTopic(), "held")))
      yield* until(getJson(url, "/stats"), (r) => r.body.pending === 1)

      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      // Past the 300 ms timeout the drain goes on: the HttpApi app is detached (every route but
      // /health answers 503 from the listener), though the publish is still held.
      const deadline = Date.now() + 5_000
      let stats = yield* getJson(url, "/stats")
      while (stats.status !== 503 && Date.now() < deadline) {
        yield* Effect.sleep("20 millis")
        stats = yield* getJson(url, "/stats")
      }
      const stillHeld = inFlight.unsafePoll() === null
      yield* Deferred.succeed(commit, undefined)
      yield* Fiber.join(closing)
      assert.strictEqual(stats.status, 503, "the drain still waits for the request in flight after its timeout")
      assert.isTrue(stillHeld)
      assert.isTrue(warnings.some((w) => w.includes("shutdown timeout")), warnings.join("\n"))
    }).pipe(Effect.provide(Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ logLevel, message }) => {
        if (LogLevel.greaterThanEqual(logLevel, LogLevel.Warning)) warnings.push(String(message))
      })
    )))
  })
})
