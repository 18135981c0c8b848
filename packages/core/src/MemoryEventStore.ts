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
import * as Retention from "./Retention.js"

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
  let log: Array<StoredRow> = []
  const byKey = new Map<string, StoredRow>()
  const byTopic = new Map<string, Array<StoredRow>>()
  const counters = new Map<string, EventStore.TopicCounters>()
  /** Key records of pruned events still inside their window, by key; per topic in seq order. */
  const records = new Map<string, Plan.KeyRecord & Event.Key & { readonly received_at: string }>()
  const retention = new Map<string, { pruned: number; prunedThrough: number; keyRecords: number; forgotten: number }>()
  let head = 0 // the highest seq ever given (seq values are never reused, pruned or not)

  const keys = new Map<string, Idempotency.Stored & { readonly expiresAt: number }>()
  const keyId = Idempotency.keyId

  const append = (events: ReadonlyArray<Event.Event>, idempotent?: ReadonlyArray<Idempotency.Pending>) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const received_at = new Date(now).toISOString()
      const plan = Plan.plan(events, (k) => byKey.get(k) ?? records.get(k), head + 1)
      head += plan.rows.length
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

  const countOf = (topic: string) => {
    let r = retention.get(topic)
    if (r === undefined) {
      r = { pruned: 0, prunedThrough: 0, keyRecords: 0, forgotten: 0 }
      retention.set(topic, r)
    }
    return r
  }

  /** The SQL stores' pruning step (see SqlRetention), on the arrays. */
  const pruneStep = (request: EventStore.PruneRequest): EventStore.Pruned => {
    let eventBudget = request.maxRows
    let recordBudget = request.maxRows
    const done = { pruned: 0, recorded: 0, forgotten: 0 }
    const removed = new Set<number>()
    for (const [topic, rows] of byTopic) {
      const rule = Retention.ruleOf(request.policy, topic)
      const windowCutoff = rule.windowMs === null ? undefined : new Date(request.now - rule.windowMs).toISOString()
      if (rule.retentionMs !== null && eventBudget > 0) {
        const cutoff = new Date(request.now - rule.retentionMs).toISOString()
        let n = 0
        while (n < rows.length && n < eventBudget && rows[n]!.received_at < cutoff) n++
        if (n > 0) {
          const c = countOf(topic)
          for (const row of rows.splice(0, n)) {
            const key = Event.keyString(row)
            byKey.delete(key)
            removed.add(row.seq)
            if (windowCutoff === undefined || row.received_at >= windowCutoff) {
              records.set(key, { topic, event_id: row.event_id, seq: row.seq, hash: Plan.contentHash(row), received_at: row.received_at })
              c.keyRecords++
              done.recorded++
            } else {
              c.forgotten++
              done.forgotten++
            }
            c.pruned++
            c.prunedThrough = Math.max(c.prunedThrough, row.seq)
          }
          eventBudget -= n
          done.pruned += n
        }
      }
      if (windowCutoff !== undefined && recordBudget > 0) {
        const old = Array.from(records.entries())
          .filter(([, r]) => r.topic === topic)
          .sort(([, a], [, b]) => a.seq - b.seq)
        let n = 0
        while (n < old.length && n < recordBudget && old[n]![1].received_at < windowCutoff) n++
        const c = countOf(topic)
        for (const [key] of old.slice(0, n)) records.delete(key)
        c.keyRecords -= n
        c.forgotten += n
        recordBudget -= n
        done.forgotten += n
      }
    }
    if (removed.size > 0) {
      log = log.filter((row) => !removed.has(row.seq))
    }
    return { ...done, more: eventBudget === 0 || recordBudget === 0 }
  }

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
      for (const [topic, rows] of byTopic) {
        const last = rows[rows.length - 1]
        if (last !== undefined) times.set(topic, last.received_at)
      }
      return times
    }),
    ping: Effect.void,
    head: Effect.sync(() => head),
    prune: (request) => Effect.sync(() => pruneStep(request)),
    retention: Effect.sync(() => {
      const report = new Map<string, EventStore.TopicRetention>()
      for (const topic of counters.keys()) {
        const r = retention.get(topic)
        report.set(topic, {
          pruned: r?.pruned ?? 0,
          prunedThrough: r?.prunedThrough ?? 0,
          keyRecords: r?.keyRecords ?? 0,
          forgotten: r?.forgotten ?? 0,
          oldest: byTopic.get(topic)?.[0]?.seq ?? null
        })
      }
      return report
    }),
    keyRecord: (key) => Effect.sync(() => Option.map(Option.fromNullable(records.get(Event.keyString(key))), (r) => r.seq)),
    commits: undefined
  })
})

/**
 * A fresh in-memory store per build of the layer.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<EventStore.EventStore> = Layer.effect(EventStore.EventStore, make)
