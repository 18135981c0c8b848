/**
 * The Aggregator's intake: a publish is counted in (received and pending) or refused atomically,
 * then queued for the workers; a durable one carries the `Deferred` its commit completes.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type * as Event from "../Event.js"
import type * as EventStore from "../EventStore.js"
import { BatchTooLarge, QueueFull, ShuttingDown } from "./errors.js"
import type * as Idempotent from "./idempotent.js"
import { metrics } from "./metrics.js"
import type * as State from "./state.js"

export interface Options {
  readonly state: Ref.Ref<State.State>
  readonly queue: Queue.Queue<State.Request>
  /** `QUEUE_MAXSIZE` in events; 0: unbounded. */
  readonly capacity: number
}

export const make = ({ capacity, queue, state }: Options) => {
  /** Counts a request in (received and pending) or refuses it, atomically. */
  const admit = (n: number) =>
    Ref.modify(state, (s): [QueueFull | BatchTooLarge | ShuttingDown | undefined, State.State] => {
      if (s.closing) {
        return [new ShuttingDown({ message: "the aggregator is shutting down and takes no new events" }), s]
      }
      if (capacity > 0 && n > capacity) {
        return [
          new BatchTooLarge({
            message: `${n} events in one request, more than the whole queue holds (${capacity}, QUEUE_MAXSIZE); send smaller batches`,
            capacity
          }),
          s
        ]
      }
      if (capacity > 0 && s.pending + n > capacity) {
        return [
          new QueueFull({
            message: `the queue is full (${s.pending} of ${capacity} events pending, ${n} offered); retry later`,
            capacity
          }),
          s
        ]
      }
      return [undefined, { ...s, pending: s.pending + n }]
    })

  const offer = (events: ReadonlyArray<Event.Event>, done: State.Request["done"], keyed?: Idempotent.Keyed) =>
    Effect.uninterruptible(Effect.flatMap(admit(events.length), (refused) => {
      if (refused !== undefined) return Effect.fail(refused)
      return Effect.zipRight(
        Metric.incrementBy(metrics.received, events.length),
        Queue.offer(queue, { events, done, failures: 0, keyed })
      )
    }))

  const submit = (events: ReadonlyArray<Event.Event>, keyed?: Idempotent.Keyed) =>
    events.length === 0
      ? Effect.succeed(Effect.succeed<ReadonlyArray<EventStore.Outcome>>([]))
      : Effect.flatMap(
        Deferred.make<ReadonlyArray<EventStore.Outcome>, EventStore.StoreError>(),
        (done) => Effect.as(offer(events, done, keyed), Deferred.await(done))
      )

  const publish = (events: ReadonlyArray<Event.Event>, keyed?: Idempotent.Keyed) => Effect.flatten(submit(events, keyed))

  const enqueue = (events: ReadonlyArray<Event.Event>) =>
    events.length === 0 ? Effect.void : Effect.asVoid(offer(events, undefined))

  return { submit, publish, enqueue }
}
