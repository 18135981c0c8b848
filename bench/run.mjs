// npm run bench: every figure next to a baseline measured in the same run, PASS/FALL SHORT against
// the targets, a table on stdout and bench/results/latest.json. Needs a build (npm install does it).
// Usage: node bench/run.mjs [--seconds N] [--lines N] [--only 1,6] [--compare DIR]
//   --only 1,6:    some cases (a partial run writes only-1-6.json)
//   --compare DIR: also runs cases 1, 2, 4 and 6 (one instance) against the build in DIR (another
//                  checkout, `npm ci` done there): --rounds N (default 3) rounds alternating this
//                  tree and that one, the median of each, and this tree / that tree.
//   BENCH_PROFILE=DIR: each server under test writes a CPU profile into DIR when it stops
import autocannon from "autocannon"
import Database from "better-sqlite3"
import { Client } from "pg"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}
const SECONDS = arg("seconds", 10)
const LINES = arg("lines", 1_000_000)
const SYNCHRONOUS = process.env.SQLITE_SYNCHRONOUS ?? "FULL"
// --only 1,2,6 runs those cases (case 5 needs case 4's database).
const onlyArg = process.argv.indexOf("--only")
const ONLY = onlyArg === -1 ? undefined : new Set(process.argv[onlyArg + 1].split(",").map(Number))
const want = (n) => ONLY === undefined || ONLY.has(n) || (n === 4 && ONLY.has(5))
const compareArg = process.argv.indexOf("--compare")
const COMPARE = compareArg === -1 ? undefined : Path.resolve(process.argv[compareArg + 1])
const ROUNDS = arg("rounds", 3)
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ea-bench-"))
const log = (line) => process.stderr.write(`[bench] ${line}\n`)

// ---------------------------------------------------------------------------------------------
// Traffic: the same events for every subject.
const event = (topic, id) =>
  ({ topic, event_id: id, timestamp: "2025-01-31T12:00:00Z", source: "bench", payload: { n: 1, tag: "x" } })
const singleBody = (run) => (i) => JSON.stringify(event("bench", `${run}-${i}`))
/** 1,000 events: 800 new, 200 re-sent from the previous request (20% duplicates). */
const batchEvents = (run, i) => {
  const events = []
  for (let k = 0; k < 800; k++) events.push(event(`t${k % 4}`, `${run}-${i}-${k}`))
  for (let k = 0; k < 200; k++) events.push(event(`t${k % 4}`, `${run}-${Math.max(0, i - 1)}-${k}`))
  return events
}
const batchBody = (run) => (i) => JSON.stringify(batchEvents(run, i))
/** Case 7's batches: 1,000 events over 100 topics (one per follower), each stamped with its publish time and batch. */
const stampedBody = (run) => (i) => {
  const ts = Date.now()
  return JSON.stringify(Array.from({ length: 1000 }, (_, k) => ({
    topic: `f${k % 100}`,
    event_id: `${run}-${i}-${k}`,
    timestamp: "2025-01-31T12:00:00Z",
    source: "bench",
    payload: { n: k, tag: "x", ts, b: i }
  })))
}

// ---------------------------------------------------------------------------------------------
// Subjects.
const waitListening = (child) =>
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

const stopChild = (child) =>
  new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
  })

/** BENCH_PROFILE=DIR: every server under test writes a CPU profile there (node --cpu-prof) when it stops. */
const profile = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []

const startServer = async (db, env = {}, tree = root) => {
  const child = spawn(process.execPath, [...profile, Path.join(tree, "packages/server/dist/main.bundle.js")], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", DEDUP_DB_PATH: db, SQLITE_SYNCHRONOUS: SYNCHRONOUS, API_KEY: "", ...env },
    stdio: ["ignore", "pipe", "inherit"]
  })
  return { url: await waitListening(child), stop: () => stopChild(child), pid: child.pid }
}

