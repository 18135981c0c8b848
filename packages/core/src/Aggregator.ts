/**
 * The ingestion service: a queue of publish requests, worker fibers that commit them to the
 * EventStore in groups (one transaction per group), and stats held in a Ref.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as AggregatorConfig from "./AggregatorConfig.js"
import * as Event from "./Event.js"
import * as EventStore from "./EventStore.js"
import type * as Page from "./Page.js"

/**
 * The queue holds `capacity` events already; retry later (HTTP 503 with `Retry-After`).
 *
 * @since 0.1.0
 */
export class QueueFull extends Schema.TaggedError<QueueFull>()("QueueFull", {
  message: Schema.String,
  capacity: Schema.Number
}) {}

/**
 * One request holds more events than the whole queue (`QUEUE_MAXSIZE`): it can never be taken,
 * so retrying is pointless (HTTP 413); send smaller batches.
 *
 * @since 0.1.0
 */
export class BatchTooLarge extends Schema.TaggedError<BatchTooLarge>()("BatchTooLarge", {
  message: Schema.String,
  capacity: Schema.Number
}) {}

/**
 * The aggregator is draining for shutdown and takes no new events.
 *
 * @since 0.1.0
 */
export class ShuttingDown extends Schema.TaggedError<ShuttingDown>()("ShuttingDown", {
  message: Schema.String
}) {}

/** Counters of one topic, as reported by `stats`. */
export const TopicStats = Schema.Struct({
  unique_processed: Schema.Number,
  duplicate_dropped: Schema.Number,
  conflicts: Schema.Number
}).annotations({ identifier: "TopicStats" })

/**
 * A snapshot of the aggregator's counters, as `GET /stats` returns it. At every instant
 * `received == unique_processed + duplicate_dropped + pending`.
 *
 * @since 0.1.0
 */
export const Stats = Schema.Struct({
  received: Schema.Number,
  unique_processed: Schema.Number,
  duplicate_dropped: Schema.Number,
  conflicts: Schema.Number,
  pending: Schema.Number,
  topics: Schema.Array(Schema.String),
  per_topic: Schema.Record({ key: Schema.String, value: TopicStats }),
  uptime: Schema.Number,
  started_at: Schema.String,
  workers: Schema.Number,
  queue_capacity: Schema.NullOr(Schema.Number)
}).annotations({ identifier: "Stats" })

/** @since 0.1.0 */
export type Stats = typeof Stats.Type

/**
 * Totals of one publish: `received == accepted + duplicates`; conflicts are duplicates whose
 * fields differ from the stored copy.
 *
 * @since 0.1.0
 */
export interface Summary {
  readonly received: number
  readonly accepted: number
  readonly duplicates: number
  readonly conflicts: number
}

/** Counts the outcomes of one publish. */
export const summarize = (outcomes: ReadonlyArray<EventStore.Outcome>): Summary => {
  let accepted = 0
  let conflicts = 0
  for (const o of outcomes) {
    if (o.status === "accepted") accepted++
    else if (o.status === "conflict") conflicts++
  }
  return { received: outcomes.length, accepted, duplicates: outcomes.length - accepted, conflicts }
}

/**
 * The service.
 *
 * @since 0.1.0
 */
