/**
 * Retention on a SQL store (SQLite and PostgreSQL share it): one bounded pruning step, the
 * per-topic retention report and key-record lookups. The caller runs a step in its own short
 * transaction (and, on a shared database, under a lock only one process gets).
 *
 * Events are pruned from each topic's oldest `seq` forward, while their `received_at` is older than
 * the topic's retention: an event younger than its retention is never removed. When the newest
 * event of the whole log is pruned, a marker row (empty topic) keeps its `seq`, so `seq` values
 * are never reused.
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Plan from "./CommitPlan.js"
import type * as Event from "./Event.js"
import * as EventStore from "./EventStore.js"
import * as Retention from "./Retention.js"

/** The placeholder style of a database. */
export type Dialect = "sqlite" | "pg"

/** Statement texts of one dialect. */
export interface Statements {
  readonly topics: string
  readonly oldestEvents: string
  readonly head: string
  readonly deleteEvents: string
  readonly deleteMarkers: string
  readonly insertMarker: string
  readonly insertKeyRecords: string
  readonly oldestKeyRecords: string
  readonly deleteKeyRecords: string
  readonly count: string
  readonly report: string
  readonly keyRecord: string
}

/** The statements of `dialect`. */
export const statements = (dialect: Dialect): Statements => {
  const p = (i: number) => (dialect === "pg" ? `$${i}` : "?")
  const records = dialect === "pg"
    ? `SELECT ${p(1)}, x ->> 0, (x ->> 1)::bigint, x ->> 2, x ->> 3 FROM jsonb_array_elements(${p(2)}::jsonb) AS x`
    : `SELECT ${p(1)}, value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(${p(2)}) WHERE true`
  return {
    topics: "SELECT topic FROM topic_counters ORDER BY topic",
    oldestEvents:
      `SELECT seq, event_id, timestamp, source, payload, received_at FROM events WHERE topic = ${p(1)} ORDER BY seq LIMIT ${p(2)}`,
    head: "SELECT coalesce(max(seq), 0) AS head FROM events",
    deleteEvents: `DELETE FROM events WHERE topic = ${p(1)} AND seq <= ${p(2)}`,
    deleteMarkers: `DELETE FROM events WHERE topic = '' AND seq < ${p(1)}`,
    insertMarker:
      `INSERT INTO events (seq, topic, event_id, timestamp, source, payload, received_at) VALUES (${p(1)}, '', '', '', '', '{}', '')`,
    insertKeyRecords: `INSERT INTO key_records (topic, event_id, seq, hash, received_at) ${records}
ON CONFLICT (topic, event_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, received_at = excluded.received_at`,
    oldestKeyRecords: `SELECT seq, received_at FROM key_records WHERE topic = ${p(1)} ORDER BY seq LIMIT ${p(2)}`,
    deleteKeyRecords: `DELETE FROM key_records WHERE topic = ${p(1)} AND seq <= ${p(2)}`,
    count: `INSERT INTO topic_retention (topic, pruned, pruned_through, key_records, forgotten)
VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})
ON CONFLICT (topic) DO UPDATE SET
  pruned = topic_retention.pruned + excluded.pruned,
  pruned_through = CASE WHEN excluded.pruned_through > topic_retention.pruned_through THEN excluded.pruned_through ELSE topic_retention.pruned_through END,
  key_records = topic_retention.key_records + excluded.key_records,
  forgotten = topic_retention.forgotten + excluded.forgotten`,
    report: `SELECT c.topic, (SELECT min(e.seq) FROM events e WHERE e.topic = c.topic) AS oldest,
  coalesce(r.pruned, 0) AS pruned, coalesce(r.pruned_through, 0) AS pruned_through,
  coalesce(r.key_records, 0) AS key_records, coalesce(r.forgotten, 0) AS forgotten
FROM topic_counters c LEFT JOIN topic_retention r ON r.topic = c.topic`,
    keyRecord: `SELECT seq FROM key_records WHERE topic = ${p(1)} AND event_id = ${p(2)}`
  }
}

type Num = number | string

interface OldRow {
  readonly seq: Num
  readonly event_id: string
  readonly timestamp: string
  readonly source: string
  readonly payload: string
  readonly received_at: string
}

const iso = (ms: number): string => new Date(ms).toISOString()

