// The built `event-aggregator` bin, end to end: ingest, publish, stats, events, serve.
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { bin, cli } from "./utils.js"

const event = (topic: string, id: string, payload: object = {}) =>
  JSON.stringify({ topic, event_id: id, timestamp: "2025-01-31T12:00:00Z", source: "cli-test", payload })

let dir: string
beforeAll(() => {
  dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-cli-"))
})
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

/** A server started with `event-aggregator serve --port 0`; resolves once it listens. */
const serve = (db: string) =>
  new Promise<{ readonly url: string; readonly stop: () => Promise<number | string> }>((resolve, reject) => {
    const child = ChildProcess.spawn(process.execPath, [bin, "serve", "--port", "0", "--host", "127.0.0.1", "--db", db], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, API_KEY: "" }
    })
    let out = ""
    const exited = new Promise<number | string>((done) => child.once("exit", (code, signal) => done(code ?? signal ?? "?")))
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString()
      const m = /Listening on http:\/\/[^:]+:(\d+)/.exec(out)
      if (m) {
        resolve({
          url: `http://127.0.0.1:${m[1]}`,
          stop: () => {
            child.kill("SIGTERM")
            return exited
          }
        })
      }
    })
    child.stderr.on("data", (c: Buffer) => (out += c.toString()))
    void exited.then((code) => reject(new Error(`serve exited ${code}: ${out}`)))
  })

