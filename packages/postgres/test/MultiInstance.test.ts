// Several server processes (the shipped bundle) on one PostgreSQL schema.
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Redacted from "effect/Redacted"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { available, baseUrl, dropSchemas, freshSchema, urlFor } from "./utils.js"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")
const mainJs = Path.join(root, "packages/server/dist/main.bundle.js")
const cliJs = Path.join(root, "packages/cli/dist/event-aggregator.js")

const reachable = await available()
afterAll(dropSchemas)

interface Instance {
  readonly url: string
  readonly process: ChildProcess.ChildProcess
  readonly exited: Promise<number | string>
}

const start = (databaseUrl: string) =>
  new Promise<Instance>((resolve, reject) => {
    const child = ChildProcess.spawn(process.execPath, [mainJs], {
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", EVENT_STORE: "postgres", DATABASE_URL: databaseUrl, API_KEY: "" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    const exited = new Promise<number | string>((done) => child.once("exit", (code, signal) => done(code ?? signal ?? "?")))
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString()
      const m = /Listening on http:\/\/[^:]+:(\d+)/.exec(out)
      if (m) resolve({ url: `http://127.0.0.1:${m[1]}`, process: child, exited })
    })
    child.stderr.on("data", (c: Buffer) => (out += c.toString()))
    void exited.then((code) => reject(new Error(`server exited ${code}: ${out}`)))
  })

const stop = async (instance: Instance) => {
  if (instance.process.exitCode === null && instance.process.signalCode === null) instance.process.kill("SIGTERM")
  await instance.exited
}

const event = (topic: string, id: string) => ({
  topic,
  event_id: id,
  timestamp: "2025-01-31T12:00:00Z",
  source: "multi",
  payload: { id }
})

const post = (url: string, events: ReadonlyArray<unknown>) =>
  fetch(`${url}/publish`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(events) })
    .then(async (r) => ({ status: r.status, body: await r.json() as any }), () => ({ status: 0, body: undefined as any }))

/** Polls `check` every `every` ms until it holds; fails after `tries` tries. */
const until = async (check: () => boolean | Promise<boolean>, what: string, tries = 200, every = 50) => {
  for (let i = 0; i < tries; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, every))
  }
  assert.fail(`timed out waiting for ${what}`)
}

const readLog = async (url: string) => {
  const events: Array<any> = []
  let after = 0
  for (;;) {
    const page = await fetch(`${url}/events?after=${after}&limit=10000`).then((r) => r.json() as Promise<any>)
    events.push(...page.events)
    if (page.next_after === null) return events
    after = page.next_after
  }
}

