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

describe("SqliteEventStore", () => {
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
      assert.deepStrictEqual(migrations, [{ migration_id: 1 }])
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