/** A process's peak resident memory so far (VmHWM), in bytes. */
const peakRss = (pid) => {
  const m = /VmHWM:\s+(\d+) kB/.exec(Fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  return m ? Number(m[1]) * 1024 : 0
}

/** The p-th percentile of xs (null when empty). */
const percentile = (xs, p) => {
  if (xs.length === 0) return null
  const sorted = Float64Array.from(xs).sort()
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

/** A process's CPU time so far (user + system), in seconds. */
const cpuSeconds = (pid) => {
  const fields = Fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

const startOriginal = async (db) => {
  const child = spawn(process.execPath, [Path.join(root, "bench/original-server.mjs"), db, "0"], {
    env: { ...process.env, SQLITE_SYNCHRONOUS: SYNCHRONOUS },
    stdio: ["ignore", "pipe", "inherit"]
  })
  return { url: await waitListening(child), stop: () => stopChild(child) }
}

/** The HTTP ceiling: node:http reading and parsing the same body, answering without storage. */
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
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        stop: () => new Promise((done) => (server.closeAllConnections(), server.close(() => done())))
      }))
  })

/** Publishes body(0), body(1), ... for SECONDS; onAck(i, ms) is told when body i was answered 2xx. */
const load = (url, connections, body, onAck) =>
  new Promise((resolve, reject) => {
    let i = 0
    autocannon({
      url: `${url}/publish`,
      connections,
      duration: SECONDS,
      requests: [{
        method: "POST",
        headers: { "content-type": "application/json" },
        setupRequest: (r, context) => {
          context.batch = i
          return { ...r, body: body(i++) }
        },
        onResponse: (status, _body, context) => {
          if (onAck !== undefined && status < 300) onAck(context.batch, Date.now())
        }
      }]
    }, (error, result) =>
      error ? reject(error) : resolve({
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors + result.non2xx
      }))
  })

const measure = async (start, connections, body) => {
  const subject = await start()
  try {
    return await load(subject.url, connections, body)
  } finally {
    await subject.stop()
  }
}

/** Raw better-sqlite3: INSERT OR IGNORE of the batch traffic in 10,000-row transactions, same schema. */
const rawSqlite = (requests) => {
  const db = new Database(Path.join(dir, "raw.sqlite"))
  db.pragma("journal_mode = WAL")
  db.pragma(`synchronous = ${SYNCHRONOUS}`)
  db.exec(`CREATE TABLE events (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, event_id TEXT NOT NULL,
    timestamp TEXT NOT NULL, source TEXT NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL);
    CREATE UNIQUE INDEX events_key ON events (topic, event_id);
    CREATE INDEX events_topic_seq ON events (topic, seq);`)
  const insert = db.prepare(
    "INSERT OR IGNORE INTO events (topic, event_id, timestamp, source, payload, received_at) VALUES (?, ?, ?, ?, ?, ?)"
  )
  const tx = db.transaction((rows) => {
    const now = new Date().toISOString()
    for (const e of rows) insert.run(e.topic, e.event_id, e.timestamp, e.source, JSON.stringify(e.payload), now)
  })
  const all = []
  for (let i = 0; i < requests; i++) all.push(...batchEvents("raw", i))
  const t0 = performance.now()
  for (let i = 0; i < all.length; i += 10_000) tx(all.slice(i, i + 10_000))
  const seconds = (performance.now() - t0) / 1000
  db.close()
  return all.length / seconds
}

/** Runs the CLI's local ingest on a generated NDJSON file; peak RSS from /proc (VmHWM). */
const ingest = async (file, db, tree = root) => {
  const child = spawn(process.execPath, [Path.join(tree, "packages/cli/dist/event-aggregator.js"), "ingest", "--db", db, "--quiet", file], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  let out = ""
  child.stdout.on("data", (c) => (out += c))
  let peak = 0
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(Fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))
      if (m) peak = Math.max(peak, Number(m[1]) * 1024)
    } catch {
      // exited between polls
    }
  }, 50)
  const code = await new Promise((resolve) => child.once("exit", resolve))
  clearInterval(poll)
  const m = /read (\d+), accepted (\d+).*, (\d+) events\/s/.exec(out)
  if (code !== 0 || !m) throw new Error(`ingest failed (${code}): ${out}`)
  return { eventsPerSecond: Number(m[3]), peakRss: peak, accepted: Number(m[2]) }
}

const writeNdjson = (file, lines) =>
  new Promise((resolve) => {
    const out = Fs.createWriteStream(file)
    let i = 0
    const write = () => {
      let ok = true
      while (i < lines && ok) {
        const id = i % 10 === 9 ? i - 5 : i // 10% duplicates of recent lines
        ok = out.write(JSON.stringify(event(`t${id % 8}`, `e-${id}`)) + "\n")
        i++
      }
      if (i < lines) out.once("drain", write)
      else out.end(resolve)
    }
    write()
  })

