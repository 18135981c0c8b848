import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import Database from "better-sqlite3"
import * as EventStore from "../src/EventStore.js"
import * as SqliteEventStore from "../src/SqliteEventStore.js"
import * as EventStoreSuite from "./EventStoreSuite.js"
import { event, freshTopic, tempDir } from "./utils.js"

const suiteDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-suite-"))

EventStoreSuite.suite({
  name: "sqlite",
  layer: SqliteEventStore.layerWith({ filename: Path.join(suiteDir, "suite.db") }),
  reopenable: (file) => SqliteEventStore.layerWith({ filename: file })
})

// The same contract with commits on the writer thread (SQLITE_WRITER=thread).
EventStoreSuite.suite({
  name: "sqlite, writer thread",
  layer: SqliteEventStore.layerWith({ filename: Path.join(suiteDir, "thread.db"), writer: "thread" }),
  reopenable: (file) => SqliteEventStore.layerWith({ filename: file, writer: "thread" })
})

describe("SqliteEventStore", () => {
  it.scoped("appends sent while the writer is busy each get their own outcomes, a later one seeing an earlier one's new rows (they share a transaction when they wait)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "events.db")
      const ctx = yield* Layer.build(SqliteEventStore.layerWith({ filename: file, writer: "thread" }))
      const store = yield* EventStore.EventStore.pipe(Effect.provide(ctx))
      const topic = freshTopic()
      // 20 groups at once; group i repeats the key of group i - 1, so a later group in the same
      // transaction must see an earlier group's new event as stored.
      const groups = Array.from({ length: 20 }, (_, i) =>
        [event(topic, `k${i}`, { i }), ...(i > 0 ? [event(topic, `k${i - 1}`, { i: i - 1 })] : [])])
      const results = yield* Effect.all(groups.map((g) => store.append(g)), { concurrency: "unbounded" })
      const seqOf = new Map<string, number>()
      for (const [i, r] of results.entries()) {
        assert.strictEqual(r.outcomes[0]!.status, "accepted")
        seqOf.set(`k${i}`, r.outcomes[0]!.seq)
        if (i > 0) assert.strictEqual(r.outcomes[1]!.status, "duplicate")
        assert.deepStrictEqual(r.deltas.get(topic), { unique_processed: 1, duplicate_dropped: i > 0 ? 1 : 0, conflicts: 0 })
      }
      for (const [i, r] of results.entries()) if (i > 0) assert.strictEqual(r.outcomes[1]!.seq, seqOf.get(`k${i - 1}`))
      const db = new Database(file, { readonly: true })
      const counters = db.prepare("SELECT unique_processed, duplicate_dropped FROM topic_counters WHERE topic = ?").get(topic)
      const seqs = db.prepare("SELECT seq FROM events WHERE topic = ? ORDER BY seq").all(topic) as Array<{ seq: number }>
      db.close()
      assert.deepStrictEqual(counters, { unique_processed: 20, duplicate_dropped: 19 })
      assert.deepStrictEqual(seqs.map((r) => r.seq), [...seqOf.values()].sort((a, b) => a - b))
    }))

  it.scoped("a commit that fails on the writer thread fails that append with a StoreError; the next one commits", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "events.db")
      const ctx = yield* Layer.build(SqliteEventStore.layerWith({ filename: file, cacheSize: 8 * 1024 * 1024, writer: "thread" }))
      const store = yield* EventStore.EventStore.pipe(Effect.provide(ctx))
      yield* store.append([event(freshTopic(), "1")])
      const blocker = new Database(file)
      blocker.pragma("busy_timeout = 0")
      blocker.exec("BEGIN IMMEDIATE")
      const failed = yield* Effect.flip(store.append([event(freshTopic(), "2")]).pipe(Effect.timeout("20 seconds")))
      blocker.exec("ROLLBACK")
      blocker.close()
      assert.instanceOf(failed, EventStore.StoreError)
      yield* store.append([event(freshTopic(), "3")])
    }))


  it.scoped("creates the file and its directories, in WAL mode with the chosen synchronous level", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "a", "b", "events.db")
      yield* Effect.scoped(Effect.gen(function*() {
        const ctx = yield* Layer.build(SqliteEventStore.layerWith({ filename: file, synchronous: "NORMAL" }))
        const store = yield* EventStore.EventStore.pipe(Effect.provide(ctx))
        yield* store.append([event(freshTopic(), "1")])
      }))
      assert.isTrue(Fs.existsSync(file))
      const db = new Database(file, { readonly: true })
      assert.strictEqual(db.pragma("journal_mode", { simple: true }), "wal")
      assert.deepStrictEqual(db.prepare("SELECT count(*) AS n FROM events").get(), { n: 1 })
      db.close()
      // Reopening applies no migration twice.
      yield* Effect.scoped(Layer.build(SqliteEventStore.layerWith({ filename: file })))
      const again = new Database(file, { readonly: true })
      const migrations = again.prepare("SELECT migration_id FROM event_aggregator_migrations").all()
      again.close()
      assert.deepStrictEqual(migrations, [{ migration_id: 1 }, { migration_id: 2 }, { migration_id: 3 }])
    }))

  it.scoped("a committed append is in the file, visible to another connection at once", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "events.db")
      const ctx = yield* Layer.build(SqliteEventStore.layerWith({ filename: file }))
      const store = yield* EventStore.EventStore.pipe(Effect.provide(ctx))
      const topic = freshTopic()
      yield* store.append([event(topic, "durable", { v: 1 })])
      const db = new Database(file, { readonly: true })
      const row = db.prepare("SELECT payload FROM events WHERE topic = ? AND event_id = ?").get(topic, "durable") as
        | { payload: string }
        | undefined
      db.close()
      assert.deepStrictEqual(JSON.parse(row?.payload ?? "null"), { v: 1 })
    }))

  it.scoped("a file that is not a database fails to open with a StoreError", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "not-a-db")
      Fs.writeFileSync(file, "this is not sqlite, just text that is long enough to look like a header".repeat(20))
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(SqliteEventStore.layerWith({ filename: file }))))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.instanceOf(error, EventStore.StoreError)
        assert.strictEqual(error?.operation, "open")
      }
    }))

  it.scoped("a path whose directory cannot be created fails to open with a StoreError", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const blocker = Path.join(dir, "file")
      Fs.writeFileSync(blocker, "x")
      const exit = yield* Effect.exit(
        Effect.scoped(Layer.build(SqliteEventStore.layerWith({ filename: Path.join(blocker, "sub", "db.sqlite") })))
      )
      assert.isTrue(Exit.isFailure(exit))
    }))
})
