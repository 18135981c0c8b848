/**
 * The Promise facade, for Node services that do not use Effect:
 * `const agg = await createAggregator({ path })`, then `publish`, `events`, `stats`, `close`.
 * Rejections are the core's tagged errors (`err._tag === "InvalidEvents"`, `"QueueFull"`, ...).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Aggregator from "./Aggregator.js"
import * as AggregatorConfig from "./AggregatorConfig.js"
import * as Event from "./Event.js"
import * as EventJson from "./EventJson.js"
import type * as EventStore from "./EventStore.js"
import * as MemoryEventStore from "./MemoryEventStore.js"
import * as Page from "./Page.js"
import * as SqliteEventStore from "./SqliteEventStore.js"

/** @since 0.1.0 */
export interface CreateOptions {
  /** SQLite file (default `data/dedup.sqlite`); ignored with `store: "memory"`. */
  readonly path?: string
  /** `sqlite` (default) or `memory`. */
  readonly store?: "sqlite" | "memory"
  readonly workerCount?: number
  /** Queue capacity in events; 0 (default) = unbounded. */
  readonly queueMaxSize?: number
  readonly synchronous?: "FULL" | "NORMAL"
  /** The SQLite writer's page cache in bytes (default 64 MiB, at least 256 KiB). */
  readonly sqliteCacheSize?: number
  /** `inline` (default): SQLite commits on the event loop; `thread`: on a writer thread. */
  readonly sqliteWriter?: "thread" | "inline"
  readonly maxEventBytes?: number
  /** Deepest nesting of containers in a payload (default 64). */
  readonly maxPayloadDepth?: number
  /** How long events are stored, from their `received_at`: `"forever"` (default), `"90s"`, `"12h"`, `"30d"`, `"2w"`. */
  readonly retention?: string
  /** How long keys are remembered (default `"forever"`), at least `retention`; past it a key is accepted anew. */
  readonly dedupWindow?: string
  /** Per-topic retention, e.g. `{ logs: "1d" }`. */
  readonly topicRetention?: Readonly<Record<string, string>>
  /** Per-topic dedup window, e.g. `{ logs: "2d" }`. */
  readonly topicDedupWindow?: Readonly<Record<string, string>>
}

/** One event's outcome in a publish result. */
export interface Result {
  readonly index: number
  readonly status: EventStore.Outcome["status"]
  readonly seq: number
}

/** @since 0.1.0 */
export interface PublishResult extends Aggregator.Summary {
  readonly results: ReadonlyArray<Result>
}

/** @since 0.1.0 */
export interface AggregatorClient {
  /**
   * Validates (all or nothing) and publishes one event or a list; resolves once committed. A
   * string is read as JSON text (one event, an array, or `{"events": [...]}`), its payloads kept
   * exactly as written: the way to keep integers beyond 2^53 that JavaScript numbers would round.
   */
  readonly publish: (events: unknown) => Promise<PublishResult>
  /** Validates and queues (the same input as `publish`); resolves at once. A crash can lose events not yet committed. */
  readonly enqueue: (events: unknown) => Promise<{ readonly received: number; readonly queued: number }>
  /** A page of stored events in commit order; each `payload` is the JSON text as published. */
  readonly events: (options?: {
    readonly topic?: string
    readonly after?: number
    readonly limit?: number
  }) => Promise<Page.Page>
  /**
   * Follows the log: every event after `after` (a seq, default 0; or `"now"`), of `topic` if given,
   * stored ones first, then each as it commits; no gap, no repeat. `for await` over it; `break`
   * (or `return()`) ends the subscription. It ends by itself when the aggregator closes.
   */
  readonly follow: (options?: Aggregator.FollowOptions) => AsyncIterable<Event.StoredEvent>
  /**
   * The stored copy of a key, or undefined (never accepted, or forgotten past its dedup window);
   * rejects with `EventPruned` (`seq`: the original) when it left retention while its key is remembered.
   */
  readonly get: (topic: string, eventId: string) => Promise<Event.StoredEvent | undefined>
  readonly stats: () => Promise<Aggregator.Stats>
  /** Commits everything queued, then closes the store. */
  readonly close: () => Promise<void>
}

/** A bad argument to a facade call (not an event problem: those are `InvalidEvents`). */
export class InvalidArgument extends TypeError {
  readonly _tag = "InvalidArgument"
}

