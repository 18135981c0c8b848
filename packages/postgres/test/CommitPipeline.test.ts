// The commit pipeline without a database: lookups and commits are fakes that wait for the test.
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Plan from "../../core/src/CommitPlan.js"
import * as Event from "../../core/src/Event.js"
import type * as EventStore from "../../core/src/EventStore.js"
import { event } from "../../core/test/utils.js"
import * as Pipeline from "../src/internal/pipeline.js"

const RECEIVED_AT = "2026-01-01T00:00:00.000Z"

/** A commit that failed for another reason than a stale plan (a lost connection, say). */
class Broken extends Data.TaggedError("Broken") {}

/** A step waiting for the test: `go` lets it proceed (or fails it). */
interface Gate<A> {
  readonly input: A
  readonly go: Deferred.Deferred<void, Broken>
}

/**
 * A database in memory. A lookup reads when it starts (as a statement reads its snapshot) and
 * answers when the test lets it go; a commit waits for the test unless `ready` says it may run at
 * once, then stores its rows after the last seq, or fails stale if one of them is stored already.
 */
const fakeDatabase = Effect.gen(function*() {
  const rows = new Map<string, Plan.Existing>()
  const log: Array<readonly [string, number]> = []
  const lookups = yield* Queue.unbounded<Gate<ReadonlyArray<Event.Key>>>()
  const commits = yield* Queue.unbounded<Gate<Plan.Plan>>()
  const decidedUnderLock: Array<ReadonlyArray<string>> = []
  let ready: (plan: Plan.Plan) => boolean = () => false

  const store = (e: Plan.Row | Event.Event, seq: number) => {
    rows.set(Event.keyString(e), { seq, timestamp: e.timestamp, source: e.source, payload: e.payload })
    log.push([e.event_id, seq])
  }
  const read = (keys: ReadonlyArray<Event.Key>) => {
    const found = new Map<string, Plan.Existing>()
    for (const key of keys) {
      const row = rows.get(Event.keyString(key))
      if (row !== undefined) found.set(Event.keyString(key), row)
    }
    return found
  }
  const gates: Array<Deferred.Deferred<void, Broken>> = []
  const gate = <A>(queue: Queue.Queue<Gate<A>>, input: A) =>
    Effect.flatMap(Deferred.make<void, Broken>(), (go) => {
      gates.push(go)
      return Effect.zipRight(Queue.offer(queue, { input, go }), Deferred.await(go))
    })
  // A test that fails midway leaves steps waiting, uninterruptibly once planned: fail them all, so
  // its fibers end and the failure is reported instead of a hang.
  yield* Effect.addFinalizer(() => Effect.forEach(gates, (go) => Deferred.fail(go, new Broken()), { discard: true }))

  const steps: Pipeline.Steps<Broken> = {
    lookup: (keys) =>
      Effect.suspend(() => {
        const found = read(keys)
        return Effect.as(gate(lookups, keys), found)
      }),
    commit: (plan) =>
      Effect.gen(function*() {
        if (!ready(plan)) yield* gate(commits, plan)
        if (plan.rows.some((r) => rows.has(Event.keyString(r)))) return yield* new Pipeline.StalePlan()
        const base = log.length
        for (const row of plan.rows) store(row, base + row.seq)
        return base
      }),
    appendLocked: (events) =>
      Effect.sync(() => {
        decidedUnderLock.push(events.map((e) => e.event_id))
        const found = read(Plan.distinctKeys(events))
        const plan = Plan.plan(events, (k) => found.get(k), 1)
        const base = log.length
        for (const row of plan.rows) store(row, base + row.seq)
        return Pipeline.rebase(events, plan, found, new Map(), base, RECEIVED_AT)
      })
  }

  return {
    pipeline: yield* Pipeline.make(steps),
    lookups,
    commits,
    /** Event ids in the order they were stored, with their seq. */
    log,
    /** The groups decided again under the lock, by their event ids. */
    decidedUnderLock,
    /** Commits of plans matching `p` run without waiting for the test. */
    readyWhen: (p: (plan: Plan.Plan) => boolean) => {
      ready = p
    },
    /** Another process stores `e`. */
    storeElsewhere: (e: Event.Event) => store(e, log.length + 1)
  }
})

const release = <A>(gate: Gate<A>) => Deferred.succeed(gate.go, undefined)

