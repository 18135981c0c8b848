// The core library from an Effect program: publish with retries in mind, read the log back.
// Run: npm run example   (builds, then runs against a SQLite file in a temp directory)
import { Aggregator, AggregatorConfig, SqliteEventStore } from "@event-aggregator/core"
import { createAggregator } from "@event-aggregator/core/promise"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-example-"))
const dbPath = Path.join(dir, "events.sqlite")

const order = (id: string, total: number) => ({
  topic: "orders",
  event_id: id,
  timestamp: "2025-01-31T12:00:00Z",
  source: "example",
  payload: { total }
})

// 1. Effect: compose the layers, then use the Aggregator service.
const program = Effect.gen(function*() {
  const aggregator = yield* Aggregator.Aggregator
  const events = yield* aggregator.validate([order("o-1", 10), order("o-2", 25)])
  const first = yield* aggregator.publish(events)
  // A publisher retry: the same events again are duplicates, nothing is stored twice.
  const retry = yield* aggregator.publish(events)
  yield* Effect.log("first", Aggregator.summarize(first), "retry", Aggregator.summarize(retry))
  const stats = yield* aggregator.stats
  yield* Effect.log(`stored ${stats.unique_processed}, dropped ${stats.duplicate_dropped}`)
})

const AggregatorLive = Aggregator.layer.pipe(
  Layer.provide(SqliteEventStore.layer),
  Layer.provide(AggregatorConfig.layer({ dbPath }))
)

await Effect.runPromise(Effect.provide(program, AggregatorLive))

// 2. Promise facade: the same file, reopened; earlier events are still known.
const agg = await createAggregator({ path: dbPath })
const result = await agg.publish([order("o-2", 25), order("o-3", 7)])
console.log("promise publish:", result)
// JSON text (from a queue, a file, another service) keeps its payload exactly: int64 ids included.
await agg.publish(`{"topic":"orders","event_id":"o-4","timestamp":"2025-01-31T12:00:00Z","source":"example","payload":{"id": 9223372036854775807}}`)
const page = await agg.events({ topic: "orders" })
console.log("orders:", page.events.map((e) => `${e.seq}:${e.event_id} ${e.payload}`).join(" "))
try {
  await agg.publish({ topic: "orders", event_id: "", timestamp: "yesterday", source: "x", payload: [] })
} catch (error) {
  console.log("rejected:", (error as { _tag?: string; message?: string })._tag, (error as Error).message)
}
await agg.close()
Fs.rmSync(dir, { recursive: true, force: true })
