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
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type { Stats } from "@event-aggregator/api/Schemas"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as AggregatorConfig from "./AggregatorConfig.js"
import * as Event from "./Event.js"
import * as EventStore from "./EventStore.js"
import type * as Idempotency from "./Idempotency.js"
import * as Idempotent from "./internal/idempotent.js"
import * as Committer from "./internal/committer.js"
import type { BatchTooLarge, EventPruned, QueueFull, ShuttingDown } from "./internal/errors.js"
import { TooManyFollowers } from "./internal/errors.js"
import * as Intake from "./internal/intake.js"
import * as Live from "./internal/live.js"
import { metrics } from "./internal/metrics.js"
import * as Pruner from "./internal/pruner.js"
import * as RetentionView from "./internal/retentionView.js"
import * as State from "./internal/state.js"
import * as Page from "./Page.js"
import * as Retention from "./Retention.js"

export {
  BatchTooLarge,
  EventPruned,
  QueueFull,
  ShuttingDown,
  TooManyFollowers
} from "./internal/errors.js"

export {
  /**
   * A snapshot of the aggregator's counters, as `GET /stats` returns it. At every instant
   * `received == unique_processed + duplicate_dropped + pending`.
   */
  Stats,
  /** Counters of one topic, as reported by `stats`. */
  TopicStats
} from "@event-aggregator/api/Schemas"

export {
  /**
   * Totals of one publish: `received == accepted + duplicates`; conflicts are duplicates whose
   * fields differ from the stored copy.
   */
  type Summary,
  /** Counts the outcomes of one publish. */
  summarize,
  /** The body of a durable publish's answer: the summary; with `detail`, each event's outcome and seq. */
  result
} from "./internal/publishResponse.js"

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
   * `publish` in two steps, for a producer that keeps several batches in flight: resumes once the
   * events are queued, in call order (with one worker, also their commit order), with the effect
   * that awaits their commit and its outcomes.
   */
  readonly submit: (
    events: ReadonlyArray<Event.Event>
  ) => Effect.Effect<
    Effect.Effect<ReadonlyArray<EventStore.Outcome>, EventStore.StoreError>,
    QueueFull | BatchTooLarge | ShuttingDown
  >
  /**
   * A durable publish under an `Idempotency-Key`: `events` (parsing and validating the request) runs
   * only when the key has no record yet; the response is stored with the key in the transaction
   * that commits the events, for `IDEMPOTENCY_TTL`. The same key again with the same fingerprint
   * replays the stored response (counting nothing); with another fingerprint it fails with
   * `KeyReused`; while a request with the key is in flight, with `KeyInUse`.
   */
  readonly publishIdempotent: <E>(
    request: Idempotency.Request,
    events: Effect.Effect<ReadonlyArray<Event.Event>, E>
  ) => Effect.Effect<
    Idempotency.Outcome,
    E | QueueFull | BatchTooLarge | ShuttingDown | EventStore.StoreError | Idempotency.KeyInUse | Idempotency.KeyReused
  >
  /**
   * Publishes with a queued ack: resumes once the events are in the queue. A crash can lose
   * them until they are committed.
   */
  readonly enqueue: (events: ReadonlyArray<Event.Event>) => Effect.Effect<void, QueueFull | BatchTooLarge | ShuttingDown>
  /** A consistent snapshot of the counters. */
  readonly stats: Effect.Effect<Stats>
  /** A page of the log in commit order. */
  readonly events: (options: EventStore.ReadOptions) => Effect.Effect<Page.Page, EventStore.StoreError>
  /**
   * The stored copy of one key; `EventPruned` when it left retention while its key is remembered,
   * none when the key was never accepted (or is forgotten).
   */
  readonly get: (key: Event.Key) => Effect.Effect<Option.Option<Event.StoredEvent>, EventStore.StoreError | EventPruned>
  /**
   * Where a reader whose cursor is `after` (of `topic`, if given) stands with retention: the
   * `pruned_before` of `Page` (events after the cursor and below it were pruned), or undefined.
   */
  readonly prunedBefore: (options: { readonly topic?: string | undefined; readonly after: number }) => Effect.Effect<
    number | undefined,
    EventStore.StoreError
  >
  /** False once shutdown has begun. */
  readonly accepting: Effect.Effect<boolean>
  /** Accepting, and the store answers now (a shared database can go away and come back). */
  readonly ready: Effect.Effect<boolean>
  /**
   * Follows the log: every unique event after `after` (a seq; 0, the default, is the beginning;
   * `"now"` is the head), of `topic` if given, in seq order: the stored ones first, then each as
   * it commits, with no gap and no repeat in between. A follower that falls behind reads the store
   * until it has caught up; it never slows publishers. The stream ends when the aggregator closes.
   */
  readonly follow: (options?: FollowOptions) => Stream.Stream<Event.StoredEvent, EventStore.StoreError | TooManyFollowers>
  /** The `received_at` of each topic's newest event, by topic (empty when the store cannot tell). */
  readonly lastEventTimes: Effect.Effect<ReadonlyMap<string, string>, EventStore.StoreError>
  /** The highest `seq` stored (0 when empty): where `follow({ after: "now" })` starts. */
  readonly head: Effect.Effect<number, EventStore.StoreError>
  /** What the store keeps its data in (`"sqlite"`, `"memory"`, `"postgres"`; `"other"` when it does not say). */
  readonly storeKind: string
}>() {}

