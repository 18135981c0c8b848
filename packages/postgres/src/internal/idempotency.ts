/**
 * The PostgreSQL store's `Idempotency-Key` records, shared by every instance. Claiming a key inserts
 * a claim row (or takes over one older than a minute, or an expired record): a retry that lands on
 * another instance while the first is in flight is told so (409), and once the first has committed
 * it finds the record. The record itself is written by the commit of the request's events, in its
 * transaction.
 */
import { EventStore, Idempotency } from "@event-aggregator/core"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"

/** A claim older than this is taken over (its instance died or lost its database). */
export const STALE_CLAIM_SECONDS = 60

const CLAIM = `INSERT INTO idempotency_keys AS k (scope, key, claim, claimed_at, expires_at)
VALUES ($1, $2, $3, now(), $4)
ON CONFLICT (scope, key) DO UPDATE SET
  claim = excluded.claim, claimed_at = now(), fingerprint = NULL, status = NULL, body = NULL, expires_at = excluded.expires_at
WHERE (k.body IS NULL AND k.claimed_at < now() - interval '${STALE_CLAIM_SECONDS} seconds')
   OR (k.body IS NOT NULL AND k.expires_at <= $5)
RETURNING k.claim`

const FIND = "SELECT fingerprint, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2"

const RELEASE = "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND body IS NULL AND claim = $3"

const WRITE = `INSERT INTO idempotency_keys AS k (scope, key, fingerprint, status, body, expires_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::bigint[])
ON CONFLICT (scope, key) DO UPDATE SET
  claim = NULL, fingerprint = excluded.fingerprint, status = excluded.status, body = excluded.body, expires_at = excluded.expires_at`

const PURGE = `DELETE FROM idempotency_keys WHERE (scope, key) IN (
  SELECT scope, key FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2
) RETURNING 1 AS gone`

/** Writes the records of `pending` given the outcomes of their group (in the caller's transaction). */
export const write = (
  sql: SqlClient.SqlClient,
  pending: ReadonlyArray<Idempotency.Pending>,
  outcomes: ReadonlyArray<EventStore.Outcome>
) => {
  const records = pending.map((p) => ({ p, record: Idempotency.recordOf(p, outcomes) }))
  return Effect.asVoid(sql.unsafe(WRITE, [
    records.map(({ p }) => p.scope),
    records.map(({ p }) => p.key),
    records.map(({ record }) => record.fingerprint),
    records.map(({ record }) => record.status),
    records.map(({ record }) => record.body),
    records.map(({ p }) => p.expiresAt)
  ]))
}

const id = Idempotency.keyId

/** An abandoned claim (its instance died) is deleted after this long, if no retry took it over. */
const CLAIM_TTL_MILLIS = Idempotency.DEFAULT_TTL_MILLIS

/**
 * The records on the store's pool, and `committed`: forgets this process's claims of keys whose
 * records a commit wrote.
 */
export const make = (sql: SqlClient.SqlClient) => {
  // This process's claims, by key: released only by the request that holds them.
  const claims = new Map<string, string>()
  const committed = (pending: ReadonlyArray<Idempotency.Key>) =>
    Effect.sync(() => {
      for (const key of pending) claims.delete(id(key))
    })
  const records: EventStore.IdempotencyRecords = {
    claim: (key, now) =>
      EventStore.StoreError.refail("read", Effect.gen(function*() {
        const token = Crypto.randomUUID()
        const claimed = yield* sql.unsafe(CLAIM, [key.scope, key.key, token, now + CLAIM_TTL_MILLIS, now])
        if (claimed.length > 0) {
          claims.set(id(key), token)
          return { _tag: "Claimed" } as const
        }
        const [row] = yield* sql.unsafe<{ fingerprint: string | null; status: number | null; body: string | null }>(FIND, [
          key.scope,
          key.key
        ])
        if (row === undefined) return { _tag: "InFlight" } as const // purged in between: a retry claims it
        return row.body === null || row.fingerprint === null || row.status === null
          ? { _tag: "InFlight" } as const
          : { _tag: "Stored", stored: { fingerprint: row.fingerprint, status: row.status, body: row.body } } as const
      })),
    release: (key) =>
      Effect.suspend(() => {
        const token = claims.get(id(key))
        claims.delete(id(key))
        return token === undefined
          ? Effect.void
          : EventStore.StoreError.refail("append", Effect.asVoid(sql.unsafe(RELEASE, [key.scope, key.key, token])))
      }),
    purge: (now, limit) => EventStore.StoreError.refail("append", Effect.map(sql.unsafe(PURGE, [now, limit]), (rows) => rows.length))
  }
  return { records, committed }
}