export class Aggregator extends Context.Tag("@event-aggregator/core/Aggregator")<Aggregator, {
  /**
   * Validates unknown input (parsed JSON: a list of event objects) with the configured limits,
   * all or nothing.
   */
  readonly validate: (input: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<Event.Event>, Event.InvalidEvents>
  /**
   * Publishes with a durable ack: resumes once the events are committed, with one outcome per
   * event, in order.
   */
  readonly publish: (
    events: ReadonlyArray<Event.Event>
  ) => Effect.Effect<ReadonlyArray<EventStore.Outcome>, QueueFull | BatchTooLarge | ShuttingDown | EventStore.StoreError>
  /**
   * Publishes with a queued ack: resumes once the events are in the queue. A crash can lose
   * them until they are committed.
   */
  readonly enqueue: (events: ReadonlyArray<Event.Event>) => Effect.Effect<void, QueueFull | BatchTooLarge | ShuttingDown>
  /** A consistent snapshot of the counters. */
  readonly stats: Effect.Effect<Stats>
  /** A page of the log in commit order. */
  readonly events: (options: EventStore.ReadOptions) => Effect.Effect<Page.Page, EventStore.StoreError>
  /** The stored copy of one key. */
  readonly get: (key: Event.Key) => Effect.Effect<Option.Option<Event.StoredEvent>, EventStore.StoreError>
  /** False once shutdown has begun. */
  readonly accepting: Effect.Effect<boolean>
  /** Accepting, and the store answers now (a shared database can go away and come back). */
  readonly ready: Effect.Effect<boolean>
}>() {}

/** Prometheus-style metrics, updated once per commit group. */
export const metrics = {
  received: Metric.counter("event_aggregator_events_received_total", {
    description: "Events received into the queue",
    incremental: true
  }),
  unique: Metric.counter("event_aggregator_events_unique_total", {
    description: "Events stored as unique",
    incremental: true
  }),
  duplicates: Metric.counter("event_aggregator_events_duplicate_total", {
    description: "Events dropped as duplicates (conflicts included)",
    incremental: true
  }),
  conflicts: Metric.counter("event_aggregator_events_conflict_total", {
    description: "Duplicates whose fields differ from the stored copy",
    incremental: true
  }),
  failed: Metric.counter("event_aggregator_events_failed_total", {
    description: "Events whose commit failed (not stored, not counted as received)",
    incremental: true
  }),
  queueDepth: Metric.gauge("event_aggregator_queue_depth", {
    description: "Events received and not yet committed"
  }),
  commitSize: Metric.histogram(
    "event_aggregator_commit_batch_size",
    MetricBoundaries.exponential({ start: 1, factor: 4, count: 9 }),
    "Events per commit group"
  ),
  commitSeconds: Metric.histogram(
    "event_aggregator_commit_duration_seconds",
    MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 14 }),
    "Time to commit one group"
  )
}

interface Request {
  readonly events: ReadonlyArray<Event.Event>
  readonly done: Deferred.Deferred<ReadonlyArray<EventStore.Outcome>, EventStore.StoreError> | undefined
}

/** Received is not kept: it is unique + duplicates + pending, so the invariant holds by construction. */
interface State {
  readonly unique: number
  readonly duplicates: number
  readonly conflicts: number
  readonly pending: number
  readonly perTopic: HashMap.HashMap<string, EventStore.TopicCounters>
  readonly closing: boolean
}

/** The totals of persisted counters, as the committed part of a State. */
const committed = (counters: EventStore.Counters): Pick<State, "unique" | "duplicates" | "conflicts" | "perTopic"> => {
  let unique = 0
  let duplicates = 0
  let conflicts = 0
  for (const c of counters.per_topic.values()) {
    unique += c.unique_processed
    duplicates += c.duplicate_dropped
    conflicts += c.conflicts
  }
  return { unique, duplicates, conflicts, perTopic: HashMap.fromIterable(counters.per_topic) }
}

const addTopic = (
  map: HashMap.HashMap<string, EventStore.TopicCounters>,
  topic: string,
  delta: EventStore.TopicCounters
) =>
  HashMap.modifyAt(map, topic, (current) => Option.some(EventStore.addCounters(Option.getOrUndefined(current), delta)))

const retryPolicy = Schedule.exponential(Duration.millis(20), 2).pipe(
  Schedule.intersect(Schedule.recurs(4))
)

const MAX_LOGGED_KEYS = 10

