// The CLI against fake servers (node:http): retries per request (through @event-aggregator/client),
// refusals, publish's self-check, and payload text sent and printed exactly.
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { cli, type Fake, fakeServer, statsBody } from "./utils.js"

const withFake = <A>(fake: Promise<Fake>, f: (fake: Fake) => Promise<A>) =>
  fake.then((server) => f(server).finally(() => server.close()))

const busy = (seconds: number, error = "QueueFull") => ({
  status: 503,
  headers: { "retry-after": String(seconds) },
  body: { error, message: "the queue is full; retry later", capacity: 10 }
})

const accepted = (n: number) => ({ status: 200, body: { received: n, accepted: n, duplicates: 0, conflicts: 0 } })

describe("event-aggregator against a fake server", () => {
  it("stats --url waits out two 503s with Retry-After: 1, then prints the answer", () =>
    withFake(
      fakeServer((_, previous) => (previous.length < 2 ? busy(1) : { status: 200, body: statsBody(7, 5, 2) })),
      async (fake) => {
        const r = await cli(["stats", "--url", fake.url, "--json"])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(JSON.parse(r.stdout).received, 7)
        const at = fake.requests.map((q) => q.at)
        assert.strictEqual(at.length, 3)
        assert.isAtLeast(at[1]! - at[0]!, 990, "the first retry waited Retry-After")
        assert.isAtLeast(at[2]! - at[1]!, 990, "the second retry waited Retry-After")
      }
    ))

  it("ingest --url stops at once on a refusal that is not a 503, with the server's message", () =>
    withFake(
      fakeServer(() => ({
        status: 422,
        body: { error: "InvalidEvents", message: "1 problem in the events: event 0 topic: bad", issues: [] }
      })),
      async (fake) => {
        const r = await cli(["ingest", "--url", fake.url, "--quiet", "-"], {
          input: `{"topic":"t","event_id":"1","timestamp":"2025-01-31T12:00:00Z","source":"s","payload":{}}\n`
        })
        assert.strictEqual(r.code, 1)
        assert.include(r.stderr, "InvalidEvents: 1 problem in the events: event 0 topic: bad")
        assert.strictEqual(fake.requests.length, 1)
      }
    ))

  /** A server whose /stats moves by what /publish received (`honest`), or never moves. */
  const publishTarget = (honest: boolean) => {
    const keys = new Set<string>()
    const counts = { received: 0, unique: 0, duplicates: 0 }
    return fakeServer((request) => {
      if (request.path === "/stats") return { status: 200, body: statsBody(counts.received, counts.unique, counts.duplicates) }
      const events = JSON.parse(request.body) as Array<{ topic: string; event_id: string; payload: unknown }>
      let fresh = 0
      for (const e of events) {
        const key = `${e.topic}/${e.event_id}`
        if (!keys.has(key)) fresh++
        keys.add(key)
      }
      if (honest) {
        counts.received += events.length
        counts.unique += fresh
        counts.duplicates += events.length - fresh
      }
      return {
        status: 200,
        body: { received: events.length, accepted: fresh, duplicates: events.length - fresh, conflicts: 0 }
      }
    })
  }

  it("publish's self-check passes when /stats moves by what was sent", () =>
    withFake(publishTarget(true), async (fake) => {
      const r = await cli(["publish", "--counts", "50", "--duplicates-ratio", "0.2", "--batch-size", "20", "--url", fake.url])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.include(r.stdout, "+50 received, +40 unique, +10 duplicates: OK")
      // The payloads went out as JSON objects (text spliced in), not as strings.
      const sent = JSON.parse(fake.requests.find((q) => q.path === "/publish")!.body)
      assert.deepStrictEqual(Object.keys(sent[0].payload), ["run", "i"])
    }))

  it("publish's self-check fails with exit 1 and a MISMATCH line when /stats does not move", () =>
    withFake(publishTarget(false), async (fake) => {
      const r = await cli(["publish", "--counts", "50", "--duplicates-ratio", "0.2", "--batch-size", "20", "--url", fake.url])
      assert.strictEqual(r.code, 1)
      assert.match(
        r.stdout,
        /^sent 50 events \(40 unique, 10 re-sent\) in 3 requests, .* server counted \+0 received, \+0 unique, \+0 duplicates: MISMATCH \(expected \+50 received, \+40 unique, \+10 duplicates\)$/m
      )
      assert.include(r.stderr, "1 run did not match")
      assert.strictEqual(fake.requests.filter((q) => q.path === "/publish").length, 3)
    }))

  it("ingest --url sends each payload's text exactly as it was in the file", () =>
    withFake(fakeServer(() => accepted(2)), async (fake) => {
      const payloads = [
        "{\"id\": 9223372036854775807, \"price\": 1.50, \"s\": \"caf\\u00e9 \\\"q\\\" \\/\"}",
        "{ \"n\" : [ -0, 1E+2, 123456789012345678901234567890 ] }"
      ]
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-remote-"))
      try {
        const file = Path.join(dir, "exact.json")
        Fs.writeFileSync(file, `[\n${payloads.map((p, i) => `  {"topic": "t", "event_id": "${i}", "timestamp": "2025-01-31T12:00:00Z", "source": "s", "payload": ${p}}`).join(",\n")}\n]\n`)
        const r = await cli(["ingest", "--url", fake.url, "--quiet", file])
        assert.strictEqual(r.code, 0, r.stderr)
        const body = fake.requests[0]!.body
        for (const p of payloads) assert.include(body, `"payload":${p}`)
      } finally {
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    }))

  it("events --url prints payloads exactly as the server returns them", () => {
    const payload = "{\"id\": 9223372036854775807, \"price\": 1.50, \"s\": \"caf\\u00e9\"}"
    const page = `{"events":[{"topic":"t","event_id":"1","timestamp":"2025-01-31T12:00:00Z","source":"s","payload":${payload},"seq":1,"received_at":"2025-01-31T12:00:01.000Z"}],"next_after":null}`
    return withFake(fakeServer(() => ({ status: 200, body: page })), async (fake) => {
      const json = await cli(["events", "--url", fake.url, "--json"])
      assert.strictEqual(json.code, 0, json.stderr)
      assert.strictEqual(json.stdout.trim(), page)
      const table = await cli(["events", "--url", fake.url])
      assert.match(table.stdout, /^1\s+t\s+1\s+2025-01-31T12:00:00Z\s+s\s+\{"id": 9223372036854775807, "price": 1\.50, "s": "caf\\u00e9"\}$/m)
      assert.strictEqual(fake.requests[0]!.query.get("limit"), "100")
    })
  })
})