/** The leading rows older than `cutoff` (rows in `seq` order; stops at the first younger one). */
const olderPrefix = <A extends { readonly received_at: string }>(rows: ReadonlyArray<A>, cutoff: string): ReadonlyArray<A> => {
  let n = 0
  while (n < rows.length && rows[n]!.received_at < cutoff) n++
  return rows.slice(0, n)
}

/**
 * One pruning step (run it in a transaction): per topic, events past retention become key records
 * (or are forgotten when already past the window), and key records past the window are forgotten;
 * at most `maxRows` rows of each kind in all.
 */
export const pruneStep = (
  sql: SqlClient.SqlClient,
  s: Statements,
  request: EventStore.PruneRequest
): Effect.Effect<EventStore.Pruned, unknown> =>
  Effect.gen(function*() {
    const topics = yield* sql.unsafe<{ readonly topic: string }>(s.topics)
    let eventBudget = request.maxRows
    let recordBudget = request.maxRows
    let pruned = 0
    let recorded = 0
    let forgotten = 0
    for (const { topic } of topics) {
      const rule = Retention.ruleOf(request.policy, topic)
      const windowCutoff = rule.windowMs === null ? undefined : iso(request.now - rule.windowMs)
      if (rule.retentionMs !== null && eventBudget > 0) {
        const rows = yield* sql.unsafe<OldRow>(s.oldestEvents, [topic, eventBudget])
        const old = olderPrefix(rows, iso(request.now - rule.retentionMs))
        if (old.length > 0) {
          const last = Number(old[old.length - 1]!.seq)
          const keep = old.filter((r) => windowCutoff === undefined || r.received_at >= windowCutoff)
          if (keep.length > 0) {
            const items = keep.map((r) => [r.event_id, Number(r.seq), Plan.contentHash(r), r.received_at])
            yield* sql.unsafe(s.insertKeyRecords, [topic, JSON.stringify(items)])
          }
          const [h] = yield* sql.unsafe<{ readonly head: Num }>(s.head)
          const head = Number(h?.head ?? 0)
          yield* sql.unsafe(s.deleteEvents, [topic, last])
          if (last === head) {
            yield* sql.unsafe(s.deleteMarkers, [head])
            yield* sql.unsafe(s.insertMarker, [head])
          }
          yield* sql.unsafe(s.count, [topic, old.length, last, keep.length, old.length - keep.length])
          eventBudget -= old.length
          pruned += old.length
          recorded += keep.length
          forgotten += old.length - keep.length
        }
      }
      if (windowCutoff !== undefined && recordBudget > 0) {
        const rows = yield* sql.unsafe<{ readonly seq: Num; readonly received_at: string }>(s.oldestKeyRecords, [topic, recordBudget])
        const old = olderPrefix(rows, windowCutoff)
        if (old.length > 0) {
          yield* sql.unsafe(s.deleteKeyRecords, [topic, Number(old[old.length - 1]!.seq)])
          yield* sql.unsafe(s.count, [topic, 0, 0, -old.length, old.length])
          recordBudget -= old.length
          forgotten += old.length
        }
      }
    }
    return { pruned, recorded, forgotten, more: eventBudget === 0 || recordBudget === 0 }
  })

interface ReportRow {
  readonly topic: string
  readonly oldest: Num | null
  readonly pruned: Num
  readonly pruned_through: Num
  readonly key_records: Num
  readonly forgotten: Num
}

/** The per-topic report and the key-record lookup, on the store's reading connection. */
export const reads = (
  sql: SqlClient.SqlClient,
  s: Statements
): Required<Pick<EventStore.EventStore["Type"], "retention" | "keyRecord">> => ({
  retention: EventStore.StoreError.refail(
    "read",
    Effect.map(sql.unsafe<ReportRow>(s.report), (rows) =>
      new Map(rows.map((r): [string, EventStore.TopicRetention] => [r.topic, {
        pruned: Number(r.pruned),
        prunedThrough: Number(r.pruned_through),
        keyRecords: Number(r.key_records),
        forgotten: Number(r.forgotten),
        oldest: r.oldest === null ? null : Number(r.oldest)
      }])))
  ),
  keyRecord: (key: Event.Key) =>
    EventStore.StoreError.refail(
      "read",
      Effect.map(sql.unsafe<{ readonly seq: Num }>(s.keyRecord, [key.topic, key.event_id]), (rows) =>
        Option.map(Option.fromNullable(rows[0]), (r) => Number(r.seq)))
    )
})
