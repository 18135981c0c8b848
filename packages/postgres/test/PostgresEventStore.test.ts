import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Cause from "effect/Cause"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import { createHash } from "node:crypto"
import * as Net from "node:net"
import { Client } from "pg"
import * as Event from "../../core/src/Event.js"
import * as EventStore from "../../core/src/EventStore.js"
import * as EventStoreSuite from "../../core/test/EventStoreSuite.js"
import { event } from "../../core/test/utils.js"
import { PostgresEventStore } from "../src/index.js"
import { available, baseUrl, dropSchemas, ensureSchema, freshSchema, urlFor } from "./utils.js"

const reachable = await available()
const schema = reachable ? await freshSchema() : "unused"
afterAll(dropSchemas)

const storeIn = (name: string) =>
  Layer.unwrapEffect(Effect.promise(() => ensureSchema(name)).pipe(
    Effect.as(PostgresEventStore.layerWith({ url: urlFor(name) }))
  ))

describe.skipIf(!reachable)("PostgreSQL", () => {
  EventStoreSuite.suite({
    name: "postgres",
    layer: PostgresEventStore.layerWith({ url: urlFor(schema) }),
    // The suite reopens "the same file": here, the same schema, named after it.
    reopenable: (file) => storeIn(`ea_reopen_${createHash("sha1").update(file).digest("hex").slice(0, 12)}`)
  })

  describe("PostgresEventStore", () => {
    /** Two stores (two pools, as two processes would have) on one fresh schema. */
    const twoStores = Effect.gen(function*() {
      const name = yield* Effect.promise(() => freshSchema())
      const a = yield* PostgresEventStore.make({ url: urlFor(name), maxConnections: 2 })
      const b = yield* PostgresEventStore.make({ url: urlFor(name), maxConnections: 2 })
      return [a, b, name] as const
    })

    /** Polls `probe` until `done` holds (bounded by the test's timeout). */
    const until = <A>(probe: Effect.Effect<A>, done: (a: A) => boolean) =>
      Effect.gen(function*() {
        for (;;) {
          const a = yield* probe
          if (done(a)) return a
          yield* Effect.sleep("5 millis")
        }
      })

    /** Groups of this process planned and waiting to commit (every store of the process). */
    const pipelined = Effect.map(Metric.value(PostgresEventStore.pipelineGroups), (s) => s.value)

    /** Until the fiber has received an interruption (it may still be running, uninterruptibly). */
    const interruptionReceived = (fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
      until(Effect.sync(() => fiber.getFiberRef(FiberRef.interruptedCause)), (cause) => !Cause.isEmpty(cause))

    /** The outcomes of an append. */
    const outcomes = (store: EventStore.EventStore["Type"], events: ReadonlyArray<Event.Event>) =>
      Effect.map(store.append(events), (appended) => appended.outcomes)

    const adminClient = Effect.acquireRelease(
      Effect.promise(async () => {
        const c = new Client({ connectionString: baseUrl })
        await c.connect()
        return c
      }),
      (c) => Effect.promise(() => c.end())
    )

    /** The commit lock of `schema`, held and released from a connection of the test's own, and who waits on it. */
    const commitLockOf = (schema: string) =>
      Effect.gen(function*() {
        const admin = yield* adminClient
        const key: string = (yield* Effect.promise(() =>
          admin.query(`SELECT ${schema}.event_aggregator_commit_lock()::text AS key`)
        )).rows[0].key
        const waiting = Effect.promise(() =>
          admin.query(
            `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1
             AND ((classid::bigint << 32) | objid::bigint) = $1::bigint`,
            [key]
          )
        ).pipe(Effect.map((r) => r.rows.map((row) => row.pid as number)))
        return {
          admin,
          hold: Effect.promise(() => admin.query("SELECT pg_advisory_lock($1::bigint)", [key])),
          release: Effect.promise(() => admin.query("SELECT pg_advisory_unlock($1::bigint)", [key])),
          waiting,
          /** Until `n` sessions wait for the lock; their pids. */
          waiters: (n: number) => until(waiting, (pids) => pids.length >= n)
        }
      })

    const replanned = () =>
      Effect.map(Metric.value(PostgresEventStore.replanned), (s) => s.count)

    /** Whatever the interleaving: every outcome agrees with what is stored, and seq is 1..n, gap-free. */
    const checkAgainstStore = (
      store: EventStore.EventStore["Type"],
      appended: ReadonlyArray<readonly [ReadonlyArray<Event.Event>, EventStore.Appended]>
    ) =>
      Effect.gen(function*() {
        const log = yield* store.read({ after: 0, limit: 10_000 })
        assert.deepStrictEqual(log.map((e) => e.seq), log.map((_, i) => i + 1), "seq is gap-free commit order")
        const byKey = new Map(log.map((e) => [`${e.topic}/${e.event_id}`, e]))
        assert.strictEqual(byKey.size, log.length, "every key stored once")
        let accepted = 0
        let duplicates = 0
        let conflicts = 0
        const deltas = new Map<string, EventStore.TopicCounters>()
        for (const [events, result] of appended) {
          for (const [topic, d] of result.deltas) deltas.set(topic, EventStore.addCounters(deltas.get(topic), d))
          events.forEach((e, i) => {
            const stored = byKey.get(`${e.topic}/${e.event_id}`)!
            const o = result.outcomes[i]!
            assert.strictEqual(o.seq, stored.seq, `${e.topic}/${e.event_id}`)
            const same = Event.samePayload(stored.payload, e.payload)
            if (o.status === "accepted") accepted++
            else duplicates++
            if (o.status === "conflict") conflicts++
            assert.strictEqual(o.status === "conflict", o.status !== "accepted" && !same, "conflict iff contents differ")
          })
        }
        assert.strictEqual(accepted, log.length, "each stored key accepted exactly once")
        const counters = yield* store.counters
        const sum = (f: (c: EventStore.TopicCounters) => number) => Array.from(counters.per_topic.values()).reduce((n, c) => n + f(c), 0)
        assert.deepStrictEqual(
          [sum((c) => c.unique_processed), sum((c) => c.duplicate_dropped), sum((c) => c.conflicts)],
          [accepted, duplicates, conflicts]
        )
        assert.deepStrictEqual(counters.per_topic, deltas, "the counters are the sum of the changes each append reported")
      })

    it.scopedLive("stores in different schemas of one database do not wait for each other's commit lock", () =>
      Effect.gen(function*() {
        const [a, , schemaA] = yield* twoStores
        const [b] = yield* twoStores
        const lock = yield* commitLockOf(schemaA)
        yield* lock.hold
        const fa = yield* Effect.fork(a.append([event("t", "waits")]))
        yield* lock.waiters(1)
        const ob = yield* outcomes(b, [event("t", "goes")]).pipe(Effect.disconnect, Effect.timeout("10 seconds"))
        assert.deepStrictEqual(ob, [{ status: "accepted", seq: 1 }])
        yield* lock.release
        assert.deepStrictEqual((yield* Fiber.join(fa)).outcomes, [{ status: "accepted", seq: 1 }])
      }), { timeout: 30_000 })

    it.scopedLive("a key another instance commits between lookup and commit: the group is planned again under the lock", () =>
      Effect.gen(function*() {
        const [a, b, schema] = yield* twoStores
        // Hold the commit lock, so both groups are looked up (nothing stored yet) and then wait.
        const lock = yield* commitLockOf(schema)
        yield* lock.hold
        const before = yield* replanned()
        const groupA = [event("t", "1", { v: 1 }), event("t", "2", { v: 1 }), event("t", "3")]
        const groupB = [event("t", "2", { v: 2 }), event("t", "4"), event("t", "1", { v: 1 }), event("t", "4")]
        const fa = yield* Effect.fork(a.append(groupA))
        const fb = yield* Effect.fork(b.append(groupB))
        yield* lock.waiters(2)
        yield* lock.release
        const [ra, rb] = yield* Fiber.join(Fiber.zip(fa, fb))
        assert.strictEqual((yield* replanned()) - before, 1, "the second group found its plan stale once")
        // Whichever committed first owns keys 1 and 2; the other's copies are a duplicate and a conflict.
        const aFirst = ra.outcomes[0]!.status === "accepted"
        assert.deepStrictEqual(
          [...ra.outcomes, ...rb.outcomes].map((o) => o.status),
          aFirst
            ? ["accepted", "accepted", "accepted", "conflict", "accepted", "duplicate", "duplicate"]
            : ["duplicate", "conflict", "accepted", "accepted", "accepted", "accepted", "duplicate"]
        )
        yield* checkAgainstStore(a, [[groupA, ra], [groupB, rb]])
      }), { timeout: 30_000 })

    it.scopedLive("a group planned on an earlier group's rows, when that group goes stale: both decided again under the lock", () =>
      Effect.gen(function*() {
        const [a, b, schema] = yield* twoStores
        const lock = yield* commitLockOf(schema)
        yield* lock.hold
        const before = yield* replanned()
        // B (another process) will store x first; A's first group plans x as new, A's second group
        // plans on the first group's copy of k1.
        const groupB = [event("t", "x", { by: "b" })]
        const groupP = [event("t", "k1", { v: 1 }), event("t", "x", { by: "a" })]
        const groupG = [event("t", "k1", { v: 1 }), event("t", "k2")]
        const planned = yield* pipelined
        const fb = yield* Effect.fork(b.append(groupB))
        yield* lock.waiters(1)
        const fp = yield* Effect.fork(a.append(groupP))
        yield* lock.waiters(2)
        const fg = yield* Effect.fork(a.append(groupG))
        yield* until(pipelined, (n) => n === planned + 3) // G is looked up and planned; it waits for P in this process
        yield* lock.release
        const rb = yield* Fiber.join(fb)
        const rp = yield* Fiber.join(fp)
        const rg = yield* Fiber.join(fg)
        const [ob, op, og] = [rb.outcomes, rp.outcomes, rg.outcomes]
        assert.strictEqual((yield* replanned()) - before, 1, "P went stale; G followed it without a stale commit")
        assert.deepStrictEqual([ob, op, og].map((os) => os.map((o) => o.status)), [
          ["accepted"],
          ["accepted", "conflict"],
          ["duplicate", "accepted"]
        ])
        assert.strictEqual(og[0]!.seq, op[0]!.seq)
        yield* checkAgainstStore(a, [[groupB, rb], [groupP, rp], [groupG, rg]])
      }), { timeout: 30_000 })

    it.scopedLive("a planned group runs to its commit even if its caller is interrupted: later groups that count on it stay right", () =>
      Effect.gen(function*() {
        const [a, , schema] = yield* twoStores
        const lock = yield* commitLockOf(schema)
        yield* lock.hold
        // G0 waits in PostgreSQL; G1 waits for G0; G2 planned k as a duplicate of G0's copy.
        const planned = yield* pipelined
        const f0 = yield* Effect.fork(outcomes(a, [event("t", "k", { v: 0 })]))
        yield* lock.waiters(1)
        const f1 = yield* Effect.fork(outcomes(a, [event("t", "a")]))
        yield* until(pipelined, (n) => n === planned + 2)
        const f2 = yield* Effect.fork(outcomes(a, [event("t", "k", { v: 2 }), event("t", "y")]))
        yield* until(pipelined, (n) => n === planned + 3)
        const interrupting = yield* Effect.fork(Fiber.interrupt(f1)) // waits: G1 is past its lookup
        yield* interruptionReceived(f1)
        yield* lock.release
        yield* Fiber.join(interrupting)
        const o0 = yield* Fiber.join(f0)
        const o2 = yield* Fiber.join(f2)
        const log = yield* a.read({ after: 0, limit: 100 })
        assert.deepStrictEqual(log.map((e) => [e.event_id, e.seq]), [["k", 1], ["a", 2], ["y", 3]])
        assert.deepStrictEqual(o0, [{ status: "accepted", seq: 1 }])
        assert.deepStrictEqual(o2, [{ status: "conflict", seq: 1 }, { status: "accepted", seq: 3 }])
        const counters = (yield* a.counters).per_topic.get("t")
        assert.deepStrictEqual(counters, { unique_processed: 3, duplicate_dropped: 1, conflicts: 1 })
        assert.strictEqual(yield* pipelined, planned, "no group left waiting")
      }), { timeout: 30_000 })

    it.scopedLive("appends interrupted during their lookup leave nothing behind", () =>
      Effect.gen(function*() {
        const [a] = yield* twoStores
        const planned = yield* pipelined
        for (let i = 0; i < 30; i++) {
          const f = yield* Effect.fork(a.append([event("t", `i${i}`)]))
          for (let n = 0; n < i * 7; n++) yield* Effect.yieldNow() // a different point of the lookup each time
          yield* Fiber.interrupt(f)
        }
        assert.strictEqual(yield* pipelined, planned, "no group left planned")
        // Whatever was interrupted where, the store goes on: a group committed now is planned and
        // committed alone, and a later one sees it.
        const [o1] = yield* outcomes(a, [event("t", "after")])
        const [o2] = yield* outcomes(a, [event("t", "after")])
        assert.strictEqual(o1!.status, "accepted")
        assert.deepStrictEqual(o2, { status: "duplicate", seq: o1!.seq })
        const log = yield* a.read({ after: 0, limit: 100 })
        assert.deepStrictEqual(log.map((e) => e.seq), log.map((_, i) => i + 1))
      }), { timeout: 30_000 })

    it.effect("a role or database defaulting to REPEATABLE READ is refused at open, naming the setting", () =>
      Effect.gen(function*() {
        const name = yield* Effect.promise(() => freshSchema())
        const url = `${baseUrl}?options=${encodeURIComponent(`-c search_path=${name} -c default_transaction_isolation=repeatable\\ read`)}`
        const exit = yield* Effect.exit(Effect.scoped(PostgresEventStore.make({ url: Redacted.make(url) })))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) assert.include(String(exit.cause), "default_transaction_isolation is 'repeatable read'")
      }), { timeout: 30_000 })

    /** A TCP proxy to PostgreSQL that can hold back the server's replies, and drop its connections. */
    const proxy = Effect.acquireRelease(
      Effect.promise(() =>
        new Promise<{ port: number; holdReplies: () => void; drop: () => void; close: () => Promise<void> }>((resolve) => {
          const upstream = new URL(baseUrl)
          const pairs = new Set<readonly [Net.Socket, Net.Socket]>()
          const server = Net.createServer((client) => {
            const db = Net.connect(Number(upstream.port || 5432), upstream.hostname)
            const pair = [client, db] as const
            pairs.add(pair)
            client.pipe(db)
            db.pipe(client)
            for (const socket of pair) {
              socket.on("error", () => {})
              socket.on("close", () => {
                pairs.delete(pair)
                client.destroy()
                db.destroy()
              })
            }
          })
          const drop = () => {
            for (const [client, db] of pairs) {
              client.destroy()
              db.destroy()
            }
          }
          server.listen(0, "127.0.0.1", () =>
            resolve({
              port: (server.address() as Net.AddressInfo).port,
              holdReplies: () => {
                for (const [client, db] of pairs) db.unpipe(client)
              },
              drop,
              close: () => new Promise((done) => (drop(), server.close(() => done())))
            }))
        })
      ),
      (p) => Effect.promise(() => p.close())
    )

    it.scopedLive("a commit whose reply is lost: the store asks whether it committed, and reports it accepted once", () =>
      Effect.gen(function*() {
        const p = yield* proxy
        const name = yield* Effect.promise(() => freshSchema())
        const url = `postgres://postgres@127.0.0.1:${p.port}${new URL(baseUrl).pathname}?options=${encodeURIComponent(`-c search_path=${name}`)}`
        const store = yield* PostgresEventStore.make({ url: Redacted.make(url), maxConnections: 2 })
        const lock = yield* commitLockOf(name)
        assert.strictEqual((yield* outcomes(store, [event("t", "warm")]))[0]!.status, "accepted")

        yield* lock.hold
        const f = yield* Effect.fork(outcomes(store, [event("t", "k")]))
        yield* lock.waiters(1)
        p.holdReplies() // the commit statement runs, its reply never reaches the store
        yield* lock.release
        for (;;) {
          const r = yield* Effect.promise(() => lock.admin.query(`SELECT count(*)::int AS n FROM ${name}.events WHERE event_id = 'k'`))
          if (r.rows[0].n === 1) break
          yield* Effect.sleep("5 millis")
        }
        p.drop() // the store sees its connection fail after the commit
        assert.deepStrictEqual(yield* Fiber.join(f), [{ status: "accepted", seq: 2 }])
        assert.deepStrictEqual(yield* outcomes(store, [event("t", "k")]), [{ status: "duplicate", seq: 2 }])
        assert.deepStrictEqual((yield* store.counters).per_topic.get("t"), { unique_processed: 2, duplicate_dropped: 1, conflicts: 0 })
      }), { timeout: 30_000 })

    it.scopedLive("a commit that never ran because its connection died: the append fails, nothing stored, a retry is accepted", () =>
      Effect.gen(function*() {
        const name = yield* Effect.promise(() => freshSchema())
        const store = yield* PostgresEventStore.make({ url: urlFor(name), maxConnections: 2 })
        const lock = yield* commitLockOf(name)
        yield* lock.hold
        const f = yield* Effect.fork(store.append([event("t", "n")]))
        const [pid] = yield* lock.waiters(1)
        yield* Effect.promise(() => lock.admin.query("SELECT pg_terminate_backend($1)", [pid]))
        // The store asks, under the lock, whether the group committed: another session waits.
        yield* until(lock.waiting, (pids) => pids.some((p) => p !== pid))
        yield* lock.release
        const exit = yield* Fiber.await(f)
        assert.isTrue(Exit.isFailure(exit))
        assert.deepStrictEqual(yield* store.read({ after: 0, limit: 10 }), [])
        assert.strictEqual((yield* store.counters).per_topic.size, 0)
        assert.deepStrictEqual(yield* outcomes(store, [event("t", "n")]), [{ status: "accepted", seq: 1 }])
      }), { timeout: 30_000 })

    const overlappingGroups = (n: number) =>
      FastCheck.sample(
        FastCheck.array(
          FastCheck.record({ id: FastCheck.integer({ min: 0, max: 60 }), variant: FastCheck.integer({ min: 0, max: 1 }) }),
          { minLength: 1, maxLength: 40 }
        ).map((xs) => xs.map((x) => event(`t${x.id % 3}`, String(x.id), { variant: x.variant }))),
        n
      )

    it.scopedLive("retention: one instance prunes at a time; another skips its step while the prune lock is held", () =>
      Effect.gen(function*() {
        const [a, b, name] = yield* twoStores
        const topic = "ret"
        const policy = { default: { retentionMs: 1_000, windowMs: null }, topics: [] }
        yield* a.append([event(topic, "1"), event(topic, "2")])
        const now = Date.now() + 10_000
        const admin = yield* adminClient
        // The prune lock, held from a connection of the test's own (as another instance's step would).
        yield* Effect.promise(() => admin.query("BEGIN"))
        yield* Effect.promise(() =>
          admin.query(`SELECT pg_advisory_xact_lock(1161905991, ('${name}.events'::regclass::oid::bigint % 2147483647)::int)`)
        )
        assert.deepStrictEqual(yield* b.prune!({ now, policy, maxRows: 1000 }), EventStore.nothingPruned)
        assert.strictEqual((yield* b.read({ topic, after: 0, limit: 10 })).length, 2)
        yield* Effect.promise(() => admin.query("COMMIT"))
        assert.deepStrictEqual(yield* b.prune!({ now, policy, maxRows: 1000 }), { pruned: 2, recorded: 2, forgotten: 0, more: false })
        assert.deepStrictEqual(yield* a.read({ topic, after: 0, limit: 10 }), [])
        const [again] = yield* outcomes(a, [event(topic, "1")])
        assert.strictEqual(again!.status, "duplicate")
      }), { timeout: 30_000 })

    it.scopedLive("one instance, overlapping groups appended at once: planned against each other's rows, never stale", () =>
      Effect.gen(function*() {
        const [a] = yield* twoStores
        const before = yield* replanned()
        const groups = overlappingGroups(60)
        // Four at a time: each is looked up while others commit, as the Aggregator's workers do.
        const results = yield* Effect.forEach(groups, (g) => a.append(g), { concurrency: 4 })
        yield* checkAgainstStore(a, groups.map((g, i) => [g, results[i]!] as const))
        assert.strictEqual((yield* replanned()) - before, 0, "no group of this process went stale")
      }), { timeout: 60_000 })

    it.scopedLive("two instances appending overlapping groups at once: every key once, outcomes match the log", () =>
      Effect.gen(function*() {
        const [a, b] = yield* twoStores
        const groups = overlappingGroups(80)
        // Each round, both instances append a group at the same moment.
        const appended: Array<readonly [ReadonlyArray<Event.Event>, EventStore.Appended]> = []
        for (let i = 0; i + 1 < groups.length; i += 2) {
          const [ra, rb] = yield* Effect.all([a.append(groups[i]!), b.append(groups[i + 1]!)], { concurrency: 2 })
          appended.push([groups[i]!, ra], [groups[i + 1]!, rb])
        }
        yield* checkAgainstStore(b, appended)
      }), { timeout: 60_000 })

    it.effect("a wrong URL or an unreachable server fails to open with a StoreError", () =>
      Effect.gen(function*() {
        for (const url of ["postgres://127.0.0.1:1/test", "postgres://127.0.0.1:5432/no_such_database_here"]) {
          const exit = yield* Effect.exit(Effect.scoped(Layer.build(PostgresEventStore.layerWith({ url: Redacted.make(url) }))))
          assert.isTrue(Exit.isFailure(exit), url)
          if (Exit.isFailure(exit)) {
            const text = String(exit.cause)
            assert.include(text, "StoreError")
          }
        }
      }), { timeout: 30_000 })
  })
})
