/**
 * The in-memory EventStore: same semantics as the SQLite store, forgotten when its scope closes.
 * For tests, demos and short-lived processes.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Event from "./Event.js"
import * as EventStore from "./EventStore.js"
import * as Idempotency from "./Idempotency.js"
import * as Plan from "./CommitPlan.js"

interface StoredRow extends Plan.Row {
  readonly received_at: string
}


/** Index of the first row with `seq > after` in a seq-ordered array. */
const firstAfter = (rows: ReadonlyArray<StoredRow>, after: number): number => {
  let lo = 0
  let hi = rows.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (rows[mid]!.seq <= after) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * Builds an empty in-memory store.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<EventStore.EventStore["Type"]> = Effect.sync(() => {
  const log: Array<StoredRow> = []
  const byKey = new Map<string, StoredRow>()
  const byTopic = new Map<string, Array<StoredRow>>()
  const counters = new Map<string, EventStore.TopicCounters>()

  const keys = new Map<string, Idempotency.Stored & { readonly expiresAt: number }>()
  const keyId = (key: Idempotency.Key) => `${key.scope}\u0000${key.key}`

  const append = (events: ReadonlyArray<Event.Event>, idempotent?: ReadonlyArray<Idempotency.Pending>) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const received_at = new Date(now).toISOString()
      const plan = Plan.plan(events, (k) => byKey.get(k), log.length + 1)
      for (const row of plan.rows) {
        const stored: StoredRow = { ...row, received_at }
        log.push(stored)
        byKey.set(Event.keyString(row), stored)
        let topicRows = byTopic.get(row.topic)
        if (topicRows === undefined) {
          topicRows = []
          byTopic.set(row.topic, topicRows)
        }
        topicRows.push(stored)
      }
      for (const [topic, delta] of plan.deltas) counters.set(topic, EventStore.addCounters(counters.get(topic), { ...delta }))
      for (const p of idempotent ?? []) keys.set(keyId(p), { ...Idempotency.recordOf(p, plan.outcomes), expiresAt: p.expiresAt })
      return { outcomes: plan.outcomes, deltas: plan.deltas, receivedAt: received_at }
    })

  const read = (options: EventStore.ReadOptions) =>
    Effect.sync(() => {
      const rows = options.topic === undefined ? log : (byTopic.get(options.topic) ?? [])
      const start = firstAfter(rows, options.after)
      return rows.slice(start, start + options.limit).map(Plan.toStored)
    })

  const get = (key: Event.Key) =>
    Effect.sync(() => Option.map(Option.fromNullable(byKey.get(Event.keyString(key))), Plan.toStored))

  const idempotency: EventStore.IdempotencyRecords = {
    claim: (key, now) =>
      Effect.sync((): Idempotency.Claim => {
        const stored = keys.get(keyId(key))
        return stored === undefined || stored.expiresAt <= now ? { _tag: "Claimed" } : { _tag: "Stored", stored }
      }),
    release: () => Effect.void,
    purge: (now, limit) =>
      Effect.sync(() => {
        let deleted = 0
        for (const [id, stored] of keys) {
          if (deleted >= limit) break
          if (stored.expiresAt <= now) {
            keys.delete(id)
            deleted++
          }
        }
        return deleted
      })
  }

  return EventStore.EventStore.of({
    append,
    idempotency,
    read,
    get,
    counters: Effect.sync(() => ({ per_topic: new Map(counters) })),
    shared: false,
    kind: "memory",
    lastEventTimes: Effect.sync(() => {
      const times = new Map<string, string>()
      for (const [topic, rows] of byTopic) times.set(topic, rows[rows.length - 1]!.received_at)
      return times
    }),
    ping: Effect.void,
    head: Effect.sync(() => log.length),
    commits: undefined
  })
})

/**
 * A fresh in-memory store per build of the layer.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<EventStore.EventStore> = Layer.effect(EventStore.EventStore, make)
