// Keyed vs unkeyed POST /publish on the built server (fresh SQLite file per run, 16 connections,
// each request new events; keyed ones a new Idempotency-Key each): the cost of storing answers.
// Usage: node bench/idempotency.mjs [SECONDS] (needs a build)
import autocannon from "autocannon"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const SECONDS = Number(process.argv[2] ?? 8)
const start = (db) => new Promise((resolve) => {
  const child = spawn(process.execPath, [Path.join(root, "packages/server/dist/main.bundle.js")], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", DEDUP_DB_PATH: db, LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  child.stdout.on("data", (c) => { out += c; const m = /Listening on http:\/\/[^:]+:(\d+)/.exec(out); if (m) resolve({ child, url: `http://127.0.0.1:${m[1]}` }) })
})
const run = async (name, batch, keyed) => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "idem-bench-"))
  const { child, url } = await start(Path.join(dir, "db.sqlite"))
  let i = 0
  const r = await autocannon({ url: `${url}/publish`, connections: 16, duration: SECONDS, method: "POST",
    requests: [{ setupRequest: (req) => {
      const n = i++
      const events = Array.from({ length: batch }, (_, k) => ({ topic: "b", event_id: `${n}-${k}`, timestamp: "2025-01-31T12:00:00Z", source: "bench", payload: { n } }))
      return { ...req, headers: { "content-type": "application/json", ...(keyed ? { "idempotency-key": `k-${n}` } : {}) }, body: JSON.stringify(events) }
    } }] })
  child.kill("SIGTERM")
  console.log(`${name.padEnd(28)} req/s ${r.requests.average.toFixed(0).padStart(6)}  events/s ${(r.requests.average * batch).toFixed(0).padStart(8)}  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  non2xx ${r.non2xx}`)
}
for (const [batch] of [[1], [100]]) {
  await run(`batch ${batch}, no key`, batch, false)
  await run(`batch ${batch}, Idempotency-Key`, batch, true)
  await run(`batch ${batch}, no key (again)`, batch, false)
  await run(`batch ${batch}, Idempotency-Key (again)`, batch, true)
}