/**
 * Where a follower starts: after a seq, or `"now"`; of one topic, or all.
 *
 * @since 0.1.0
 */
export type FollowOptions = Live.FollowOptions

export {
  /** Prometheus-style metrics, updated once per commit group. */
  metrics
} from "./internal/metrics.js"

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

  const state = yield* Ref.make<State.State>({ ...State.committed(yield* store.counters), pending: 0, closing: false })
  const queue = yield* Queue.unbounded<State.Request>()
  const drained = yield* Deferred.make<void>()
  const capacity = settings.queueMaxSize

  const { enqueue, publish, submit } = Intake.make({ state, queue, capacity })

  const publishIdempotent = Idempotent.make({ store, ttlMillis: settings.idempotencyTtl, publish })
  yield* Idempotent.purgeExpired(store)

  const policy = yield* retentionPolicy(settings)
  const pruning = Retention.prunes(policy)
  const report = store.retention ?? Effect.succeed(new Map<string, EventStore.TopicRetention>())
  const prunedBefore = (options: { readonly topic?: string | undefined; readonly after: number }) =>
    pruning ? Effect.map(report, (r) => RetentionView.prunedBefore(r, options.topic, options.after)) : Effect.succeed(undefined)

  const live = yield* Live.make(store)
  const worker = Committer.worker({ store, settings, state, queue, drained, live })
  for (let i = 0; i < settings.workerCount; i++) {
    yield* Effect.forkScoped(worker)
  }

  yield* Metric.set(metrics.keyRecords, 0)
  yield* Pruner.reportKeyRecords(store)
  yield* Pruner.start(store, { policy, interval: Duration.millis(settings.pruneIntervalMs), maxRows: settings.pruneBatch })

  // Registered after the workers, so it runs before they are interrupted.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      // Followers end first (cleanly): they reconnect elsewhere and resume from their last seq.
      yield* live.close
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
  const current: Effect.Effect<State.State> = store.shared
    ? Effect.flatMap(Ref.get(state), (local) =>
      store.counters.pipe(
        Effect.map((persisted): State.State => ({ ...local, ...State.committed(persisted) })),
        Effect.orElseSucceed(() => local)
      ))
    : Ref.get(state)

  const retentionReport = pruning ? Effect.orElseSucceed(report, () => undefined) : Effect.succeed(undefined)
  const stats = Effect.map(
    Effect.all([current, Clock.currentTimeMillis, live.followers, retentionReport]),
    ([s, now, followers, retained]): Stats => {
      const counters = State.counters(s)
      return {
      ...counters,
      per_topic: retained === undefined ? counters.per_topic : RetentionView.perTopic(counters.per_topic, retained, policy),
      uptime: (now - startedMillis) / 1000,
      started_at,
      workers: settings.workerCount,
      queue_capacity: capacity > 0 ? capacity : null,
      followers: followers.following,
      followers_catching_up: followers.catchingUp,
      retention: Retention.describe(policy.default)
    }
    }
  )

  const limits: Event.Limits = { maxEventBytes: settings.maxEventBytes, maxPayloadDepth: settings.maxPayloadDepth }

  return Aggregator.of({
    validate: (input) => Effect.suspend(() => Event.validate(input, limits)),
    publish: (events) => publish(events),
    submit: (events) => submit(events),
    publishIdempotent,
    enqueue,
    stats,
    events: (options) =>
      Effect.flatMap(Page.collect(store.read, options), (page) =>
        // Asked after the read: an event pruned during it is reported, never missed silently.
        Effect.map(prunedBefore(options), (before) => before === undefined ? page : { ...page, pruned_before: before })),
    get: RetentionView.get(store),
    prunedBefore,
    accepting: Effect.map(Ref.get(state), (s) => !s.closing),
    ready: Effect.flatMap(Ref.get(state), (s) =>
      s.closing ? Effect.succeed(false) : Effect.as(store.ping, true).pipe(Effect.orElseSucceed(() => false))),
    follow: (options = {}) =>
      live.follow(options, (following) =>
        following >= settings.maxFollowers
          ? new TooManyFollowers({
            message: `this process has ${following} followers already (MAX_FOLLOWERS); retry later or follow another instance`,
            limit: settings.maxFollowers
          })
          : undefined),
    lastEventTimes: store.lastEventTimes ?? Effect.succeed(new Map<string, string>()),
    head: store.head,
    storeKind: store.kind ?? "other"
  })
})

/** The retention policy of the settings (checked by `AggregatorConfig.check`; a bad one dies here). */
const retentionPolicy = (settings: AggregatorConfig.Settings): Effect.Effect<Retention.Policy> => {
  const result = Retention.policyOf(settings)
  return "policy" in result ? Effect.succeed(result.policy) : Effect.dieMessage(`${result.problem[0]}: ${result.problem[1]}`)
}

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
