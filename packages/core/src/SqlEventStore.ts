/**
 * The reads every SQL EventStore does the same way, whatever the database: a page of the log,
 * one key, the counters, a ping. Each store passes its own statement texts (placeholders differ).
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Plan from "./CommitPlan.js"
import type * as Event from "./Event.js"
import * as EventStore from "./EventStore.js"

/** Statement texts: `readAll(after, limit)`, `readTopic(topic, after, limit)`, `get(topic, event_id)`, `counters()`. */
export interface Statements {
  readonly readAll: string
  readonly readTopic: string
  readonly get: string
  readonly counters: string
}

/** A counters row; BIGINT columns may come back as text. */
interface CountersRow {
  readonly topic: string
  readonly unique_processed: number | string
  readonly duplicate_dropped: number | string
  readonly conflicts: number | string
}

/** @since 0.1.0 */
export const reads = (
  sql: SqlClient.SqlClient,
  statements: Statements
): Pick<EventStore.EventStore["Type"], "read" | "get" | "counters" | "ping" | "head" | "lastEventTimes"> => ({
  read: (options) =>
    EventStore.StoreError.refail(
      "read",
      Effect.map(
        options.topic === undefined
          ? sql.unsafe<Plan.StoredRow>(statements.readAll, [options.after, options.limit])
          : sql.unsafe<Plan.StoredRow>(statements.readTopic, [options.topic, options.after, options.limit]),
        (rows) => rows.map(Plan.toStored)
      )
    ),
  get: (key: Event.Key) =>
    EventStore.StoreError.refail(
      "read",
      Effect.map(sql.unsafe<Plan.StoredRow>(statements.get, [key.topic, key.event_id]), (rows) =>
        Option.map(Option.fromNullable(rows[0]), Plan.toStored))
    ),
  counters: EventStore.StoreError.refail(
    "read",
    Effect.map(sql.unsafe<CountersRow>(statements.counters), (rows): EventStore.Counters => ({
      per_topic: new Map(rows.map((r) => [r.topic, {
        unique_processed: Number(r.unique_processed),
        duplicate_dropped: Number(r.duplicate_dropped),
        conflicts: Number(r.conflicts)
      }]))
    }))
  ),
  // One index lookup (events_topic_seq) per topic; the same text in SQLite and PostgreSQL.
  lastEventTimes: EventStore.StoreError.refail(
    "read",
    Effect.map(
      sql.unsafe<{ readonly topic: string; readonly last: string | null }>(
        "SELECT c.topic, (SELECT e.received_at FROM events e WHERE e.topic = c.topic ORDER BY e.seq DESC LIMIT 1) AS last " +
          "FROM topic_counters c"
      ),
      (rows) => {
        const times = new Map<string, string>()
        for (const r of rows) if (r.last !== null) times.set(r.topic, r.last)
        return times
      }
    )
  ),
  ping: EventStore.StoreError.refail("read", Effect.asVoid(sql.unsafe("SELECT 1"))),
  head: EventStore.StoreError.refail(
    "read",
    Effect.map(
      sql.unsafe<{ readonly head: number | string }>("SELECT coalesce(max(seq), 0) AS head FROM events"),
      ([row]) => Number(row?.head ?? 0)
    )
  )
})
