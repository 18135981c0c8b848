// Bench case 8: publish latency while retention prunes. A SQLite store with --events stored events
// (default 1M), half of them past RETENTION; the server starts on it (its pruner begins at once,
// in transactions of 1000 rows on the writer thread) while 16 connections publish single events
// for --seconds. The same on a copy of the store with RETENTION=forever (nothing to prune) is the
// baseline. Prints JSON: p50/p99 publish latency and throughput with pruning and without, and how
// many events were pruned during the measured window. Needs a build (npm run build).
// Usage: node bench/pruning.mjs [--events N] [--seconds S] [--connections C]
import Database from "better-sqlite3"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}
const EVENTS = arg("events", 1_000_000)
const SECONDS = arg("seconds", 10)
const CONNECTIONS = arg("connections", 16)
const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const main = Path.join(root, "packages/server/dist/main.bundle.js")

const freePort = () =>
  new Promise((resolve) => {
    const server = Net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

/** Starts the server on `db` with `env`; resolves once /ready answers 200. */
const start = async (db, env) => {
  const port = await freePort()
  const child = ChildProcess.spawn(process.execPath, [main], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", DEDUP_DB_PATH: db, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "inherit", "inherit"]
  })
  const url = `http://127.0.0.1:${port}`
  for (;;) {
    const ok = await fetch(`${url}/ready`).then((r) => r.status === 200, () => false)
    if (ok) break
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  const stop = () => new Promise((resolve) => {
    child.once("exit", resolve)
    child.kill("SIGTERM")
  })
  return { url, stop }
}

/** A store with `EVENTS` events of topic "bench": the first half received two days ago, the rest now. */
const prepare = async (dir) => {
  const db = Path.join(dir, "seed.sqlite")
  const server = await start(db, {}) // creates the schema
  await server.stop()
  const sqlite = new Database(db)
  const old = new Date(Date.now() - 2 * 86_400_000).toISOString()
  const now = new Date().toISOString()
  const insert = sqlite.prepare(
    "INSERT INTO events (seq, topic, event_id, timestamp, source, payload, received_at) VALUES (?, 'bench', ?, '2025-01-31T12:00:00Z', 'bench', ?, ?)"
  )
  sqlite.transaction(() => {
    for (let i = 1; i <= EVENTS; i++) insert.run(i, `seed-${i}`, `{"i":${i},"pad":"${"x".repeat(64)}"}`, i <= EVENTS / 2 ? old : now)
    sqlite.prepare("INSERT INTO topic_counters VALUES ('bench', ?, 0, 0)").run(EVENTS)
  })()
  sqlite.pragma("wal_checkpoint(TRUNCATE)")
  sqlite.close()
  return db
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]

/** 16 connections publishing one new event per request for SECONDS; latencies in ms. */
const load = async (url, run) => {
  const latencies = []
  const until = performance.now() + SECONDS * 1000
  let n = 0
  await Promise.all(Array.from({ length: CONNECTIONS }, async (_, c) => {
    while (performance.now() < until) {
      const body = JSON.stringify({ topic: "live", event_id: `${run}-${c}-${n++}`, timestamp: "2025-01-31T12:00:00Z", source: "bench", payload: { n } })
      const t = performance.now()
      const response = await fetch(`${url}/publish`, { method: "POST", headers: { "content-type": "application/json" }, body })
      await response.arrayBuffer()
      if (response.status !== 200) throw new Error(`publish answered ${response.status}`)
      latencies.push(performance.now() - t)
    }
  }))
  latencies.sort((a, b) => a - b)
  return {
    requests: latencies.length,
    per_second: Math.round(latencies.length / SECONDS),
    p50_ms: Number(percentile(latencies, 0.5).toFixed(2)),
    p99_ms: Number(percentile(latencies, 0.99).toFixed(2)),
    max_ms: Number(latencies[latencies.length - 1].toFixed(2))
  }
}

const measure = async (db, env, run) => {
  const server = await start(db, env)
  try {
    const result = await load(server.url, run)
    const stats = await fetch(`${server.url}/stats`).then((r) => r.json())
    return { ...result, stored_bench_events_after: stats.per_topic.bench.stored ?? stats.per_topic.bench.unique_processed }
  } finally {
    await server.stop()
  }
}

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ea-bench-pruning-"))
try {
  const seed = await prepare(dir)
  const copy = Path.join(dir, "baseline.sqlite")
  Fs.copyFileSync(seed, copy)
  const without = await measure(copy, { RETENTION: "forever" }, "b")
  const withPruning = await measure(seed, { RETENTION: "1d", DEDUP_WINDOW: "7d" }, "p")
  console.log(JSON.stringify(
    {
      case: "8 pruning",
      machine: `${Os.cpus().length} × ${Os.cpus()[0]?.model}`,
      stored: EVENTS,
      past_retention: EVENTS / 2,
      connections: CONNECTIONS,
      seconds: SECONDS,
      with_pruning: { ...withPruning, pruned_during_run: EVENTS - withPruning.stored_bench_events_after },
      without_pruning: without,
      p99_ratio: Number((withPruning.p99_ms / without.p99_ms).toFixed(2))
    },
    null,
    2
  ))
} finally {
  Fs.rmSync(dir, { recursive: true, force: true })
}
