// The built server as a child process: configuration failures, restart, graceful stop, SIGKILL.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { allEvents, type Child, event, freshTopic, getJson, publish, runServer, spawnScoped, tempDir } from "./utils.js"

const start = spawnScoped

const stop = (child: Child, signal: NodeJS.Signals) =>
  Effect.promise(() => {
    child.process.kill(signal)
    return child.exited
  })

describe("server process", () => {
  it.live("a bad setting stops start-up with one line naming the variable and a non-zero exit", () =>
    Effect.gen(function*() {
      const cases = [
        ["WORKER_COUNT", "abc"],
          ["WORKER_COUNT", "0"],
          ["MAX_PAYLOAD_DEPTH", "5000"],
          ["QUEUE_MAXSIZE", "-1"],
          ["PORT", "99999"],
          ["ACK_MODE", "maybe"],
          ["SQLITE_SYNCHRONOUS", "OFF"],
          ["MAX_BODY_BYTES", "lots"],
          ["LOG_LEVEL", "loud"]
        ] as const
      const results = yield* Effect.forEach(
        cases,
        ([name, value]) => Effect.promise(() => runServer({ [name]: value, DEDUP_DB_PATH: "/nonexistent-dir/never.sqlite" })),
        { concurrency: 4 }
      )
      results.forEach((r, i) => {
        const [name, value] = cases[i]!
        assert.notStrictEqual(r.code, 0, `${name}=${value}`)
        const lines = r.stderr.trim().split("\n")
        assert.strictEqual(lines.length, 1, r.stderr)
        assert.include(lines[0], name)
      })
      // The same line, word for word, as the library and the CLI flags give (tested there).
      assert.include(results[1]!.stderr, "configuration error: WORKER_COUNT: must be an integer from 1 to 1024, got 0")
      const r = yield* Effect.promise(() => runServer({ DEDUP_DB_PATH: "/etc/passwd/dedup.sqlite" }))
      assert.notStrictEqual(r.code, 0)
      assert.strictEqual(r.stderr.trim().split("\n").length, 1, r.stderr)
      assert.include(r.stderr, "event store open failed")
    }))

  it.scopedLive("after a restart on the same file: duplicates still rejected, stats and events preserved", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = { DEDUP_DB_PATH: Path.join(dir, "nested", "dedup.sqlite") }
      const topic = freshTopic()
      const first = yield* start(env)
      yield* publish(first.url, [event(topic, "1"), event(topic, "2"), event(topic, "2")])
      const statsBefore = (yield* getJson(first.url, "/stats")).body
      const eventsBefore = yield* allEvents(first.url)
      assert.strictEqual(yield* stop(first, "SIGTERM"), 0)

      const second = yield* start(env)
      const statsAfter = (yield* getJson(second.url, "/stats")).body
      for (const k of ["received", "unique_processed", "duplicate_dropped", "conflicts", "per_topic", "topics"]) {
        assert.deepStrictEqual(statsAfter[k], statsBefore[k], k)
      }
      assert.deepStrictEqual(yield* allEvents(second.url), eventsBefore)
      const again = yield* publish(second.url, [event(topic, "1"), event(topic, "3")], { query: "detail=true" })
      assert.deepStrictEqual(again.body.results, [
        { index: 0, status: "duplicate", seq: 1 },
        { index: 1, status: "accepted", seq: 3 }
      ])
      assert.strictEqual(yield* stop(second, "SIGINT"), 0)
    }))

  it.scopedLive("SIGTERM commits what was queued before exiting 0", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = { DEDUP_DB_PATH: Path.join(dir, "dedup.sqlite"), SQLITE_SYNCHRONOUS: "NORMAL" }
      const topic = freshTopic()
      const child = yield* start(env)
      const batches = Array.from({ length: 20 }, (_, b) =>
        Array.from({ length: 500 }, (_, i) => event(topic, `${b}-${i}`)))
      const replies = yield* Effect.forEach(batches, (batch) => publish(child.url, batch, { query: "ack=queued" }), {
        concurrency: 4
      })
      assert.isTrue(replies.every((r) => r.status === 202))
      assert.strictEqual(yield* stop(child, "SIGTERM"), 0)
      assert.include(child.output(), "draining")

      const again = yield* start(env)
      const stats = (yield* getJson(again.url, "/stats")).body
      assert.deepStrictEqual([stats.received, stats.unique_processed, stats.pending], [10_000, 10_000, 0])
      assert.strictEqual((yield* allEvents(again.url, topic)).length, 10_000)
    }))

  it.scopedLive("SIGKILL under durable load loses nothing acknowledged and stores nothing twice", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = { DEDUP_DB_PATH: Path.join(dir, "dedup.sqlite") }
      const topic = freshTopic()
      const child = yield* start(env)
      const acknowledged = new Set<string>()
      let killed = false
      // 6 clients, each sending batches of 20 (half of each batch re-sends keys of other clients).
      const client = (c: number) =>
        Effect.gen(function*() {
          for (let b = 0; !killed; b++) {
            const batch = Array.from({ length: 20 }, (_, i) =>
              i % 2 === 0 ? event(topic, `c${c}-${b}-${i}`) : event(topic, `c${(c + 1) % 6}-${b}-${i - 1}`))
            const r = yield* Effect.promise(() =>
              fetch(`${child.url}/publish`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify(batch)
              }).then((res) => res.status, () => 0)
            )
            if (r === 200) for (const e of batch) acknowledged.add(e.event_id)
          }
        })
      const load = yield* Effect.fork(Effect.all(Array.from({ length: 6 }, (_, c) => client(c)), { concurrency: "unbounded" }))
      // Kill while the load runs: once a good number of events has been acknowledged.
      while (acknowledged.size < 300) yield* Effect.sleep("5 millis")
      child.process.kill("SIGKILL")
      killed = true
      yield* stop(child, "SIGKILL")
      yield* load.await
      assert.isAbove(acknowledged.size, 100, "some load was acknowledged before the kill")

      const again = yield* start(env)
      const stored = yield* allEvents(again.url, topic)
      const ids = stored.map((e) => e.event_id)
      assert.strictEqual(new Set(ids).size, ids.length, "no key stored twice")
      const present = new Set(ids)
      const lost = [...acknowledged].filter((id) => !present.has(id))
      assert.deepStrictEqual(lost, [], "every acknowledged event survived")
      const stats = (yield* getJson(again.url, "/stats")).body
      assert.strictEqual(stats.pending, 0)
      // The persisted counters are a recount of the stored log.
      assert.strictEqual(stats.unique_processed, ids.length)
      assert.strictEqual(stats.per_topic[topic].unique_processed, ids.length)
    }))

  it.scopedLive("SIGKILL while the writer thread is mid-commit: what was acknowledged survives, the open transaction leaves nothing", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "dedup.sqlite")
      const holding = Path.join(dir, "holding")
      const [acked, held] = [freshTopic("acked"), freshTopic("held")]
      // The writer thread blocks inside the transaction that holds an event of `held`, after its
      // rows are written and before COMMIT, and says so by creating `holding`.
      const child = yield* start({
        DEDUP_DB_PATH: file,
        SQLITE_WRITER: "thread",
        EVENT_AGGREGATOR_TEST_HOLD_COMMIT: `${held}:${holding}`
      })
      const ackedIds: Array<string> = []
      for (let b = 0; b < 3; b++) {
        const batch = Array.from({ length: 100 }, (_, i) => event(acked, `${b}-${i}`))
        const r = yield* publish(child.url, batch)
        assert.strictEqual(r.status, 200)
        ackedIds.push(...batch.map((e) => e.event_id))
      }
      const heldBatch = Array.from({ length: 50 }, (_, i) => event(held, `h-${i}`))
      const pending = yield* Effect.fork(publish(child.url, heldBatch))
      while (!Fs.existsSync(holding)) yield* Effect.sleep("5 millis") // readiness probe: the writer is mid-commit
      child.process.kill("SIGKILL")
      assert.strictEqual(yield* Effect.promise(() => child.exited), "SIGKILL")
      const reply = yield* pending.await
      assert.isTrue(reply._tag === "Failure" || reply.value.status !== 200, "the held batch was never acknowledged")

      const again = yield* start({ DEDUP_DB_PATH: file })
      assert.deepStrictEqual((yield* allEvents(again.url, acked)).map((e) => e.event_id), ackedIds)
      assert.deepStrictEqual(yield* allEvents(again.url, held), [])
      const stats = (yield* getJson(again.url, "/stats")).body
      assert.strictEqual(stats.unique_processed, ackedIds.length)
      assert.isUndefined(stats.per_topic[held])
      // The rolled-back keys are new to the store: the re-send is accepted, numbered after the rest.
      const retry = yield* publish(again.url, heldBatch, { query: "detail=true" })
      assert.deepStrictEqual(
        retry.body.results.map((r: { status: string; seq: number }) => [r.status, r.seq]),
        heldBatch.map((_, i) => ["accepted", ackedIds.length + 1 + i])
      )
    }))
})
