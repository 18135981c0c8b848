// Aggregator.publish into SQLite: 100,000 events in 1,000-event calls, next to raw better-sqlite3
// INSERT OR IGNORE of the same events in 1,000-row transactions on the same schema, same run.
// Usage: node bench/library.mjs [synchronous=FULL|NORMAL]   (after npm install)
import { Aggregator, AggregatorConfig, SqliteEventStore } from "@event-aggregator/core"
import Database from "better-sqlite3"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const synchronous = process.argv[2] ?? "FULL"
const TOTAL = 100_000
const PER_CALL = 1_000
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ea-bench-lib-"))
const events = Array.from({ length: TOTAL }, (_, i) => ({
  topic: `t${i % 4}`,
  event_id: `e-${i}`,
  timestamp: "2025-01-31T12:00:00Z",
  source: "bench",
  payload: { n: i, tag: "x" }
}))
const calls = Array.from({ length: TOTAL / PER_CALL }, (_, c) => events.slice(c * PER_CALL, (c + 1) * PER_CALL))

// Raw: the same table shape, one transaction per 1,000 rows.
const raw = () => {
  const db = new Database(Path.join(dir, "raw.sqlite"))
  db.pragma("journal_mode = WAL")
  db.pragma(`synchronous = ${synchronous}`)
  db.exec(`CREATE TABLE events (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, event_id TEXT NOT NULL,
    timestamp TEXT NOT NULL, source TEXT NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL,
    UNIQUE (topic, event_id))`)
  const insert = db.prepare(
    "INSERT OR IGNORE INTO events (topic, event_id, timestamp, source, payload, received_at) VALUES (?, ?, ?, ?, ?, ?)"
  )
  const tx = db.transaction((batch) => {
    const now = new Date().toISOString()
    for (const e of batch) insert.run(e.topic, e.event_id, e.timestamp, e.source, JSON.stringify(e.payload), now)
  })
  const t0 = performance.now()
  for (const batch of calls) tx(batch)
  const ms = performance.now() - t0
  db.close()
  return ms
}

const aggregator = (sequential) =>
  Effect.gen(function*() {
    const agg = yield* Aggregator.Aggregator
    const t0 = performance.now()
    yield* Effect.forEach(calls, (batch) => Effect.flatMap(agg.validate(batch), agg.publish), {
      concurrency: sequential ? 1 : 16,
      discard: true
    })
    const ms = performance.now() - t0
    const stats = yield* agg.stats
    if (stats.unique_processed !== TOTAL) throw new Error(`stored ${stats.unique_processed}`)
    return ms
  }).pipe(
    Effect.provide(Aggregator.layer.pipe(
      Layer.provide(SqliteEventStore.layer),
      Layer.provide(AggregatorConfig.layer({ dbPath: Path.join(dir, `agg-${sequential}.sqlite`), synchronous }))
    )),
    Effect.runPromise
  )

try {
  const rawMs = raw()
  const seqMs = await aggregator(true)
  const concMs = await aggregator(false)
  const rate = (ms) => Math.round(TOTAL / (ms / 1000))
  console.table([
    { case: `raw better-sqlite3, 1,000-row transactions (${synchronous})`, "events/s": rate(rawMs), ratio: 1 },
    { case: "Aggregator.publish, 1,000-event calls, one after another", "events/s": rate(seqMs), ratio: +(rawMs / seqMs).toFixed(2) },
    { case: "Aggregator.publish, 1,000-event calls, 16 at once", "events/s": rate(concMs), ratio: +(rawMs / concMs).toFixed(2) }
  ])
} finally {
  Fs.rmSync(dir, { recursive: true, force: true })
}