describe("event-aggregator", () => {
  it("every command has --help with an example", async () => {
    for (const command of ["serve", "ingest", "publish", "stats", "events"]) {
      const r = await cli([command, "--help"])
      assert.strictEqual(r.code, 0, command)
      assert.include(r.stdout, "Example", command)
      assert.include(r.stdout, `event-aggregator ${command}`, command)
    }
    assert.include((await cli(["events", "--help"])).stdout, "event-aggregator events --follow")
  })

  it("serve refuses out-of-range flags with one line naming the setting", async () => {
    const r = await cli(["serve", "--port", "0", "--workers", "0", "--db", Path.join(dir, "never.sqlite")])
    assert.strictEqual(r.code, 1)
    assert.strictEqual(r.stderr.trim().split("\n").length, 1, r.stderr)
    // Word for word what WORKER_COUNT=0 and AggregatorConfig.layer({ workerCount: 0 }) say.
    assert.include(r.stderr, "configuration error: WORKER_COUNT: must be an integer from 1 to 1024, got 0")
    assert.isFalse(Fs.existsSync(Path.join(dir, "never.sqlite")), "nothing was created")
  })

  it("serve takes the retention flags, checked as the environment is: a window shorter than the retention, a bad map", async () => {
    const help = (await cli(["serve", "--help"])).stdout
    for (const flag of ["--retention", "--dedup-window", "--topic-retention", "--topic-dedup-window"]) assert.include(help, flag)
    const db = Path.join(dir, "never.sqlite")
    const short = await cli(["serve", "--port", "0", "--db", db, "--retention", "30d", "--dedup-window", "7d"])
    assert.strictEqual(short.code, 1)
    assert.include(short.stderr, "configuration error: DEDUP_WINDOW: must be at least RETENTION (30d), got 7d")
    const perTopic = await cli(["serve", "--port", "0", "--db", db, "--retention", "1d", "--dedup-window", "1d", "--topic-retention", "logs=2d"])
    assert.strictEqual(perTopic.code, 1)
    assert.include(perTopic.stderr, "TOPIC_DEDUP_WINDOW")
    const map = await cli(["serve", "--port", "0", "--db", db, "--topic-retention", "logs"])
    assert.notStrictEqual(map.code, 0)
    assert.include(map.stdout + map.stderr, "--topic-retention must be topic=duration items")
    assert.isFalse(Fs.existsSync(db), "nothing was created")
  })

  it("serve --idempotency-ttl takes a duration (24h, 90s, 30d) and refuses anything else", async () => {
    assert.include((await cli(["serve", "--help"])).stdout, "--idempotency-ttl")
    const bad = await cli(["serve", "--port", "0", "--idempotency-ttl", "forever", "--db", Path.join(dir, "never.sqlite")])
    assert.strictEqual(bad.code, 1)
    assert.include(bad.stderr, "--idempotency-ttl must be a duration such as 90s, 15m, 24h or 30d")
    const short = await cli(["serve", "--port", "0", "--idempotency-ttl", "500ms", "--db", Path.join(dir, "never.sqlite")])
    assert.strictEqual(short.code, 1)
    assert.include(short.stderr, "IDEMPOTENCY_TTL: must be a duration of at least 1s")
    assert.isFalse(Fs.existsSync(Path.join(dir, "never.sqlite")), "nothing was created")
  })

  it("ingest reads NDJSON, JSON arrays, {events}, directories and stdin; rejects are reported and written", async () => {
    const inputs = Path.join(dir, "inputs")
    Fs.mkdirSync(inputs)
    Fs.writeFileSync(
      Path.join(inputs, "a.ndjson"),
      [event("a", "1"), event("a", "1"), "{broken", "", event("a", "2"), JSON.stringify({ topic: "a", event_id: "3" })].join("\n") + "\n"
    )
    Fs.writeFileSync(Path.join(inputs, "b.json"), `[${event("b", "1")}, ${event("b", "2", { x: 1 })}, ${event("a", "2", { other: 1 })}]`)
    Fs.writeFileSync(Path.join(inputs, "ignored.txt"), "not an input")
    const wrapped = Path.join(dir, "c.json")
    Fs.writeFileSync(wrapped, JSON.stringify({ events: [JSON.parse(event("c", "1")), { topic: "c" }] }))
    const db = Path.join(dir, "ingest.sqlite")
    const rejects = Path.join(dir, "rejects.ndjson")

    const first = await cli(["ingest", "--db", db, "--rejects", rejects, "--quiet", inputs, wrapped])
    assert.strictEqual(first.code, 1, "rejected records make the exit code non-zero")
    assert.include(first.stdout, "read 10, accepted 5, duplicates 2, conflicts 1, rejected 3")
    assert.include(first.stderr, `${Path.join(inputs, "a.ndjson")}:3: malformed JSON`)
    assert.include(first.stderr, `${Path.join(inputs, "a.ndjson")}:6:`)
    assert.include(first.stderr, `${wrapped}:events[1]:`)
    const written = Fs.readFileSync(rejects, "utf8").trim().split("\n").map((l) => JSON.parse(l))
    assert.deepStrictEqual(written.map((r) => r.where), [
      `${Path.join(inputs, "a.ndjson")}:3`,
      `${Path.join(inputs, "a.ndjson")}:6`,
      `${wrapped}:events[1]`
    ])
    assert.strictEqual(written[0].input, "{broken")
    assert.deepStrictEqual(written[1].input, { topic: "a", event_id: "3" })
    assert.isTrue(written.every((r) => typeof r.reason === "string" && r.reason.length > 0))

    const again = await cli(["ingest", "--db", db, "--quiet", inputs, wrapped])
    assert.include(again.stdout, "read 10, accepted 0, duplicates 7", "re-running accepts nothing new")

    const stdin = await cli(["ingest", "--db", db, "--quiet", "-"], { input: `${event("d", "1")}\n${event("a", "1")}\n` })
    assert.strictEqual(stdin.code, 0)
    assert.include(stdin.stdout, "read 2, accepted 1, duplicates 1, conflicts 0, rejected 0")

    const stats = await cli(["stats", "--db", db, "--json"])
    assert.strictEqual(stats.code, 0)
    const s = JSON.parse(stats.stdout)
    // What this test sent: 7 valid records in each of the two file runs (10 read, 3 rejected), then 2 on stdin.
    assert.strictEqual(s.received, 7 + 7 + 2)
    assert.strictEqual(s.unique_processed, 6)
    assert.strictEqual(s.duplicate_dropped, 2 + 7 + 1)
    assert.strictEqual(s.conflicts, 1 + 1 + 0)
    assert.strictEqual(s.pending, 0)
    assert.deepStrictEqual(s.topics, ["a", "b", "c", "d"])

    const table = await cli(["stats", "--db", db])
    assert.match(table.stdout, /unique_processed\s+6/)
    assert.match(table.stdout, /^b\s+2\s+2\s+0$/m)

    const events = await cli(["events", "--db", db, "--topic", "a"])
    assert.strictEqual(events.code, 0)
    assert.match(events.stdout, /^1\s+a\s+1\s+2025-01-31T12:00:00Z\s+cli-test\s+\{\}$/m)
    assert.match(events.stdout, /^2\s+a\s+2\s/m)
    assert.include(events.stdout, "(end of log)")
    const page = JSON.parse((await cli(["events", "--db", db, "--limit", "2", "--json"])).stdout)
    assert.deepStrictEqual(page.events.map((e: { seq: number }) => e.seq), [1, 2])
    assert.strictEqual(page.next_after, 2)
  })

  it("ingest keeps payloads byte for byte through events --json; values that cannot be kept reject their record", async () => {
    const fields = (id: string) =>
      `"topic": "exact", "event_id": "${id}", "timestamp": "2025-01-31T12:00:00Z", "source": "cli-test"`
    const kept = {
      n1: `{"id": 9223372036854775807, "price": 1.50, "s": "caf\\u00e9 \\"q\\" \\/ 😀", "n": [-0, 1E+2, 123456789012345678901234567890]}`,
      n4: `{"min":-9223372036854775808,"tiny":1e-400}`,
      j1: `{\n      "id": 9223372036854775807,\n      "x": 1.50\n    }`,
      j5: `{"escapes": "\\ud83d\\ude00\\n\\t\\u0000"}`,
      e1: `{"int64": [9223372036854775807, 18446744073709551615]}`
    }
    const deep = `{"d":${"[".repeat(99)}${"]".repeat(99)}}` // 100 containers, over MAX_PAYLOAD_DEPTH (64)
    const nd = Path.join(dir, "exact.ndjson")
    Fs.writeFileSync(nd, [
      `{${fields("n1")}, "payload": ${kept.n1}}`,
      `{${fields("n2")}, "payload": {"big": 1e999}}`,
      `{${fields("n3")}, "payload": ${deep}}`,
      `{${fields("n4")}, "payload": ${kept.n4}}`,
      `{${fields("n5")}, "payload": {"a": {"b": 1e400}}}`
    ].join("\n"))
    const arr = Path.join(dir, "exact.json")
    Fs.writeFileSync(arr, `[
  {${fields("j1")},
    "payload": ${kept.j1}},
  {${fields("j2")}, "payload": {"x": [1, -1e999]}},
  {"topic": 5, "event_id": "j3", "timestamp": "2025-01-31T12:00:00Z", "source": "cli-test", "payload": {}},
  {"topic": "exact", "event_id": "j4", "timestamp": "2025-01-31T12:00:00Z", "source": "${"x".repeat(1_000_000)}", "payload": {}},
  {${fields("j5")}, "payload": ${kept.j5}}
]
`)
    const wrapped = Path.join(dir, "exact-events.json")
    Fs.writeFileSync(wrapped, `{"events": [{${fields("e1")}, "payload": ${kept.e1}}]}`)
    const db = Path.join(dir, "exact.sqlite")
    const rejects = Path.join(dir, "exact-rejects.ndjson")

    const r = await cli(["ingest", "--db", db, "--quiet", "--rejects", rejects, nd, arr, wrapped])
    assert.strictEqual(r.code, 1)
    assert.include(r.stdout, "read 11, accepted 5, duplicates 0, conflicts 0, rejected 6")
    assert.include(r.stderr, `${nd}:2: payload.big is a number beyond the range of a double`)
    assert.include(r.stderr, `${nd}:3: payload.d${"[0]".repeat(63)}: payload is nested deeper than 64 levels (MAX_PAYLOAD_DEPTH)`)
    assert.include(r.stderr, `${nd}:5: payload.a.b is a number beyond the range of a double`)
    assert.include(r.stderr, `${arr}[1]: payload.x[1] is a number beyond the range of a double`)
    assert.include(r.stderr, `${arr}[2]: topic: `)
    assert.include(r.stderr, `${arr}[3]: source must be at most 255 characters`)
    const written = Fs.readFileSync(rejects, "utf8").trim().split("\n")
    assert.strictEqual(written.length, 6)
    assert.include(written[0], `"input":{${fields("n2")}, "payload": {"big": 1e999}}}`, "a reject is written as it was read")

    const out = await cli(["events", "--db", db, "--topic", "exact", "--json"])
    assert.strictEqual(out.code, 0, out.stderr)
    assert.deepStrictEqual([...out.stdout.matchAll(/"event_id":"(\w+)"/g)].map((m) => m[1]), ["n1", "n4", "j1", "j5", "e1"])
    for (const [id, payload] of Object.entries(kept)) {
      assert.include(out.stdout, `"event_id":"${id}","timestamp":"2025-01-31T12:00:00Z","source":"cli-test","payload":${payload},`)
    }
    const table = await cli(["events", "--db", db, "--topic", "exact"])
    assert.match(table.stdout, /^3\s+exact\s+j1\s+2025-01-31T12:00:00Z\s+cli-test\s+\{ "id": 9223372036854775807, "x": 1\.50 \}$/m)
    assert.match(table.stdout, /^1\s+exact\s+n1\s.*\s\{"id": 9223372036854775807, "price": 1\.50, "s": "caf\\u00e\.\.\.$/m)
  })

  it("fuzz: 600 generated records, half bad in every way; each bad one is reported, every good one stored exactly", async () => {
    const good = FastCheck.tuple(FastCheck.jsonValue({ maxDepth: 3 }), FastCheck.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }))
      .map(([v, big]) => ({ ok: true as const, payload: `{"v": ${JSON.stringify(v)}, "big": ${big}, "x": 1.50}` }))
    const field = (name: string, value: string) => ({ ok: false as const, name, value })
    const bad = FastCheck.oneof(
      FastCheck.string({ maxLength: 30 }).filter((t) => { try { JSON.parse(t); return false } catch { return true } }).map((t) => ({ ok: false as const, raw: t })),
      FastCheck.constantFrom("1e999", "[1e999]", `{"a":-1E400}`, `${"[".repeat(80)}${"]".repeat(80)}`, "[]", "\"text\"", "null")
        .map((p) => field("payload", p)),
      FastCheck.tuple(FastCheck.constantFrom("topic", "event_id", "timestamp", "source"), FastCheck.constantFrom("5", "null", "\"\"", "[]", "{}", `"${"x".repeat(300)}"`, "\"a\\u0000b\"", "\"\\ud800\""))
        .map(([name, value]) => field(name, value)),
      FastCheck.constant({ ok: false as const, name: "extra", value: "1" })
    )
    const records = FastCheck.sample(FastCheck.oneof(good, bad), { numRuns: 600, seed: 20261201 })
    const render = (r: (typeof records)[number], i: number): string => {
      if ("raw" in r) return r.raw
      const fields: Record<string, string> = {
        topic: "\"fuzz\"",
        event_id: `"r${i}"`,
        timestamp: "\"2025-01-31T12:00:00Z\"",
        source: "\"cli\"",
        payload: r.ok ? r.payload : "{}"
      }
      if (!r.ok) fields[r.name] = r.value
      return `{${Object.entries(fields).map(([k, v]) => `"${k}": ${v}`).join(", ")}}`
    }
    const lines = records.map(render)
    const goodIds = records.flatMap((r, i) => (r.ok ? [`r${i}`] : []))
    const nd = Path.join(dir, "fuzz.ndjson")
    Fs.writeFileSync(nd, lines.map((l) => l.replace(/\n/g, " ")).join("\n") + "\n")
    const db = Path.join(dir, "fuzz.sqlite")
    const r = await cli(["ingest", "--db", db, "--quiet", nd])
    assert.strictEqual(r.code, 1)
    const reported = new Set([...r.stderr.matchAll(new RegExp(`^${nd.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:(\\d+): `, "gm"))].map((m) => Number(m[1]) - 1))
    const badLines = records.flatMap((rec, i) => (rec.ok || lines[i]!.trim() === "" ? [] : [i]))
    assert.deepStrictEqual([...reported].sort((a, b) => a - b), badLines, "exactly the bad records are reported")
    assert.include(r.stdout, `accepted ${goodIds.length}, duplicates 0, conflicts 0, rejected ${badLines.length}`)
    const out = JSON.parse((await cli(["events", "--db", db, "--topic", "fuzz", "--limit", "10000", "--json"])).stdout)
    assert.deepStrictEqual(out.events.map((e: { event_id: string }) => e.event_id), goodIds, "every good record, in file order")
    const text = (await cli(["events", "--db", db, "--topic", "fuzz", "--limit", "10000", "--json"])).stdout
    for (const [i, rec] of records.entries()) {
      if (rec.ok) assert.include(text, `"event_id":"r${i}","timestamp":"2025-01-31T12:00:00Z","source":"cli","payload":${rec.payload},`)
    }
  }, 120_000)

  it("ingest refuses bytes that are not UTF-8 instead of replacing them", async () => {
    const good = Buffer.from(event("utf8", "ok", { s: "é" }) + "\n")
    const bad = Buffer.concat([Buffer.from(`{"topic":"utf8","event_id":"bad","timestamp":"2025-01-31T12:00:00Z","source":"s","payload":{"s":"a`), Buffer.from([0xff]), Buffer.from(`b"}}\n`)])
    const nd = Path.join(dir, "latin1.ndjson")
    Fs.writeFileSync(nd, Buffer.concat([good, bad, Buffer.from(event("utf8", "after") + "\r\n")]))
    const arr = Path.join(dir, "latin1.json")
    Fs.writeFileSync(arr, Buffer.concat([Buffer.from("["), good.subarray(0, good.length - 1), Buffer.from(","), bad.subarray(0, bad.length - 1), Buffer.from("]")]))
    const db = Path.join(dir, "utf8.sqlite")
    const r = await cli(["ingest", "--db", db, "--quiet", nd, arr])
    assert.strictEqual(r.code, 1)
    assert.include(r.stderr, `${nd}:2: the line is not valid UTF-8`)
    assert.include(r.stderr, `${arr}: the file is not valid UTF-8`)
    assert.include(r.stdout, "accepted 2,")
    const out = (await cli(["events", "--db", db, "--topic", "utf8", "--json"])).stdout
    assert.deepStrictEqual([...out.matchAll(/"event_id":"(\w+)"/g)].map((m) => m[1]), ["ok", "after"])
    assert.notInclude(out, "\uFFFD")
  })

  it("remote ingest, publish's self-check, stats and events against a running server", async () => {
    const server = await serve(Path.join(dir, "served.sqlite"))
    try {
      const file = Path.join(dir, "remote.ndjson")
      Fs.writeFileSync(file, Array.from({ length: 2500 }, (_, i) => event("r", String(i % 2000))).join("\n"))
      const ingest = await cli(["ingest", "--url", server.url, "--batch-size", "500", "--quiet", file])
      assert.strictEqual(ingest.code, 0, ingest.stderr)
      assert.include(ingest.stdout, "read 2500, accepted 2000, duplicates 500")

      const publish = await cli(["publish", "--counts", "5", "5000", "--duplicates-ratio", "0.2", "--topics", "3", "--url", server.url])
      assert.strictEqual(publish.code, 0, publish.stderr)
      const lines = publish.stdout.trim().split("\n")
      assert.strictEqual(lines.length, 2)
      assert.include(lines[0], "sent 5 events (4 unique, 1 re-sent)")
      assert.include(lines[1], "+5000 received, +4000 unique, +1000 duplicates: OK")

      const stats = JSON.parse((await cli(["stats", "--url", server.url, "--json"])).stdout)
      assert.strictEqual(stats.received, 2500 + 5005)
      assert.strictEqual(stats.unique_processed, 2000 + 4004)
      const events = await cli(["events", "--url", server.url, "--topic", "r", "--limit", "3"])
      assert.match(events.stdout, /^3\s+r\s+2\s/m)
      assert.include(events.stdout, "(more: --after 3)")
    } finally {
      assert.strictEqual(await server.stop(), 0, "serve exits 0 on SIGTERM")
    }
    const down = await cli(["stats", "--url", server.url])
    assert.notStrictEqual(down.code, 0)
    assert.include(down.stderr, "cannot reach the server")
  })
})
