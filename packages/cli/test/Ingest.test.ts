// Local ingest keeps many batches in flight (read and validated while the store commits): the log
// must still come out in file order, with the first copy of a key winning.
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { cli } from "./utils.js"

let dir: string
beforeAll(() => {
  dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-ingest-"))
})
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

describe("ingest", () => {
  it("with small batches all in flight: stored in file order, the first copy of each key wins", async () => {
    const keys = 8_000
    const lines = 12_000 // lines past `keys` re-send earlier keys with other content: conflicts
    const nd = Path.join(dir, "order.ndjson")
    const text = Array.from({ length: lines }, (_, i) =>
      JSON.stringify({
        topic: "order",
        event_id: `k${(i * 7) % keys}`, // not sorted: the order comes from the file
        timestamp: "2025-01-31T12:00:00Z",
        source: "ingest-test",
        payload: { line: i }
      })).join("\n")
    Fs.writeFileSync(nd, text + "\n")
    const db = Path.join(dir, "order.sqlite")
    const r = await cli(["ingest", "--db", db, "--quiet", "--batch-size", "50", nd])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, `read ${lines}, accepted ${keys}, duplicates ${lines - keys}, conflicts ${lines - keys}, rejected 0`)
    const stored: Array<{ event_id: string; seq: number; payload: { line: number } }> = []
    for (let after = 0; stored.length < keys;) {
      const page = JSON.parse((await cli(["events", "--db", db, "--topic", "order", "--after", String(after), "--limit", "1000", "--json"])).stdout)
      if (page.events.length === 0) break
      stored.push(...page.events)
      after = page.events.at(-1).seq
    }
    assert.deepStrictEqual(
      stored.map((e) => [e.event_id, e.seq, e.payload.line]),
      Array.from({ length: keys }, (_, i) => [`k${(i * 7) % keys}`, i + 1, i])
    )
  }, 120_000)
})
