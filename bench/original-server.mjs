// The original design, kept small as a baseline: node:http, the same validation, and ONE
// better-sqlite3 transaction per request (no queue, no group commit), same schema and synchronous.
// Usage: node bench/original-server.mjs <db> <port>   (prints "Listening on http://host:port")
import { Event } from "@event-aggregator/core"
import Database from "better-sqlite3"
import * as Either from "effect/Either"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Path from "node:path"

const [file = "data/original.sqlite", port = "0"] = process.argv.slice(2)
Fs.mkdirSync(Path.dirname(file), { recursive: true })
const db = new Database(file)
db.pragma("journal_mode = WAL")
db.pragma(`synchronous = ${process.env.SQLITE_SYNCHRONOUS ?? "FULL"}`)
db.exec(`CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, event_id TEXT NOT NULL,
  timestamp TEXT NOT NULL, source TEXT NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL);
  CREATE UNIQUE INDEX IF NOT EXISTS events_key ON events (topic, event_id);
  CREATE INDEX IF NOT EXISTS events_topic_seq ON events (topic, seq);
  CREATE TABLE IF NOT EXISTS topic_counters (topic TEXT PRIMARY KEY, unique_processed INTEGER NOT NULL,
  duplicate_dropped INTEGER NOT NULL, conflicts INTEGER NOT NULL) WITHOUT ROWID;`)
const insert = db.prepare(
  "INSERT OR IGNORE INTO events (topic, event_id, timestamp, source, payload, received_at) VALUES (?, ?, ?, ?, ?, ?)"
)
const count = db.prepare(`INSERT INTO topic_counters VALUES (?, ?, ?, 0) ON CONFLICT (topic) DO UPDATE SET
  unique_processed = unique_processed + excluded.unique_processed,
  duplicate_dropped = duplicate_dropped + excluded.duplicate_dropped`)
const publish = db.transaction((events) => {
  const now = new Date().toISOString()
  let accepted = 0
  for (const e of events) {
    const added = insert.run(e.topic, e.event_id, e.timestamp, e.source, JSON.stringify(e.payload), now).changes
    accepted += added
    count.run(e.topic, added, 1 - added)
  }
  return accepted
})

const send = (res, status, body) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const server = Http.createServer((req, res) => {
  const chunks = []
  req.on("data", (c) => chunks.push(c))
  req.on("end", () => {
    let body
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
    } catch {
      return send(res, 400, { error: "BadRequest", message: "malformed JSON" })
    }
    const list = Array.isArray(body) ? body : [body]
    const valid = Event.validate(list, { maxEventBytes: 256 * 1024 })
    if (Either.isLeft(valid)) return send(res, 422, { error: "InvalidEvents", message: valid.left.message })
    const accepted = publish(valid.right)
    send(res, 200, { received: list.length, accepted, duplicates: list.length - accepted, conflicts: 0 })
  })
})
server.listen(Number(port), "127.0.0.1", () => console.log(`Listening on http://127.0.0.1:${server.address().port}`))
process.on("SIGTERM", () => server.close(() => (db.close(), process.exit(0))))
