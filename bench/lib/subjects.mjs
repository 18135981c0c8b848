// The subjects under test, each a child process (or, for raw node:http, a server in this one):
// the built server, the original design, raw node:http, the CLI's local ingest, start-up.
import { spawn } from "node:child_process"
import * as Http from "node:http"
import * as Path from "node:path"
import { root, SYNCHRONOUS } from "./args.mjs"
import { watchPeakRss } from "./proc.mjs"

export const waitListening = (child) =>
  new Promise((resolve, reject) => {
    let out = ""
    const onData = (c) => {
      out += c
      const m = /Listening on http:\/\/[^:]+:(\d+)/.exec(out)
      if (m) resolve(`http://127.0.0.1:${m[1]}`)
    }
    child.stdout.on("data", onData)
    child.once("exit", (code) => reject(new Error(`exited ${code} before listening: ${out}`)))
  })

export const stopChild = (child) =>
  new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
  })

/** BENCH_PROFILE=DIR: every server (and ingest) under test writes a CPU profile there (node --cpu-prof) when it stops. */
const profile = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []

/** The built server on a fresh database (or DATABASE_URL with EVENT_STORE=postgres in `env`). */
export const startServer = async (db, env = {}, tree = root) => {
  const child = spawn(process.execPath, [...profile, Path.join(tree, "packages/server/dist/main.bundle.js")], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", DEDUP_DB_PATH: db, SQLITE_SYNCHRONOUS: SYNCHRONOUS, API_KEY: "", ...env },
    stdio: ["ignore", "pipe", "inherit"]
  })
  const url = await waitListening(child)
  return { url, stop: () => stopChild(child), pid: child.pid, stats: () => fetch(`${url}/stats`).then((r) => r.json()) }
}

/** The original design (bench/original-server.mjs): one transaction per request. */
export const startOriginal = async (db) => {
  const child = spawn(process.execPath, [Path.join(root, "bench/original-server.mjs"), db, "0"], {
    env: { ...process.env, SQLITE_SYNCHRONOUS: SYNCHRONOUS },
    stdio: ["ignore", "pipe", "inherit"]
  })
  return { url: await waitListening(child), stop: () => stopChild(child), pid: child.pid }
}

/** The HTTP ceiling: node:http reading and parsing the same body, answering without storage. */
export const startRaw = () =>
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
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        stop: () => new Promise((done) => (server.closeAllConnections(), server.close(() => done())))
      }))
  })

/** The CLI's local ingest of `file` into `db`: its events/s, accepted count and peak RSS (VmHWM, polled). */
export const ingest = async (file, db, tree = root, env = {}) => {
  const child = spawn(process.execPath, [...profile, Path.join(tree, "packages/cli/dist/event-aggregator.js"), "ingest", "--db", db, "--quiet", file], {
    env: { ...process.env, SQLITE_SYNCHRONOUS: SYNCHRONOUS, ...env },
    stdio: ["ignore", "pipe", "inherit"]
  })
  let out = ""
  child.stdout.on("data", (c) => (out += c))
  const peak = watchPeakRss(child.pid)
  const code = await new Promise((resolve) => child.once("exit", resolve))
  const peakRss = peak()
  const m = /read (\d+), accepted (\d+).*, (\d+) events\/s/.exec(out)
  if (code !== 0 || !m) throw new Error(`ingest failed (${code}): ${out}`)
  return { eventsPerSecond: Number(m[3]), peakRss, read: Number(m[1]), accepted: Number(m[2]) }
}

/** Spawn to first 200 from /ready, on a database that already holds events. */
export const startup = async (db) => {
  const t0 = performance.now()
  const child = spawn(process.execPath, [Path.join(root, "packages/server/dist/main.bundle.js")], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", DEDUP_DB_PATH: db, API_KEY: "" },
    stdio: ["ignore", "pipe", "inherit"]
  })
  const url = await waitListening(child)
  for (;;) {
    const ok = await fetch(`${url}/ready`).then((r) => r.ok, () => false)
    if (ok) break
    await new Promise((r) => setTimeout(r, 5))
  }
  const seconds = (performance.now() - t0) / 1000
  const stats = await fetch(`${url}/stats`).then((r) => r.json())
  await stopChild(child)
  return { seconds, stored: stats.unique_processed }
}
