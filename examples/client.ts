// Publishing from a service with @event-aggregator/client: Effect first, then the Promise facade.
// Run against a server: npm start (in another shell), then
//   npx tsc -b examples && EVENT_AGGREGATOR_URL=http://localhost:8080 node examples/dist/client.js
import { Client } from "@event-aggregator/client"
import { createClient } from "@event-aggregator/client/promise"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

const url = process.env.EVENT_AGGREGATOR_URL ?? "http://localhost:8080"
const run = Date.now().toString(36)

// 1. Effect: the client as a service; layerConfig reads EVENT_AGGREGATOR_URL (and _API_KEY).
const ClientLive = Client.layerConfig().pipe(Layer.provide(FetchHttpClient.layer))

const program = Effect.gen(function*() {
  const client = yield* Client.EventAggregatorClient
  const order = { topic: `orders-${run}`, event_id: "o-1", timestamp: new Date().toISOString(), source: "example" }
  // A payload as JSON text is sent exactly as written: the int64 keeps every digit.
  const first = yield* client.publish({ ...order, payload: `{"id": 18446744073709551615, "total": 10}` })
  const retry = yield* client.publish({ ...order, payload: `{"id": 18446744073709551615, "total": 10}` })
  yield* Effect.log(`first: accepted ${first.accepted}; the same again: duplicates ${retry.duplicates}`)
  const page = yield* client.events({ topic: order.topic })
  yield* Effect.log(`stored payload: ${page.events[0]?.payload}`) // the JSON text, as published
  // The log, stored events first, then live ones, reconnecting when the connection drops.
  const followed = yield* client.follow({ topic: order.topic, after: 0 }).pipe(Stream.take(1), Stream.runCollect)
  yield* Effect.log(`followed ${followed.length} event(s)`)
}).pipe(
  Effect.catchTags({
    InvalidEvents: (e) => Effect.logError("rejected", e.issues),
    Unavailable: (e) => Effect.logError(`${e.error} after ${e.attempts} attempts`)
  })
)

await Effect.runPromise(Effect.provide(program, ClientLive))

// 2. Promise facade: the same calls; rejections are the tagged errors.
const client = createClient({ url, ...(process.env.EVENT_AGGREGATOR_API_KEY ? { apiKey: process.env.EVENT_AGGREGATOR_API_KEY } : {}) })
try {
  const result = await client.publish([
    { topic: `orders-${run}`, event_id: "o-2", timestamp: new Date().toISOString(), source: "example", payload: { total: 25 } }
  ], { detail: true })
  console.log("promise publish:", result)
  console.log("o-2:", await client.get(`orders-${run}`, "o-2"))
  for await (const event of client.follow({ topic: `orders-${run}`, after: 0 })) {
    console.log("followed", event.seq, event.event_id, event.payload)
    if (event.event_id === "o-2") break // leaving the loop closes the stream
  }
  await client.publish({ topic: "", event_id: "x", timestamp: "yesterday", source: "example", payload: {} })
} catch (error) {
  console.log("rejected:", (error as { _tag?: string })._tag, (error as Error).message)
} finally {
  await client.close()
}
