// Quick HTTP load figures for POST /publish with autocannon, each next to a ceiling measured in the
// same run: a raw node:http server that parses the same body and answers (no storage).
// Usage: node bench/http-load.mjs [seconds]   (after npm install; the server must be built)
import autocannon from "autocannon"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const seconds = Number(process.argv[2] ?? 10)

const event = (topic, id) =>
  ({ topic, event_id: id, timestamp: "2025-01-31T12:00:00Z", source: "bench", payload: { n: 1, tag: "x" } })

const startServer = (env) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [Path.join(root, "packages/server/dist/main.js")], {
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", ...env },
      stdio: ["ignore", "pipe", "ignore"]
    })
    let out = ""
    child.stdout.on("data", (c) => {
      out += c
      const m = /Listening on http:\/\/[^:]+:(\d+)/.exec(out)
      if (m) resolve({ url: `http://127.0.0.1:${m[1]}`, child })
    })
    child.once("exit", (code) => reject(new Error(`server exited ${code}`)))
  })

const startRaw = () =>
  new Promise((resolve) => {
    const server = Http.createServer((req, res) => {
      const chunks = []
      req.on("data", (c) => chunks.push(c))
      req.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
        const n = Array.isArray(body) ? body.length : 1
        const text = JSON.stringify({ received: n, accepted: n, duplicates: 0, conflicts: 0 })
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
        res.end(text)
      })
    })
    server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${server.address().port}`, server }))
  })

const run = (url, connections, body) =>
  new Promise((resolve, reject) => {
    let i = 0
    autocannon({
      url: `${url}/publish`,
      connections,
      duration: seconds,
      requests: [{
        method: "POST",
        headers: { "content-type": "application/json" },
        setupRequest: (req) => ({ ...req, body: body(i++) })
      }]
    }, (error, result) => (error ? reject(error) : resolve(result)))
  })

const single = (i) => JSON.stringify(event("bench", `s-${process.pid}-${i}`))
// 1,000 events per request, 20% of them re-sent from the previous request.
const batch = (i) => {
  const events = []
  for (let k = 0; k < 800; k++) events.push(event(`t${k % 4}`, `b-${i}-${k}`))
  for (let k = 0; k < 200; k++) events.push(event(`t${k % 4}`, `b-${Math.max(0, i - 1)}-${k}`))
  return JSON.stringify(events)
}

const summary = (name, r, eventsPerRequest) => ({
  case: name,
  "req/s": Math.round(r.requests.average),
  "events/s": Math.round(r.requests.average * eventsPerRequest),
  "p50 ms": r.latency.p50,
  "p99 ms": r.latency.p99,
  non2xx: r.non2xx,
  errors: r.errors
})

const rows = []
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ea-bench-"))
try {
  const raw = await startRaw()
  rows.push(summary("raw node:http, 1 event/req, 64 conn", await run(raw.url, 64, single), 1))
  rows.push(summary("raw node:http, 1000 events/req, 16 conn", await run(raw.url, 16, batch), 1000))
  raw.server.close()

  const a = await startServer({ DEDUP_DB_PATH: Path.join(dir, "a.sqlite") })
  rows.push(summary("server durable, 1 event/req, 64 conn", await run(a.url, 64, single), 1))
  a.child.kill("SIGTERM")
  const b = await startServer({ DEDUP_DB_PATH: Path.join(dir, "b.sqlite") })
  rows.push(summary("server durable, 1000 events/req (20% dup), 16 conn", await run(b.url, 16, batch), 1000))
  b.child.kill("SIGTERM")
} finally {
  console.table(rows)
  console.log(`ratio single: ${(rows[2]["req/s"] / rows[0]["req/s"]).toFixed(2)} of raw; batch: ${(rows[3]["events/s"] / rows[1]["events/s"]).toFixed(2)} of raw parse`)
  Fs.rmSync(dir, { recursive: true, force: true })
}