/** Spawn to first 200 from /ready, on a database that already holds `n` events. */
const startup = async (db) => {
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

// PostgreSQL: a fresh schema per subject; the ceiling is raw pg on one connection.
const PG_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const pgSchemas = []
const pgAdmin = async (f) => {
  const client = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}
const pgSchema = async (name) => {
  const schema = `ea_bench_${name}_${process.pid}`
  await pgAdmin((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`))
  pgSchemas.push(schema)
  const url = new URL(PG_URL)
  url.searchParams.set("options", `-c search_path=${schema}`)
  return url.toString()
}
/** Raw pg: INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING of 10,000-row batches, one connection. */
const rawPg = async (requests) => {
  const url = await pgSchema("raw")
  const client = new Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`CREATE TABLE events (seq BIGSERIAL PRIMARY KEY, topic TEXT NOT NULL, event_id TEXT NOT NULL,
      timestamp TEXT NOT NULL, source TEXT NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL,
      UNIQUE (topic, event_id)); CREATE INDEX ON events (topic, seq)`)
    const all = []
    for (let i = 0; i < requests; i++) all.push(...batchEvents("raw", i))
    const t0 = performance.now()
    for (let i = 0; i < all.length; i += 10_000) {
      const rows = all.slice(i, i + 10_000)
      await client.query(
        `INSERT INTO events (topic, event_id, timestamp, source, payload, received_at)
         SELECT *, now()::text FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
         ON CONFLICT DO NOTHING`,
        [rows.map((e) => e.topic), rows.map((e) => e.event_id), rows.map((e) => e.timestamp), rows.map((e) => e.source), rows.map((e) => JSON.stringify(e.payload))]
      )
    }
    return all.length / ((performance.now() - t0) / 1000)
  } finally {
    await client.end()
  }
}
const pgReachable = () => pgAdmin((c) => c.query("SELECT 1")).then(() => true, () => false)

// ---------------------------------------------------------------------------------------------
const rows = []
const row = (c, subject, value, unit, baseline, ratio, target, pass) =>
  rows.push({ case: c, subject, value: Math.round(value * 100) / 100, unit, baseline, ratio, target, result: pass === undefined ? "" : pass ? "PASS" : "FALL SHORT" })
const r2 = (x) => Math.round(x * 100) / 100
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
/**
 * This tree against the compared one on the same measurement: ROUNDS rounds, alternating (this,
 * that, this, that, ...), so the shared machine's drift weighs on both; medians and their ratio.
 */
const compared = async (c, subject, unit, measureTree) => {
  const ours = []
  const theirs = []
  for (let round = 0; round < ROUNDS; round++) {
    ours.push(await measureTree(root, `a${round}`))
    theirs.push(await measureTree(COMPARE, `b${round}`))
  }
  log(`${c} compared: this tree ${ours.map(Math.round).join(", ")}; compared tree ${theirs.map(Math.round).join(", ")} ${unit}`)
  row(c, `${subject}, compared tree (median of ${ROUNDS})`, median(theirs), unit, "", "", "", undefined)
  row(c, `${subject}, this tree (median of ${ROUNDS})`, median(ours), unit, "compared tree", r2(median(ours) / median(theirs)), "", undefined)
}

try {
  log(`machine: ${Os.cpus().length} × ${Os.cpus()[0]?.model}, ${Math.round(Os.totalmem() / 2 ** 30)} GiB, node ${process.version}; ${SECONDS}s per load, synchronous=${SYNCHRONOUS}`)

  if (want(1)) {
  log("case 1: single-event POST /publish, durable, 64 connections")
  const raw1 = await measure(startRaw, 64, singleBody("raw"))
  const orig1 = await measure(() => startOriginal(Path.join(dir, "orig1.sqlite")), 64, singleBody("orig"))
  const srv1 = await measure(() => startServer(Path.join(dir, "srv1.sqlite")), 64, singleBody("srv"))
  row("1 single event", "raw node:http (ceiling)", raw1.rps, "req/s", "", "", "", undefined)
  row("1 single event", "original design (1 tx/request)", orig1.rps, "req/s", "", "", "", undefined)
  row("1 single event", "server, req/s vs ceiling", srv1.rps, "req/s", "raw node:http", r2(srv1.rps / raw1.rps), "≥ 0.30", srv1.rps / raw1.rps >= 0.3)
  row("1 single event", "server, p99 latency", srv1.p99, "ms", "", "", "≤ 20 ms", srv1.p99 <= 20)
  row("1 single event", "server vs original design", srv1.rps, "req/s", "original", r2(srv1.rps / orig1.rps), "≥ 10", srv1.rps / orig1.rps >= 10)
  if (COMPARE !== undefined) {
    await compared("1 single event", "server", "req/s", async (tree, run) =>
      (await measure(() => startServer(Path.join(dir, `cmp1-${run}.sqlite`), {}, tree), 64, singleBody(`cmp${run}`))).rps)
  }

  }
  if (want(2)) {
  log("case 2: 1,000-event batches, durable, 16 connections, 20% duplicates")
  const orig2 = await measure(() => startOriginal(Path.join(dir, "orig2.sqlite")), 16, batchBody("orig"))
  const srv2 = await measure(() => startServer(Path.join(dir, "srv2.sqlite")), 16, batchBody("srv"))
  const sqlite2 = rawSqlite(300)
  row("2 batches of 1,000", "raw better-sqlite3, 10,000-row tx (ceiling)", sqlite2, "events/s", "", "", "", undefined)
  row("2 batches of 1,000", "original design (1 tx/request)", orig2.rps * 1000, "events/s", "", "", "", undefined)
  row("2 batches of 1,000", "server, events/s vs ceiling", srv2.rps * 1000, "events/s", "raw better-sqlite3", r2((srv2.rps * 1000) / sqlite2), "≥ 0.70", (srv2.rps * 1000) / sqlite2 >= 0.7)
  row("2 batches of 1,000", "server, p99 latency", srv2.p99, "ms", "", "", "", undefined)
  row("2 batches of 1,000", "server vs original design", srv2.rps * 1000, "events/s", "original", r2(srv2.rps / orig2.rps), "", undefined)
  if (COMPARE !== undefined) {
    await compared("2 batches of 1,000", "server", "events/s", async (tree, run) =>
      (await measure(() => startServer(Path.join(dir, `cmp2-${run}.sqlite`), {}, tree), 16, batchBody(`cmp${run}`))).rps * 1000)
  }

  }
  if (want(4)) {
  log(`case 4: local ingest of a ${LINES}-line NDJSON file`)
  const file = Path.join(dir, "events.ndjson")
  await writeNdjson(file, LINES)
  const db4 = Path.join(dir, "ingest.sqlite")
  const ing = await ingest(file, db4)
  row("4 ingest", "event-aggregator ingest (local)", ing.eventsPerSecond, "events/s", "", "", "≥ 200,000", ing.eventsPerSecond >= 200_000)
  row("4 ingest", "peak RSS", ing.peakRss / 2 ** 20, "MiB", "", "", "≤ 300 MB", ing.peakRss <= 300e6)
  if (COMPARE !== undefined) {
    await compared("4 ingest", "ingest", "events/s", async (tree, run) =>
      (await ingest(file, Path.join(dir, `ingest-cmp-${run}.sqlite`), tree)).eventsPerSecond)
  }

  if (want(5)) {
  log("case 5: start-up to /ready with the ingested events stored")
  const up = await startup(db4)
  row("5 start-up", `spawn to /ready, ${up.stored} events stored`, up.seconds, "s", "", "", "≤ 1 s", up.seconds <= 1)
  }
  }

  if (want(6) && await pgReachable()) {
    log("case 6: 1,000-event batches into the PostgreSQL store, 16 connections, 20% duplicates")
    const ceiling = await rawPg(200)
    const oneInstance = async (run) => {
      const url = await pgSchema(run)
      return measure(() => startServer("unused", { EVENT_STORE: "postgres", DATABASE_URL: url }), 16, batchBody(run))
    }
    const twoInstances = async (run) => {
      const url = await pgSchema(run)
      const a = await startServer("unused", { EVENT_STORE: "postgres", DATABASE_URL: url })
      const b = await startServer("unused", { EVENT_STORE: "postgres", DATABASE_URL: url })
      try {
        const [ra, rb] = await Promise.all([load(a.url, 8, batchBody(`${run}a`)), load(b.url, 8, batchBody(`${run}b`))])
        return { rps: ra.rps + rb.rps, p99: Math.max(ra.p99, rb.p99) }
      } finally {
        await Promise.all([a.stop(), b.stop()])
      }
    }
    // One and two instances alternate (one, two, two, one), so a drift of the shared machine's
    // speed during the case weighs on both alike; each figure is the mean of its two runs.
    const one1 = await oneInstance("one1")
    const two1 = await twoInstances("two1")
    const two2 = await twoInstances("two2")
    const one2 = await oneInstance("one2")
    const one = (one1.rps + one2.rps) / 2
    const two = (two1.rps + two2.rps) / 2
    log(`case 6 runs (events/s): one instance ${one1.rps * 1000}, ${one2.rps * 1000}; two instances ${two1.rps * 1000}, ${two2.rps * 1000}`)
    row("6 PostgreSQL batches", "raw pg, unnest ON CONFLICT DO NOTHING, 10,000-row batches, 1 conn (ceiling)", ceiling, "events/s", "", "", "", undefined)
    row("6 PostgreSQL batches", "server, 1 instance (mean of 2 runs)", one * 1000, "events/s", "raw pg", r2((one * 1000) / ceiling), "≥ 0.60", (one * 1000) / ceiling >= 0.6)
    row("6 PostgreSQL batches", "server, 1 instance, p99 latency (worst run)", Math.max(one1.p99, one2.p99), "ms", "", "", "", undefined)
    row("6 PostgreSQL batches", "server, 2 instances, 8 + 8 conn (mean of 2 runs)", two * 1000, "events/s", "1 instance", r2(two / one), "≥ 1.00", two >= one)
    if (COMPARE !== undefined) {
      await compared("6 PostgreSQL batches", "server, 1 instance", "events/s", async (tree, run) => {
        const url = await pgSchema(`cmp${run}`)
        return (await measure(() => startServer("unused", { EVENT_STORE: "postgres", DATABASE_URL: url }, tree), 16, batchBody(`cmp${run}`))).rps * 1000
      })
    }
  } else if (want(6)) {
    log(`case 6 skipped: PostgreSQL at ${PG_URL} is unreachable`)
  }

  if (want(7)) {
    log("case 7: 100 SSE followers (one topic each) while 16 connections publish 1,000-event batches")
    // The same load, with no follower and then with 100 (and one more that never reads), alternating.
    const once = async (run, followers) => {
      const subject = await startServer(Path.join(dir, `follow-${run}.sqlite`))
      let child
      try {
        if (followers) {
          child = spawn(process.execPath, [Path.join(root, "bench/followers.mjs"), subject.url, "100", "f", "100", "--stalled", "--arrivals", Path.join(dir, `arrivals-${run}.json`)], {
            stdio: ["ignore", "pipe", "inherit"]
          })
          await new Promise((resolve, reject) => {
            child.stdout.once("data", (c) => (String(c).includes("ready") ? resolve() : reject(new Error(String(c)))))
            child.once("exit", (code) => reject(new Error(`followers exited ${code}`)))
          })
        }
        // CPU seconds used during the load by the server, the followers and this process (the load).
        const before = [cpuSeconds(subject.pid), child ? cpuSeconds(child.pid) : 0, process.cpuUsage()]
        const acks = new Map()
        const result = await load(subject.url, 16, stampedBody(run), (batch, ms) => acks.set(batch, ms))
        const own = process.cpuUsage(before[2])
        const cpu = {
          server: cpuSeconds(subject.pid) - before[0],
          followers: child ? cpuSeconds(child.pid) - before[1] : 0,
          load: (own.user + own.system) / 1e6
        }
        const rss = peakRss(subject.pid)
        let delays
        if (child !== undefined) {
          // Wait until nothing is pending and the followers have every event stored (10 s at most),
          // then ask for their figures.
          let out = ""
          child.stdout.on("data", (c) => (out += c))
          const received = async () => {
            out = ""
            child.kill("SIGUSR2")
            while (!out.includes("\n")) await new Promise((r) => child.stdout.once("data", r))
            return Number(/received (\d+)/.exec(out)[1])
          }
          const deadline = Date.now() + 10_000
          let stored
          for (;;) {
            const stats = await (await fetch(`${subject.url}/stats`)).json()
            stored = stats.unique_processed
            if ((stats.pending === 0 && await received() === stored) || Date.now() > deadline) break
            await new Promise((r) => setTimeout(r, 100))
          }
          out = ""
          const exited = new Promise((r) => child.once("close", r))
          child.kill("SIGTERM")
          await exited
          const figures = JSON.parse(out.trim())
          // Every event stored reached the follower of its topic (followers.mjs counts them).
          if (figures.received !== stored) throw new Error(`case 7: followers received ${figures.received} events, the server stored ${stored}`)
          const arrivals = JSON.parse(Fs.readFileSync(Path.join(dir, `arrivals-${run}.json`), "utf8"))
          // From the publisher's answer (sent once the batch is committed) to the follower's receipt.
          const fromAck = []
          for (let k = 0; k < arrivals.length; k += 2) {
            const ack = acks.get(arrivals[k])
            if (ack !== undefined) fromAck.push(arrivals[k + 1] - ack)
          }
          delays = { ...figures, fromAck: { p50: percentile(fromAck, 50), p99: percentile(fromAck, 99), max: percentile(fromAck, 100) } }
        }
        return { eventsPerSecond: result.rps * 1000, rss, delays, cpu }
      } finally {
        if (child !== undefined && child.exitCode === null) child.kill("SIGKILL")
        await subject.stop()
      }
    }
    const none1 = await once("none1", false)
    const with1 = await once("with1", true)
    const with2 = await once("with2", true)
    const none2 = await once("none2", false)
    const none = (none1.eventsPerSecond + none2.eventsPerSecond) / 2
    const withF = (with1.eventsPerSecond + with2.eventsPerSecond) / 2
    const worst = (key) => Math.max(with1.delays[key].p99, with2.delays[key].p99)
    log(`case 7 runs (events/s): no followers ${Math.round(none1.eventsPerSecond)}, ${Math.round(none2.eventsPerSecond)}; 100 followers ${Math.round(with1.eventsPerSecond)}, ${Math.round(with2.eventsPerSecond)}; delays ${JSON.stringify([with1.delays, with2.delays])}; CPU seconds ${JSON.stringify([none1, with1, with2, none2].map((r) => r.cpu))}`)
    row("7 followers", "server, no followers (mean of 2 runs)", none, "events/s", "", "", "", undefined)
    row("7 followers", "server, 100 SSE followers + 1 that never reads (mean of 2 runs)", withF, "events/s", "no followers", r2(withF / none), "≥ 0.80", withF / none >= 0.8)
    row("7 followers", "commit-to-follower delay p99: from the publisher's 200 (sent at commit) to the follower (worst run)", worst("fromAck"), "ms", "", "", "≤ 100 ms", worst("fromAck") <= 100)
    row("7 followers", "received_at-to-follower delay p99: received_at is stamped when the group's transaction begins (worst run)", worst("fromCommit"), "ms", "", "", "", undefined)
    row("7 followers", "publish-to-follower delay p99: from the payload's ts, set when the batch is built (worst run; includes queueing at saturation)", worst("fromPublish"), "ms", "", "", "", undefined)
    row("7 followers", "server peak RSS, no followers (worst run)", Math.max(none1.rss, none2.rss) / 2 ** 20, "MiB", "", "", "", undefined)
    row("7 followers", "server peak RSS, with followers and one that never reads (worst run)", Math.max(with1.rss, with2.rss) / 2 ** 20, "MiB", "no followers", r2(Math.max(with1.rss, with2.rss) / Math.max(none1.rss, none2.rss)), "", undefined)
  }

  console.table(rows)
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: Os.cpus().length, model: Os.cpus()[0]?.model, memGiB: Math.round(Os.totalmem() / 2 ** 30), node: process.version },
    settings: { seconds: SECONDS, lines: LINES, synchronous: SYNCHRONOUS },
    rows
  }
  Fs.mkdirSync(Path.join(root, "bench/results"), { recursive: true })
  // A partial run (--only) does not replace the full run's results.
  const file = ONLY === undefined && COMPARE === undefined
    ? "latest.json"
    : `${ONLY === undefined ? "all" : `only-${[...ONLY].sort().join("-")}`}${COMPARE === undefined ? "" : "-compared"}.json`
  Fs.writeFileSync(Path.join(root, "bench/results", file), JSON.stringify(result, null, 2) + "\n")
  log(`wrote bench/results/${file}`)
} finally {
  Fs.rmSync(dir, { recursive: true, force: true })
  if (pgSchemas.length > 0) await pgAdmin((c) => c.query(`DROP SCHEMA IF EXISTS ${pgSchemas.join(", ")} CASCADE`)).catch(() => {})
}