const settingsFrom = (options: CreateOptions): Partial<AggregatorConfig.Settings> => ({
  ...(options.path !== undefined ? { dbPath: options.path } : {}),
  ...(options.workerCount !== undefined ? { workerCount: options.workerCount } : {}),
  ...(options.queueMaxSize !== undefined ? { queueMaxSize: options.queueMaxSize } : {}),
  ...(options.synchronous !== undefined ? { synchronous: options.synchronous } : {}),
  ...(options.sqliteCacheSize !== undefined ? { sqliteCacheSize: options.sqliteCacheSize } : {}),
  ...(options.sqliteWriter !== undefined ? { sqliteWriter: options.sqliteWriter } : {}),
  ...(options.maxEventBytes !== undefined ? { maxEventBytes: options.maxEventBytes } : {}),
  ...(options.maxPayloadDepth !== undefined ? { maxPayloadDepth: options.maxPayloadDepth } : {}),
  ...(options.retention !== undefined ? { retention: options.retention } : {}),
  ...(options.dedupWindow !== undefined ? { dedupWindow: options.dedupWindow } : {}),
  ...(options.topicRetention !== undefined ? { topicRetention: options.topicRetention } : {}),
  ...(options.topicDedupWindow !== undefined ? { topicDedupWindow: options.topicDedupWindow } : {})
})

/** The events of `input`: JSON text (payloads kept as written), a list, or one event. */
const listOf = (input: unknown): Effect.Effect<ReadonlyArray<unknown>, EventJson.JsonSyntaxError | Event.InvalidEvents> =>
  typeof input === "string"
    ? Effect.flatMap(EventJson.parse(input), Event.eventsOfBody)
    : Effect.succeed(Array.isArray(input) ? input : [input])

const stores = ["sqlite", "memory"] as const

/** What the facade rejects with: the error itself, a configuration error as an InvalidArgument. */
const rejection = (cause: Cause.Cause<unknown>): unknown => {
  const error = Cause.squash(cause)
  return ConfigError.isConfigError(error)
    ? new InvalidArgument(`configuration error: ${AggregatorConfig.describeError(error)}`)
    : error
}

/**
 * Opens the store and starts the aggregator; rejects (and releases everything) when the store
 * cannot be opened.
 *
 * @since 0.1.0
 */
export const createAggregator = async (options: CreateOptions = {}): Promise<AggregatorClient> => {
  const kind = options.store ?? "sqlite"
  if (!stores.includes(kind)) {
    return Promise.reject(
      new InvalidArgument(`configuration error: EVENT_STORE: must be one of ${stores.join(", ")}, got ${JSON.stringify(kind)}`)
    )
  }
  const store = kind === "memory" ? MemoryEventStore.layer : SqliteEventStore.layer
  const runtime = ManagedRuntime.make(
    Aggregator.layer.pipe(
      Layer.provide(store),
      Layer.provide(AggregatorConfig.layer(settingsFrom(options)))
    )
  )
  const run = <A, E>(effect: Effect.Effect<A, E, Aggregator.Aggregator>): Promise<A> =>
    runtime.runPromiseExit(effect).then((exit) =>
      Exit.isSuccess(exit) ? exit.value : Promise.reject(rejection(exit.cause))
    )
  await run(Effect.void).catch(async (e) => {
    await runtime.dispose()
    return Promise.reject(e)
  })
  const effectRuntime = await runtime.runtime()

  return {
    publish: (input) =>
      run(Effect.gen(function*() {
        const aggregator = yield* Aggregator.Aggregator
        const events = yield* aggregator.validate(yield* listOf(input))
        const outcomes = yield* aggregator.publish(events)
        return {
          ...Aggregator.summarize(outcomes),
          results: outcomes.map((o, index) => ({ index, status: o.status, seq: o.seq }))
        }
      })),
    enqueue: (input) =>
      run(Effect.gen(function*() {
        const aggregator = yield* Aggregator.Aggregator
        const events = yield* aggregator.validate(yield* listOf(input))
        yield* aggregator.enqueue(events)
        return { received: events.length, queued: events.length }
      })),
    events: (query = {}) => {
      const after = query.after ?? 0
      const limit = query.limit ?? Page.DEFAULT_LIMIT
      const problem = Page.check(after, limit)
      if (problem !== undefined) return Promise.reject(new InvalidArgument(problem))
      return run(Effect.flatMap(Aggregator.Aggregator, (a) => a.events({ topic: query.topic, after, limit })))
    },
    follow: (options = {}) => {
      const after = options.after ?? 0
      if (after !== "now" && Page.check(after, 1) !== undefined) {
        throw new InvalidArgument(`after must be a seq (an integer of 0 or more) or "now", got ${JSON.stringify(after)}`)
      }
      return Stream.toAsyncIterableRuntime(
        Stream.unwrap(Effect.map(Aggregator.Aggregator, (a) => a.follow({ ...options, after }))),
        effectRuntime
      )
    },
    get: (topic, event_id) =>
      run(Effect.flatMap(Aggregator.Aggregator, (a) => a.get({ topic, event_id }))).then(Option.getOrUndefined),
    stats: () => run(Effect.flatMap(Aggregator.Aggregator, (a) => a.stats)),
    close: () => runtime.dispose()
  }
}
