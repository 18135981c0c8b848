// The SQLite ceiling, run as its own process (node bench/lib/raw-sqlite.mjs ...; prints one JSON
// line): raw better-sqlite3 inserting the same events as a subject, as many, into the same schema,
// created by the built store itself (so it follows the project's migrations), with `synchronous`
// like the server. One prepared `INSERT OR IGNORE` with bound parameters (seq bound too, from a
// counter, as the store does: the same statement whether seq is the rowid or a column of a table
// clustered on the key), `--tx` rows per transaction, `--cache` bytes of page cache. Only the inserts are timed: the events are generated
// (or read from the file and parsed) beforehand.
//   --traffic RUN --keys seq|uuid --requests N   case 2's requests 0..N-1 (bench/lib/traffic.mjs)
//   --file F                                      the NDJSON file case 4 ingests
//   --db PATH --tx N --cache BYTES                (synchronous from SQLITE_SYNCHRONOUS, default FULL)
import { createAggregator } from "@event-aggregator/core/promise"
import Database from "better-sqlite3"
import * as Fs from "node:fs"
import { batchEvents } from "./traffic.mjs"

const at = (name) => process.argv.indexOf(`--${name}`)
const opt = (name) => (at(name) === -1 ? undefined : process.argv[at(name) + 1])
const synchronous = process.env.SQLITE_SYNCHRONOUS ?? "FULL"
const db = opt("db")
const tx = Number(opt("tx") ?? 10_000)
const cache = Number(opt("cache") ?? 64 * 2 ** 20)

/** Rows as bound parameters: topic, event_id, timestamp, source, payload text. */
const rows = []
const push = (e) => rows.push([e.topic, e.event_id, e.timestamp, e.source, JSON.stringify(e.payload)])
if (opt("file") !== undefined) {
  for (const line of Fs.readFileSync(opt("file"), "utf8").split("\n")) if (line.length > 0) push(JSON.parse(line))
} else {
  const requests = Number(opt("requests"))
  for (let i = 0; i < requests; i++) for (const e of batchEvents(opt("traffic"), i, opt("keys") ?? "seq")) push(e)
}

// The schema exactly as the store creates it (migrations included).
const store = await createAggregator({ path: db, synchronous })
await store.close()

const sqlite = new Database(db)
sqlite.pragma("journal_mode = WAL")
sqlite.pragma(`synchronous = ${synchronous}`)
sqlite.pragma(`cache_size = -${Math.floor(cache / 1024)}`)
const insert = sqlite.prepare(
  "INSERT OR IGNORE INTO events (seq, topic, event_id, timestamp, source, payload, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
let seq = 1
const commit = sqlite.transaction((from, to) => {
  const now = new Date().toISOString()
  let inserted = 0
  for (let i = from; i < to; i++) {
    const r = rows[i]
    const changes = insert.run(seq, r[0], r[1], r[2], r[3], r[4], now).changes
    seq += changes
    inserted += changes
  }
  return inserted
})
const t0 = performance.now()
let inserted = 0
for (let i = 0; i < rows.length; i += tx) inserted += commit(i, Math.min(rows.length, i + tx))
const seconds = (performance.now() - t0) / 1000
sqlite.close()
process.stdout.write(JSON.stringify({ events: rows.length, inserted, seconds, eventsPerSecond: rows.length / seconds, tx, cache }) + "\n")
