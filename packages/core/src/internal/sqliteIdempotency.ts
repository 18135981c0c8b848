/**
 * The SQLite store's `Idempotency-Key` records: written in the commit's transaction (on the writer
 * thread or inline), read and purged on the store's connection. One writer process per file, so a
 * key is never in flight elsewhere: the Aggregator keeps a process's keys one request at a time.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as EventStore from "../EventStore.js"
import * as Idempotency from "../Idempotency.js"

const INSERT = `INSERT OR REPLACE INTO idempotency_keys (scope, key, fingerprint, status, body, expires_at)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?)`

const FIND = "SELECT fingerprint, status, body FROM idempotency_keys WHERE scope = ? AND key = ? AND expires_at > ?"

const PURGE = `DELETE FROM idempotency_keys WHERE (scope, key) IN (
  SELECT scope, key FROM idempotency_keys WHERE expires_at <= ? LIMIT ?
) RETURNING 1 AS gone`

/** Writes the records of `pending` given the outcomes of the group they belong to (in the caller's transaction). */
export const write = (
  sql: SqlClient.SqlClient,
  pending: ReadonlyArray<Idempotency.Pending>,
  outcomes: ReadonlyArray<EventStore.Outcome>
): Effect.Effect<void, unknown> =>
  Effect.asVoid(sql.unsafe(INSERT, [
    JSON.stringify(pending.map((p) => {
      const record = Idempotency.recordOf(p, outcomes)
      return [p.scope, p.key, record.fingerprint, record.status, record.body, p.expiresAt]
    }))
  ]))

/** The records on the store's connection. */
export const records = (sql: SqlClient.SqlClient): EventStore.IdempotencyRecords => ({
  claim: (key, now) =>
    EventStore.StoreError.refail("read", Effect.map(
      sql.unsafe<Idempotency.Stored>(FIND, [key.scope, key.key, now]),
      ([row]): Idempotency.Claim => row === undefined ? { _tag: "Claimed" } : { _tag: "Stored", stored: row }
    )),
  release: () => Effect.void,
  purge: (now, limit) =>
    EventStore.StoreError.refail("append", Effect.map(sql.unsafe(PURGE, [now, limit]), (rows) => rows.length))
})