describe.skipIf(!reachable)("several aggregator processes on one PostgreSQL database", () => {
  it("20 publishers on 3 instances: each key once, equal counters, a paging reader sees no gap and no repeat", async () => {
    const url = Redacted.value(urlFor(await freshSchema("ea_multi")))
    const instances = await Promise.all([start(url), start(url), start(url)])
    try {
      const topic = "multi"
      let publishing = true
      // The reader pages with after= on its own connection for as long as the publishers run.
      const seen: Array<number> = []
      const reader = (async () => {
        let after = 0
        for (;;) {
          const page = await fetch(`${instances[0]!.url}/events?after=${after}&limit=500`).then((r) => r.json() as Promise<any>)
          for (const e of page.events) seen.push(e.seq)
          // next_after is null at the end of what is stored now: keep polling after the last seq seen.
          if (page.events.length > 0) after = page.events[page.events.length - 1].seq
          if (page.next_after === null) {
            if (!publishing) break
            await new Promise((r) => setTimeout(r, 2))
          }
        }
      })()
      // 20 publishers, 15 batches of 40 each, keys overlapping across publishers, spread over instances.
      const publishers = Array.from({ length: 20 }, async (_, p) => {
        for (let b = 0; b < 15; b++) {
          const batch = Array.from({ length: 40 }, (_, i) => event(topic, `k-${(p * 37 + b * 40 + i) % 3000}`))
          const r = await post(instances[(p + b) % 3]!.url, batch)
          assert.strictEqual(r.status, 200, JSON.stringify(r.body))
        }
      })
      await Promise.all(publishers)
      publishing = false
      await reader

      const log = await readLog(instances[1]!.url)
      const ids = log.map((e) => e.event_id)
      assert.strictEqual(new Set(ids).size, ids.length, "every key stored once")
      const expected = new Set<string>()
      for (let p = 0; p < 20; p++) for (let b = 0; b < 15; b++) for (let i = 0; i < 40; i++) expected.add(`k-${(p * 37 + b * 40 + i) % 3000}`)
      assert.strictEqual(ids.length, expected.size)
      assert.deepStrictEqual(seen, log.map((e) => e.seq), "the reader's pages, concatenated, are the final log")
      for (let i = 1; i < log.length; i++) assert.strictEqual(log[i].seq, log[i - 1].seq + 1, "no gap in seq")

      const stats = await Promise.all(instances.map((i) => fetch(`${i.url}/stats`).then((r) => r.json() as Promise<any>)))
      // Against what this test sent and counted, and a recount of the log (`received` is derived
      // from the others, so comparing it with their sum would prove nothing).
      for (const s of stats) {
        assert.strictEqual(s.unique_processed, expected.size)
        assert.strictEqual(s.unique_processed, log.length)
        assert.strictEqual(s.received, 20 * 15 * 40)
        assert.strictEqual(s.duplicate_dropped, 20 * 15 * 40 - expected.size)
        assert.strictEqual(s.pending, 0)
      }
      // Groups that raced another instance for a key and were decided again under the lock.
      for (const i of instances) {
        const metrics = await fetch(`${i.url}/metrics`).then((r) => r.text())
        assert.match(metrics, /^event_aggregator_pg_commit_replanned_total\{[^}]*\} \d+$/m)
        // Every group has committed: none is left planned.
        assert.match(metrics, /^event_aggregator_pg_commit_pipeline_groups\{[^}]*\} 0$/m)
      }
    } finally {
      await Promise.all(instances.map(stop))
    }
  }, 120_000)

  it("the CLI publisher's self-check holds for 20,000 events with 30% duplicates over 3 instances", async () => {
    const url = Redacted.value(urlFor(await freshSchema("ea_scale")))
    const instances = await Promise.all([start(url), start(url), start(url)])
    try {
      const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
        ChildProcess.execFile(process.execPath, [
          cliJs, "publish", "--counts", "20000", "--duplicates-ratio", "0.3", "--batch-size", "500",
          ...instances.flatMap((i) => ["--url", i.url])
        ], { timeout: 90_000 }, (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr })))
      assert.strictEqual(result.code, 0, result.stdout + result.stderr)
      assert.include(result.stdout, "+20000 received, +14000 unique, +6000 duplicates: OK")
    } finally {
      await Promise.all(instances.map(stop))
    }
  }, 120_000)

  it("a database lost while running: /ready and publishes answer 503; both recover when it returns", async () => {
    // A TCP proxy in front of PostgreSQL stands in for the network: stopping it loses the database.
    const upstream = new URL(baseUrl)
    const sockets = new Set<Net.Socket>()
    let server: Net.Server | undefined
    let port = 0
    const open = () =>
      new Promise<void>((resolve) => {
        server = Net.createServer((client) => {
          const db = Net.connect(Number(upstream.port || 5432), upstream.hostname)
          for (const s of [client, db]) {
            sockets.add(s)
            s.on("error", () => {
              client.destroy()
              db.destroy()
            })
            s.on("close", () => sockets.delete(s))
          }
          client.pipe(db).pipe(client)
        })
        server.listen(port, "127.0.0.1", () => {
          port = (server!.address() as Net.AddressInfo).port
          resolve()
        })
      })
    const cut = () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server!.close(() => resolve())
      })
    await open()
    const schema = await freshSchema("ea_outage")
    const proxied = new URL(baseUrl)
    proxied.port = String(port)
    proxied.searchParams.set("options", `-c search_path=${schema}`)
    const instance = await start(proxied.toString())
    const readyStatus = () => fetch(`${instance.url}/ready`).then((r) => r.status)
    try {
      assert.strictEqual((await post(instance.url, [event("outage", "before")])).status, 200)
      await cut()
      await until(async () => (await readyStatus()) === 503, "/ready to answer 503")
      const during = await post(instance.url, [event("outage", "during")])
      assert.strictEqual(during.status, 503, JSON.stringify(during.body))
      assert.strictEqual(during.body.error, "StoreUnavailable")

      await open()
      await until(async () => (await readyStatus()) === 200, "/ready to answer 200 again")
      assert.strictEqual((await post(instance.url, [event("outage", "after")])).status, 200)
      const ids = (await readLog(instance.url)).map((e) => e.event_id)
      assert.deepStrictEqual(ids, ["before", "after"], "nothing of the failed publish was stored")
      const stats = await fetch(`${instance.url}/stats`).then((r) => r.json() as Promise<any>)
      // Two events acknowledged, both new; the refused one counted nowhere.
      assert.deepStrictEqual(
        [stats.received, stats.unique_processed, stats.duplicate_dropped, stats.pending],
        [2, ids.length, 0, 0]
      )
    } finally {
      await stop(instance)
      await cut()
    }
  }, 120_000)

  it("SIGKILL of one instance under durable load loses nothing it acknowledged; the others keep serving", async () => {
    const url = Redacted.value(urlFor(await freshSchema("ea_kill")))
    const instances = await Promise.all([start(url), start(url), start(url)])
    try {
      const acknowledged = new Set<string>()
      const ackedBy = [0, 0, 0]
      let running = true
      const clients = Array.from({ length: 6 }, async (_, c) => {
        for (let b = 0; running; b++) {
          const batch = Array.from({ length: 20 }, (_, i) => event("kill", `c${c}-${b}-${i}`))
          const r = await post(instances[c % 3]!.url, batch)
          if (r.status === 200) {
            for (const e of batch) acknowledged.add(e.event_id)
            ackedBy[c % 3]! += batch.length
          } else if (c % 3 === 0) await new Promise((res) => setTimeout(res, 20)) // its instance is gone
        }
      })
      // Under load: every instance, the one to be killed too, has acknowledged batches.
      await until(() => ackedBy.every((n) => n >= 200), "each instance to acknowledge 200 events", 1000, 10)
      instances[0]!.process.kill("SIGKILL")
      await instances[0]!.exited
      const ackedAtKill = acknowledged.size
      await until(() => acknowledged.size >= ackedAtKill + 400, "the other instances to acknowledge 400 more events", 1000, 10)
      running = false
      await Promise.all(clients)
      assert.isAbove(acknowledged.size, ackedAtKill, "the other instances kept acknowledging")

      const log = await readLog(instances[1]!.url)
      const present = new Set(log.map((e) => e.event_id))
      assert.strictEqual(present.size, log.length, "no key stored twice")
      assert.deepStrictEqual([...acknowledged].filter((id) => !present.has(id)), [], "every acknowledged event survived")
      const stats = await fetch(`${instances[2]!.url}/stats`).then((r) => r.json() as Promise<any>)
      assert.strictEqual(stats.unique_processed, log.length)
    } finally {
      await Promise.all(instances.map(stop))
    }
  }, 120_000)
})
