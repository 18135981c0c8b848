/**
 * The pruner: a fiber of the Aggregator that applies retention every interval (first at start, so
 * a restart keeps the schedule: what fell out of retention while the process was down goes at
 * once). Each pass runs short bounded steps (one transaction each, at most `pruneBatch` rows) until
 * nothing is left, so appends queue behind one step at most, and pauses after each step as long
 * as it took (measured: back-to-back 1000-row steps cut publish throughput to a quarter while a
 * backlog of 500k events was pruned; see bench/pruning.mjs).
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as EventStore from "../EventStore.js"
import * as Retention from "../Retention.js"
import { metrics } from "./metrics.js"

export interface Options {
  readonly policy: Retention.Policy
  readonly interval: Duration.DurationInput
  readonly maxRows: number
}

/** Key records held now, summed over topics, on the gauge. */
export const reportKeyRecords = (store: EventStore.EventStore["Type"]): Effect.Effect<void> =>
  store.retention === undefined ? Effect.void : store.retention.pipe(
    Effect.flatMap((report) => {
      let n = 0
      for (const r of report.values()) n += r.keyRecords
      return Metric.set(metrics.keyRecords, n)
    }),
    Effect.ignore
  )

/** One pass: steps until the store has nothing more to prune now. */
const pass = (
  store: EventStore.EventStore["Type"],
  prune: NonNullable<EventStore.EventStore["Type"]["prune"]>,
  options: Options
): Effect.Effect<void, EventStore.StoreError> =>
  Effect.gen(function*() {
    const total = { pruned: 0, recorded: 0, forgotten: 0 }
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const [took, step] = yield* Effect.timed(prune({ now, policy: options.policy, maxRows: options.maxRows }))
      total.pruned += step.pruned
      total.recorded += step.recorded
      total.forgotten += step.forgotten
      yield* Metric.incrementBy(metrics.pruned, step.pruned)
      yield* Metric.incrementBy(metrics.forgotten, step.forgotten)
      if (!step.more) break
      // Paced: as long a pause as the step took, so pruning a backlog takes at most half of the
      // writer's time and publishes keep most of it.
      yield* Effect.sleep(took)
    }
    if (total.pruned > 0 || total.forgotten > 0) {
      yield* Effect.logInfo(`retention: pruned ${total.pruned} events (${total.recorded} keys kept as key records), forgot ${total.forgotten} keys`)
    }
    yield* reportKeyRecords(store)
  })

/** Starts the pruner in the scope when the policy ever prunes and the store can. */
export const start = (store: EventStore.EventStore["Type"], options: Options): Effect.Effect<void, never, Scope.Scope> => {
  const prune = store.prune
  if (prune === undefined || !Retention.prunes(options.policy)) return Effect.void
  const once = pass(store, prune, options).pipe(
    Effect.catchAllCause((cause) => Effect.logWarning("retention: pruning failed; trying again at the next interval", cause))
  )
  return Effect.asVoid(Effect.forkScoped(Effect.repeat(once, Schedule.spaced(options.interval))))
}