/** Lets the host's event loop run pending I/O callbacks (a macrotask turn), then resumes. */
const yieldToEventLoop: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/**
 * Builds the aggregator on the EventStore: restores the counters, starts the workers, and on
 * scope close stops intake, commits everything queued, then stops the workers.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<
  Aggregator["Type"],
  EventStore.StoreError,
  EventStore.EventStore | AggregatorConfig.AggregatorConfig | Scope.Scope
> = Effect.gen(function*() {
  const store = yield* EventStore.EventStore
  const settings = yield* AggregatorConfig.AggregatorConfig
  const startedMillis = yield* Clock.currentTimeMillis
  const started_at = new Date(startedMillis).toISOString()

  const state = yield* Ref.make<State>({ ...committed(yield* store.counters), pending: 0, closing: false })
  const queue = yield* Queue.unbounded<Request>()
  const drained = yield* Deferred.make<void>()
  const capacity = settings.queueMaxSize

  /** Counts a request in (received and pending) or refuses it, atomically. */
  const admit = (n: number) =>
    Ref.modify(state, (s): [QueueFull | BatchTooLarge | ShuttingDown | undefined, State] => {
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

  const submit = (events: ReadonlyArray<Event.Event>, done: Request["done"]) =>
    Effect.uninterruptible(Effect.flatMap(admit(events.length), (refused) => {
      if (refused !== undefined) return Effect.fail(refused)
      return Effect.zipRight(
        Metric.incrementBy(metrics.received, events.length),
        Queue.offer(queue, { events, done })
      )
    }))

  const publish = (events: ReadonlyArray<Event.Event>) =>
    events.length === 0
      ? Effect.succeed<ReadonlyArray<EventStore.Outcome>>([])
      : Effect.flatMap(
        Deferred.make<ReadonlyArray<EventStore.Outcome>, EventStore.StoreError>(),
        (done) => Effect.zipRight(submit(events, done), Deferred.await(done))
      )

  const enqueue = (events: ReadonlyArray<Event.Event>) =>
    events.length === 0 ? Effect.void : Effect.asVoid(submit(events, undefined))

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
      const startedAt = yield* Clock.currentTimeMillis
      const result = yield* Effect.either(Effect.retry(store.append(events), retryPolicy))
      const elapsed = (yield* Clock.currentTimeMillis) - startedAt

      if (result._tag === "Left") {
        yield* settle((s) => ({ ...s, pending: s.pending - size }))
        yield* Metric.incrementBy(metrics.failed, size)
        yield* Effect.logError("commit failed; the group's events were not stored", result.left)
        for (const r of group) if (r.done) yield* Deferred.fail(r.done, result.left)
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

  for (let i = 0; i < settings.workerCount; i++) {
    yield* Effect.forkScoped(worker)
  }

  // Registered after the workers, so it runs before they are interrupted.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      const pending = yield* Ref.modify(state, (s) => [s.pending, { ...s, closing: true }])
      if (pending > 0) {
        yield* Effect.logInfo(`draining: committing ${pending} queued events`)
        yield* Deferred.await(drained)
      }
    })
  )

  /**
   * With a shared store the persisted counters are the cluster's: read them, and add this
   * process's pending events (received = unique + duplicates + pending holds by construction).
   * If the store cannot answer, the local view stands in.
   */
  const current: Effect.Effect<State> = store.shared
    ? Effect.flatMap(Ref.get(state), (local) =>
      store.counters.pipe(
        Effect.map((persisted): State => ({ ...local, ...committed(persisted) })),
        Effect.orElseSucceed(() => local)
      ))
    : Ref.get(state)

  const stats = Effect.map(
    Effect.zip(current, Clock.currentTimeMillis),
    ([s, now]): Stats => {
      const entries = Array.from(s.perTopic).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      const topics = entries.map(([topic]) => topic)
      const per_topic: Record<string, EventStore.TopicCounters> = Object.fromEntries(entries)
      return {
        received: s.unique + s.duplicates + s.pending,
        unique_processed: s.unique,
        duplicate_dropped: s.duplicates,
        conflicts: s.conflicts,
        pending: s.pending,
        topics,
        per_topic,
        uptime: (now - startedMillis) / 1000,
        started_at,
        workers: settings.workerCount,
        queue_capacity: capacity > 0 ? capacity : null
      }
    }
  )

  const limits: Event.Limits = { maxEventBytes: settings.maxEventBytes, maxPayloadDepth: settings.maxPayloadDepth }

  return Aggregator.of({
    validate: (input) => Effect.suspend(() => Event.validate(input, limits)),
    publish,
    enqueue,
    stats,
    events: (options) =>
      // One row more than asked tells whether anything follows the page.
      Effect.map(store.read({ ...options, limit: options.limit + 1 }), (rows): Page.Page => {
        if (rows.length <= options.limit) return { events: rows, next_after: null }
        const events = rows.slice(0, options.limit)
        return { events, next_after: events[events.length - 1]?.seq ?? null }
      }),
    get: store.get,
    accepting: Effect.map(Ref.get(state), (s) => !s.closing),
    ready: Effect.flatMap(Ref.get(state), (s) =>
      s.closing ? Effect.succeed(false) : Effect.as(store.ping, true).pipe(Effect.orElseSucceed(() => false)))
  })
})

/**
 * The aggregator as a layer; closing it is the graceful shutdown.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<
  Aggregator,
  EventStore.StoreError,
  EventStore.EventStore | AggregatorConfig.AggregatorConfig
> = Layer.scoped(Aggregator, make)
