import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { createAggregator } from "../src/promise.js"

const ev = (event_id: string, payload: Record<string, unknown> = {}) => ({
  topic: "facade",
  event_id,
  timestamp: "2025-01-31T12:00:00Z",
  source: "test",
  payload
})

describe("promise facade", () => {
  it("publishes, dedups across a reopen, and rejects with tagged errors", async () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-facade-"))
    try {
      const path = Path.join(dir, "db", "events.sqlite")
      const agg = await createAggregator({ path })
      const first = await agg.publish([ev("1"), ev("2"), ev("1")])
      assert.deepStrictEqual(
        { received: first.received, accepted: first.accepted, duplicates: first.duplicates },
        { received: 3, accepted: 2, duplicates: 1 }
      )
      assert.deepStrictEqual(first.results.map((r) => r.status), ["accepted", "accepted", "duplicate"])
      const single = await agg.publish(ev("3"))
      assert.strictEqual(single.accepted, 1)
      const error = await agg.publish([ev("4"), { ...ev("5"), payload: "nope" }]).catch((e: unknown) => e)
      assert.strictEqual((error as { _tag?: string })._tag, "InvalidEvents")
      assert.strictEqual((await agg.stats()).received, 4)
      assert.isUndefined(await agg.get("facade", "4"))
      await agg.enqueue([ev("6")])
      await agg.close()

      const again = await createAggregator({ path })
      const retry = await again.publish([ev("1"), ev("6"), ev("2", { changed: true })])
      assert.deepStrictEqual(retry.results.map((r) => r.status), ["duplicate", "duplicate", "conflict"])
      const page = await again.events({ topic: "facade" })
      assert.deepStrictEqual(page.events.map((e) => e.event_id), ["1", "2", "3", "6"])
      assert.strictEqual((await again.get("facade", "2"))?.event_id, "2")
      await again.events({ limit: 0 }).then(
        () => assert.fail("limit 0 must be rejected"),
        (e: Error) => assert.include(e.message, "limit")
      )
      await again.close()
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("rejects at creation when the database cannot be opened", async () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-facade-"))
    try {
      Fs.writeFileSync(Path.join(dir, "file"), "x")
      const error = await createAggregator({ path: Path.join(dir, "file", "db.sqlite") }).catch((e: unknown) => e)
      assert.strictEqual((error as { _tag?: string })._tag, "StoreError")
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
