/**
 * The Aggregator's workers: each takes everything waiting in the queue (up to the group bound),
 * commits it to the store in one transaction, settles the counters and answers every request of
 * the group. Metrics and logs are per group, never per event.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as AggregatorConfig from "../AggregatorConfig.js"
import type * as Event from "../Event.js"
import type * as EventStore from "../EventStore.js"
import type * as Idempotency from "../Idempotency.js"
import type * as Live from "./live.js"
import { metrics } from "./metrics.js"
import { addTopic, type Request, type State } from "./state.js"

const retryPolicy = Schedule.exponential(Duration.millis(20), 2).pipe(
  Schedule.intersect(Schedule.recurs(4))
)

const MAX_LOGGED_KEYS = 10

/** A queued ack whose commit failed waits this long before it is queued again: 1 s, 2 s, 4 s, then 5 s. */
const requeueDelay = (failures: number): Duration.Duration => Duration.millis(Math.min(5_000, 1_000 * 2 ** (failures - 1)))

/** Lets the host's event loop run pending I/O callbacks (a macrotask turn), then resumes. */
const yieldToEventLoop: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

export interface Context {
  readonly store: EventStore.EventStore["Type"]
  readonly settings: AggregatorConfig.Settings
  readonly state: Ref.Ref<State>
  readonly queue: Queue.Queue<Request>
  /** Completed when shutdown has begun and nothing is pending any more. */
  readonly drained: Deferred.Deferred<void>
  /** Tells followers of each commit. */
  readonly live: Live.Live
}

/** The keyed requests of a group, with where their events are in the group's list. */
const keyedOf = (group: ReadonlyArray<Request>): Array<Idempotency.Pending> | undefined => {
  let pending: Array<Idempotency.Pending> | undefined
  let start = 0
  for (const r of group) {
    if (r.keyed !== undefined) (pending ??= []).push({ ...r.keyed, start, count: r.events.length })
    start += r.events.length
  }
  return pending
}

/** One worker: forever takes a group from the queue and commits it. */
export const worker = ({ drained, live, queue, settings, state, store }: Context): Effect.Effect<never> => {
  /** Applies a finished group to the stats; completes `drained` when closing and nothing is left. */
  const settle = (f: (s: State) => State) =>
    Effect.flatMap(
      Ref.updateAndGet(state, f),
      (s) =>
        Effect.zipRight(
          Metric.set(metrics.queueDepth, s.pending),
          s.closing && s.pending === 0 ? Deferred.succeed(drained, undefined) : Effect.void
        )
    )

  const logLevelDebug = FiberRef.get(FiberRef.currentMinimumLogLevel).pipe(
    Effect.map((min) => LogLevel.lessThanEqual(min, LogLevel.Debug))
  )

  const commit = (group: ReadonlyArray<Request>, size: number) =>
    Effect.gen(function*() {
      const events: Array<Event.Event> = group.length === 1 ? (group[0]!.events as Array<Event.Event>) : []
      if (group.length > 1) for (const r of group) for (const e of r.events) events.push(e)
      const idempotent = keyedOf(group)
      const startedAt = yield* Clock.currentTimeMillis
      const result = yield* Effect.either(Effect.retry(store.append(events, idempotent), retryPolicy))
      const elapsed = (yield* Clock.currentTimeMillis) - startedAt

      if (result._tag === "Left") {
        // Durable publishes are answered with the failure (they retry; nothing was stored). Queued
        // ones were acknowledged already: they go back to the queue after a pause and are tried
        // again until they commit, unless shutdown has begun, which is the only way to lose them.
        const closing = (yield* Ref.get(state)).closing
        let dropped = 0
        let lost = 0
        for (const r of group) {
          if (r.done !== undefined) {
            dropped += r.events.length
            yield* Deferred.fail(r.done, result.left)
          } else if (closing) {
            dropped += r.events.length
            lost += r.events.length
          } else {
            const again: Request = { ...r, failures: r.failures + 1 }
            yield* Effect.fork(Effect.zipRight(Effect.sleep(requeueDelay(again.failures)), Queue.offer(queue, again)))
          }
        }
        yield* settle((s) => ({ ...s, pending: s.pending - dropped }))
        yield* Metric.incrementBy(metrics.failed, dropped)
        yield* Effect.logError(
          lost > 0
            ? `commit failed while shutting down: ${lost} queued events (acknowledged with 202) are lost`
            : "commit failed; the group's events were not stored (queued ones will be tried again)",
          result.left
        ).pipe(Effect.annotateLogs({ group_size: size, requeued: size - dropped }))
        return
      }

      const { deltas, outcomes } = result.right
      let accepted = 0
      let dups = 0
      let confl = 0
      for (const d of deltas.values()) {
        accepted += d.unique_processed
        dups += d.duplicate_dropped
        confl += d.conflicts
      }
      yield* settle((s) => {
        let perTopic = s.perTopic
        for (const [topic, d] of deltas) perTopic = addTopic(perTopic, topic, d)
        return {
          ...s,
          unique: s.unique + accepted,
          duplicates: s.duplicates + dups,
          conflicts: s.conflicts + confl,
          pending: s.pending - size,
          perTopic
        }
      })
      if (accepted > 0) yield* live.committed(events, outcomes, result.right.receivedAt)
      let offset = 0
      for (const r of group) {
        const n = r.events.length
        if (r.done) yield* Deferred.succeed(r.done, outcomes.slice(offset, offset + n))
        offset += n
      }
      yield* Metric.incrementBy(metrics.unique, accepted)
      yield* Metric.incrementBy(metrics.duplicates, dups)
      yield* Metric.incrementBy(metrics.conflicts, confl)
      yield* Metric.update(metrics.commitSize, size)
      yield* Metric.update(metrics.commitSeconds, elapsed / 1000)
      if (dups > 0) {
        const droppedKeys: Array<string> = []
        for (let i = 0; i < events.length && droppedKeys.length < MAX_LOGGED_KEYS; i++) {
          if (outcomes[i]!.status !== "accepted") droppedKeys.push(`${events[i]!.topic}/${events[i]!.event_id}`)
        }
        yield* Effect.logInfo(`duplicates dropped: ${dups}`).pipe(
          Effect.annotateLogs({ conflicts: confl, keys: droppedKeys.join(" "), group_size: size })
        )
        if (yield* logLevelDebug) {
          for (let i = 0; i < events.length; i++) {
            const outcome = outcomes[i]!
            if (outcome.status !== "accepted") {
              yield* Effect.logDebug(`duplicate dropped: ${events[i]!.topic}/${events[i]!.event_id}`).pipe(
                Effect.annotateLogs({ status: outcome.status, seq: outcome.seq })
              )
            }
          }
        }
      }
    })

  /** Takes what is waiting (at least one request, up to the group bound) and commits it. */
  const worker = Effect.forever(Effect.gen(function*() {
    const first = yield* Queue.take(queue)
    // Without this the worker wakes on the first offer and commits it alone while requests that
    // already arrived wait in socket buffers (the store blocks the event loop while it commits):
    // measured, 1 event per commit under 64 concurrent HTTP publishers.
    yield* yieldToEventLoop
    const group = [first]
    let size = first.events.length
    while (size < settings.maxGroupEvents) {
      const next = yield* Queue.poll(queue)
      if (Option.isNone(next)) break
      group.push(next.value)
      size += next.value.events.length
    }
    // A group taken from the queue is always committed and answered, even during shutdown.
    yield* Effect.uninterruptible(commit(group, size))
  }))

  return worker
}
