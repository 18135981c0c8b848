/**
 * The Aggregator's keyed publishes: one request per key at a time in this process, the store's
 * record replayed or refused, and otherwise a durable publish whose record the commit stores.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Event from "../Event.js"
import type * as EventStore from "../EventStore.js"
import * as Idempotency from "../Idempotency.js"
import { metrics } from "./metrics.js"
import { render } from "./publishResponse.js"

/** A keyed request's record, as the queue carries it to the commit. */
export type Keyed = Omit<Idempotency.Pending, "start" | "count">

/** How often expired records are deleted, and how many per statement. */
const PURGE_EVERY = Duration.minutes(1)
const PURGE_BATCH = 1_000

export interface Options<E> {
  readonly store: EventStore.EventStore["Type"]
  readonly ttlMillis: number
  /** A durable publish carrying the request's record to the commit. */
  readonly publish: (events: ReadonlyArray<Event.Event>, keyed: Keyed) => Effect.Effect<ReadonlyArray<EventStore.Outcome>, E>
}

const inUse = () =>
  new Idempotency.KeyInUse({ message: "a request with this Idempotency-Key is still in flight; retry once it has finished" })

const reused = () =>
  new Idempotency.KeyReused({ message: "this Idempotency-Key was used with another request (body or parameters); a key names one request" })

const unsupported = () =>
  new Idempotency.KeyReused({ message: "this store keeps no Idempotency-Key records; send the request without the header" })

export const make = <E>({ publish, store, ttlMillis }: Options<E>) => {
  const inFlight = new Set<string>()
  const records = store.idempotency

  return <E2>(
    request: Idempotency.Request,
    events: Effect.Effect<ReadonlyArray<Event.Event>, E2>
  ): Effect.Effect<
    Idempotency.Outcome,
    E | E2 | Idempotency.KeyInUse | Idempotency.KeyReused | EventStore.StoreError
  > => {
    if (records === undefined) return Effect.fail(unsupported())
    const id = Idempotency.keyId(request)
    const key: Idempotency.Key = { scope: request.scope, key: request.key }
    return Effect.acquireUseRelease(
      Effect.sync(() => {
        if (inFlight.has(id)) return false
        inFlight.add(id)
        return true
      }),
      (mine) =>
        !mine ? Effect.fail(inUse()) : Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const claim = yield* records.claim(key, now)
          if (claim._tag === "InFlight") return yield* Effect.fail(inUse())
          if (claim._tag === "Stored") {
            if (claim.stored.fingerprint !== request.fingerprint) return yield* Effect.fail(reused())
            yield* Metric.increment(metrics.replayed)
            return { status: claim.stored.status, body: claim.stored.body, replayed: true }
          }
          const outcomes = yield* Effect.flatMap(events, (list) =>
            list.length === 0
              // Nothing to commit, so nothing to store: the key stays free.
              ? Effect.as(Effect.ignore(records.release(key)), [])
              : publish(list, { ...request, expiresAt: now + ttlMillis })).pipe(
              // Nothing of it was stored: the key is free again (a store error here leaves the claim
              // to go stale, which a retry takes over).
              Effect.tapError(() => Effect.ignore(records.release(key)))
            )
          return { status: 200, body: render(outcomes, request.detail), replayed: false }
        }),
      (mine) => mine ? Effect.sync(() => inFlight.delete(id)) : Effect.void
    )
  }
}

/** Deletes expired records every minute while the scope lasts (in bounded statements). */
export const purgeExpired = (store: EventStore.EventStore["Type"]): Effect.Effect<void, never, Scope.Scope> => {
  const records = store.idempotency
  if (records === undefined) return Effect.void
  const once = Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.iterate(PURGE_BATCH, {
      while: (deleted) => deleted >= PURGE_BATCH,
      body: () => records.purge(now, PURGE_BATCH)
    })).pipe(
      Effect.catchAll((error) => Effect.logWarning("purging expired Idempotency-Key records failed", error))
    )
  return Effect.asVoid(Effect.forkScoped(Effect.repeat(once, Schedule.spaced(PURGE_EVERY))))
}