/** The next lookup that started, let go. */
const releaseLookup = (db: Effect.Effect.Success<typeof fakeDatabase>) => Effect.flatMap(Queue.take(db.lookups), release)

const pipelined = Effect.map(Metric.value(Pipeline.planned), (s) => s.value)
const replanned = Effect.map(Metric.value(Pipeline.replanned), (s) => s.count)

/** Yields until `done` holds; other fibers run meanwhile. No clock: these tests never sleep. */
const until = <A>(probe: Effect.Effect<A>, done: (a: A) => boolean, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      if (done(yield* probe)) return
      yield* Effect.yieldNow()
    }
    assert.fail(`never: ${what}`)
  })

/** Until `n` groups are planned and waiting to commit. */
const untilPlanned = (n: number) => until(pipelined, (v) => v === n, `${n} groups planned`)

/** Until the fiber waits (the pipeline's next step is not ours to let go). */
const untilSuspended = (fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
  until(Fiber.status(fiber), (s) => s._tag === "Suspended", "the fiber waits")

const statuses = (appended: EventStore.Appended) => appended.outcomes.map((o) => [o.status, o.seq] as const)

describe("CommitPipeline", { timeout: 10_000 }, () => {
  it.scoped("a group looked up while an earlier group waits to commit is planned on its rows: outcomes point at the earlier seq", () =>
    Effect.gen(function*() {
      const db = yield* fakeDatabase
      const before = yield* pipelined
      db.storeElsewhere(event("t", "old")) // seq 1: bases are not 0
      const g1 = [event("t", "k1", { v: 1 }), event("t", "k2")]
      const g2 = [event("t", "k1", { v: 1 }), event("t", "k3"), event("t", "k2", { v: 2 }), event("t", "old")]
      const f1 = yield* Effect.fork(db.pipeline.append(g1, RECEIVED_AT))
      yield* releaseLookup(db)
      const c1 = yield* Queue.take(db.commits)
      const f2 = yield* Effect.fork(db.pipeline.append(g2, RECEIVED_AT))
      yield* releaseLookup(db) // it found only "old": g1's rows are not stored yet
      yield* untilPlanned(before + 2)
      yield* release(c1)
      yield* Effect.flatMap(Queue.take(db.commits), release)
      assert.deepStrictEqual(statuses(yield* Fiber.join(f1)), [["accepted", 2], ["accepted", 3]])
      assert.deepStrictEqual(statuses(yield* Fiber.join(f2)), [["duplicate", 2], ["accepted", 4], ["conflict", 3], ["duplicate", 1]])
      assert.deepStrictEqual(db.log, [["old", 1], ["k1", 2], ["k2", 3], ["k3", 4]])
      assert.deepStrictEqual(db.decidedUnderLock, [])
      assert.strictEqual(yield* pipelined, before)
    }))

  it.scoped("a group whose lookup began before an earlier group committed is planned on that group's rows, not found stale", () =>
    Effect.gen(function*() {
      const db = yield* fakeDatabase
      const stale = yield* replanned
      const f1 = yield* Effect.fork(db.pipeline.append([event("t", "k1")], RECEIVED_AT))
      yield* releaseLookup(db)
      const c1 = yield* Queue.take(db.commits)
      const f2 = yield* Effect.fork(db.pipeline.append([event("t", "k1"), event("t", "k2")], RECEIVED_AT))
      const l2 = yield* Queue.take(db.lookups) // read before g1 committed
      yield* release(c1)
      assert.deepStrictEqual(statuses(yield* Fiber.join(f1)), [["accepted", 1]])
      yield* release(l2)
      yield* Effect.flatMap(Queue.take(db.commits), release)
      assert.deepStrictEqual(statuses(yield* Fiber.join(f2)), [["duplicate", 1], ["accepted", 2]])
      assert.deepStrictEqual(db.decidedUnderLock, [])
      assert.strictEqual((yield* replanned) - stale, 0)
    }))

  it.scoped("lookups run at once: the group whose lookup ends first is planned first, and commits first", () =>
    Effect.gen(function*() {
      const db = yield* fakeDatabase
      const f1 = yield* Effect.fork(db.pipeline.append([event("t", "k", { by: 1 }), event("t", "a")], RECEIVED_AT))
      const f2 = yield* Effect.fork(db.pipeline.append([event("t", "k", { by: 2 }), event("t", "b")], RECEIVED_AT))
      const [l1, l2] = [yield* Queue.take(db.lookups), yield* Queue.take(db.lookups)]
      const [first, second] = l1.input.some((k) => k.event_id === "a") ? [l1, l2] : [l2, l1]
      yield* release(second) // g2's lookup answers first
      const c2 = yield* Queue.take(db.commits)
      yield* release(first)
      yield* release(c2)
      yield* Effect.flatMap(Queue.take(db.commits), release)
      assert.deepStrictEqual(statuses(yield* Fiber.join(f2)), [["accepted", 1], ["accepted", 2]])
      assert.deepStrictEqual(statuses(yield* Fiber.join(f1)), [["conflict", 1], ["accepted", 3]])
      assert.deepStrictEqual(db.log, [["k", 1], ["b", 2], ["a", 3]])
    }))

  it.scoped("groups commit in plan order, even when a later group's commit step is ready first", () =>
    Effect.gen(function*() {
      const db = yield* fakeDatabase
      const before = yield* pipelined
      db.readyWhen((plan) => plan.rows.some((r) => r.event_id === "second"))
      const f1 = yield* Effect.fork(db.pipeline.append([event("t", "first")], RECEIVED_AT))
      yield* releaseLookup(db)
      const c1 = yield* Queue.take(db.commits)
      const f2 = yield* Effect.fork(db.pipeline.append([event("t", "second")], RECEIVED_AT))
      yield* releaseLookup(db)
      yield* untilPlanned(before + 2)
      yield* untilSuspended(f2)
      assert.deepStrictEqual(db.log, [], "the second group waits for the first")
      yield* release(c1)
      assert.deepStrictEqual(statuses(yield* Fiber.join(f2)), [["accepted", 2]])
      assert.deepStrictEqual(statuses(yield* Fiber.join(f1)), [["accepted", 1]])
      assert.deepStrictEqual(db.log, [["first", 1], ["second", 2]])
    }))

  it.scoped("a stale group is decided again under the lock, and so is a later group planned on its rows; an independent one is not", () =>
    Effect.gen(function*() {
      const db = yield* fakeDatabase
      const before = yield* pipelined
      const stale = yield* replanned
      const f1 = yield* Effect.fork(db.pipeline.append([event("t", "x", { by: "us" }), event("t", "k1")], RECEIVED_AT))
      yield* releaseLookup(db)
      const c1 = yield* Queue.take(db.commits)
      const f2 = yield* Effect.fork(db.pipeline.append([event("t", "k1"), event("t", "k2")], RECEIVED_AT))
      yield* releaseLookup(db)
      yield* untilPlanned(before + 2)
      const f3 = yield* Effect.fork(db.pipeline.append([event("t", "z")], RECEIVED_AT))
      yield* releaseLookup(db)
      yield* untilPlanned(before + 3)
      db.storeElsewhere(event("t", "x", { by: "them" })) // seq 1, after our lookup
      yield* release(c1)
      yield* Effect.flatMap(Queue.take(db.commits), release) // g3's: g2 made none
      assert.deepStrictEqual(statuses(yield* Fiber.join(f1)), [["conflict", 1], ["accepted", 2]])
      assert.deepStrictEqual(statuses(yield* Fiber.join(f2)), [["duplicate", 2], ["accepted", 3]])
      assert.deepStrictEqual(statuses(yield* Fiber.join(f3)), [["accepted", 4]])
      assert.deepStrictEqual(db.decidedUnderLock, [["x", "k1"], ["k1", "k2"]])
      assert.strictEqual((yield* replanned) - stale, 1, "one stale plan; the dependent group did not try its own")
      assert.strictEqual(yield* Queue.size(db.commits), 0)
      assert.deepStrictEqual(db.log, [["x", 1], ["k1", 2], ["k2", 3], ["z", 4]])
    }))

  it.scoped("a caller interrupted after planning: its group still commits, and later groups that count on it stay right", () =>
    Effect.gen(function*() {
      const db = yield* fakeDatabase
      const before = yield* pipelined
      const f0 = yield* Effect.fork(db.pipeline.append([event("t", "k", { v: 0 })], RECEIVED_AT))
      yield* releaseLookup(db)
      const c0 = yield* Queue.take(db.commits)
      const f1 = yield* Effect.fork(db.pipeline.append([event("t", "a")], RECEIVED_AT))
      yield* releaseLookup(db)
      yield* untilPlanned(before + 2)
      const f2 = yield* Effect.fork(db.pipeline.append([event("t", "k", { v: 2 }), event("t", "y")], RECEIVED_AT))
      yield* releaseLookup(db)
      yield* untilPlanned(before + 3)
      const interrupting = yield* Effect.fork(Fiber.interrupt(f1))
      yield* until(Effect.sync(() => f1.getFiberRef(FiberRef.interruptedCause)), (c) => !Cause.isEmpty(c), "f1 is told")
      yield* release(c0)
      yield* Effect.flatMap(Queue.take(db.commits), release) // g1's: it runs to its commit
      yield* Effect.flatMap(Queue.take(db.commits), release)
      assert.isTrue(Exit.isInterrupted(yield* Fiber.join(interrupting)), "the caller sees its interruption")
      assert.deepStrictEqual(statuses(yield* Fiber.join(f0)), [["accepted", 1]])
      assert.deepStrictEqual(statuses(yield* Fiber.join(f2)), [["conflict", 1], ["accepted", 3]])
      assert.deepStrictEqual(db.log, [["k", 1], ["a", 2], ["y", 3]])
      assert.deepStrictEqual(db.decidedUnderLock, [])
      assert.strictEqual(yield* pipelined, before)
    }))

  it.scoped("an append interrupted during its lookup leaves nothing behind: nothing planned, later groups do not wait for it", () =>
    Effect.gen(function*() {
      const db = yield* fakeDatabase
      const before = yield* pipelined
      const f0 = yield* Effect.fork(db.pipeline.append([event("t", "k")], RECEIVED_AT))
      yield* releaseLookup(db)
      const c0 = yield* Queue.take(db.commits)
      const f1 = yield* Effect.fork(db.pipeline.append([event("t", "k"), event("t", "m")], RECEIVED_AT))
      yield* Queue.take(db.lookups) // never answered
      assert.isTrue(Exit.isInterrupted(yield* Fiber.interrupt(f1)))
      assert.strictEqual(yield* pipelined, before + 1, "only g0 is planned")
      yield* release(c0)
      assert.deepStrictEqual(statuses(yield* Fiber.join(f0)), [["accepted", 1]])
      const f2 = yield* Effect.fork(db.pipeline.append([event("t", "m"), event("t", "k")], RECEIVED_AT))
      yield* releaseLookup(db)
      yield* Effect.flatMap(Queue.take(db.commits), release)
      assert.deepStrictEqual(statuses(yield* Fiber.join(f2)), [["accepted", 2], ["duplicate", 1]])
      assert.deepStrictEqual(db.log, [["k", 1], ["m", 2]])
      assert.strictEqual(yield* pipelined, before)
    }))

  it.scoped("a commit that fails (not stale) fails its caller; a later group planned on its rows is decided again under the lock", () =>
    Effect.gen(function*() {
      const db = yield* fakeDatabase
      const before = yield* pipelined
      const stale = yield* replanned
      const f1 = yield* Effect.fork(db.pipeline.append([event("t", "k1")], RECEIVED_AT))
      yield* releaseLookup(db)
      const c1 = yield* Queue.take(db.commits)
      const f2 = yield* Effect.fork(db.pipeline.append([event("t", "k1"), event("t", "k2")], RECEIVED_AT))
      yield* releaseLookup(db)
      yield* untilPlanned(before + 2)
      const f3 = yield* Effect.fork(db.pipeline.append([event("t", "z")], RECEIVED_AT))
      yield* releaseLookup(db)
      yield* untilPlanned(before + 3)
      yield* Deferred.fail(c1.go, new Broken())
      yield* Effect.flatMap(Queue.take(db.commits), release) // g3's
      assert.instanceOf(yield* Effect.flip(Fiber.join(f1)), Broken, "the caller gets the commit's error")
      assert.deepStrictEqual(statuses(yield* Fiber.join(f2)), [["accepted", 1], ["accepted", 2]])
      assert.deepStrictEqual(statuses(yield* Fiber.join(f3)), [["accepted", 3]])
      assert.deepStrictEqual(db.decidedUnderLock, [["k1", "k2"]])
      assert.strictEqual((yield* replanned) - stale, 0, "a failure is not a stale plan")
      assert.deepStrictEqual(db.log, [["k1", 1], ["k2", 2], ["z", 3]])
      assert.strictEqual(yield* pipelined, before)
    }))
})
