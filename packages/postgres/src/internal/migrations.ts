/** The PostgreSQL store's schema: tables, the commit lock's key and the locked commit statement. */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

// High half of the commit lock's key ("EAgg"); the low half is the events table's OID, so stores
// in different schemas of one database do not wait on each other.
const LOCK_CLASS = 0x45_41_67_67

/** The events table's columns, in the order reads return them. */
export const COLUMNS = "seq, topic, event_id, timestamp, source, payload, received_at"

/** SQLSTATE of `event_aggregator_commit` when a key it was told is new is already stored. */
export const STALE_PLAN = "EA409"

/**
 * The commit statement's SQL (0002 created it; 0003 replaced it to announce each commit). `notify`
 * is the channel every commit's seq range is announced on, `from,to`; undefined announces nothing.
 */
const commitFunction = (create: "CREATE" | "CREATE OR REPLACE", key: string, notify: string | undefined): string =>
  `${create} FUNCTION event_aggregator_commit(
      p_group uuid, p_topics text[], p_event_ids text[], p_timestamps text[], p_sources text[], p_payloads text[], p_received_at text,
      p_counter_topics text[], p_unique bigint[], p_duplicate bigint[], p_conflict bigint[]
    ) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $fn$
    DECLARE
      first_seq bigint;
      stored bigint;
    BEGIN
      PERFORM pg_advisory_xact_lock(${key});
      SELECT coalesce(max(seq), 0) + 1 INTO first_seq FROM events;
      INSERT INTO events (${COLUMNS})
        SELECT first_seq + r.n - 1, r.t, r.i, r.ts, r.src, r.p, p_received_at
        FROM unnest(p_topics, p_event_ids, p_timestamps, p_sources, p_payloads) WITH ORDINALITY AS r(t, i, ts, src, p, n)
        ON CONFLICT DO NOTHING;
      GET DIAGNOSTICS stored = ROW_COUNT;
      IF stored <> coalesce(cardinality(p_topics), 0) THEN
        RAISE EXCEPTION 'a key planned as new is already stored' USING ERRCODE = '${STALE_PLAN}';
      END IF;
      INSERT INTO topic_counters (topic, unique_processed, duplicate_dropped, conflicts)
        SELECT * FROM unnest(p_counter_topics, p_unique, p_duplicate, p_conflict)
        ON CONFLICT (topic) DO UPDATE SET
          unique_processed = topic_counters.unique_processed + excluded.unique_processed,
          duplicate_dropped = topic_counters.duplicate_dropped + excluded.duplicate_dropped,
          conflicts = topic_counters.conflicts + excluded.conflicts;
      INSERT INTO commit_groups (id, first_seq) VALUES (p_group, first_seq);${
    notify === undefined
      ? ""
      : `
      IF stored > 0 THEN
        PERFORM pg_notify('${notify}', first_seq::text || ',' || (first_seq + stored - 1)::text);
      END IF;`
  }
      IF random() < 0.001 THEN
        DELETE FROM commit_groups WHERE committed_at < now() - interval '1 hour';
      END IF;
      RETURN first_seq;
    END
    $fn$`

/** The key of this schema's commit lock (a number, checked before it goes into SQL text). */
const lockKey = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql.unsafe<{ readonly key: string }>(
    `SELECT ((${LOCK_CLASS}::bigint << 32) | 'events'::regclass::oid::bigint)::text AS key`
  )
  if (row === undefined) return yield* Effect.dieMessage("no events table")
  return BigInt(row.key).toString()
})

/** Run in order of their number by `Migrator.fromRecord`; a shipped one is never edited, a change is the next one. */
export const migrations = {
  "0001_create_events": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE events (
      seq BIGINT PRIMARY KEY,
      topic TEXT NOT NULL,
      event_id TEXT NOT NULL,
      timestamp TEXT NOT NULL,
      source TEXT NOT NULL,
      payload TEXT NOT NULL,
      received_at TEXT NOT NULL,
      CONSTRAINT events_key UNIQUE (topic, event_id)
    )`
    yield* sql`CREATE INDEX events_topic_seq ON events (topic, seq)`
    yield* sql`CREATE TABLE topic_counters (
      topic TEXT PRIMARY KEY,
      unique_processed BIGINT NOT NULL,
      duplicate_dropped BIGINT NOT NULL,
      conflicts BIGINT NOT NULL
    )`
  }),
  // The whole locked step in one round trip. A VOLATILE function gives each statement a fresh
  // snapshot, so max(seq) is read after the lock is held and sees every earlier commit.
  "0002_commit_function": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const key = yield* lockKey
    // The advisory lock key of this schema's commit step: `SELECT pg_advisory_lock(event_aggregator_commit_lock())`
    // in psql pauses every instance's commits until that session unlocks or ends.
    yield* sql.unsafe(`CREATE FUNCTION event_aggregator_commit_lock() RETURNS bigint LANGUAGE sql IMMUTABLE AS $fn$ SELECT ${key}::bigint $fn$`)
    // Each commit records its group's id: when the reply to a commit is lost, the client asks
    // whether that group committed instead of guessing (kept an hour, pruned now and then).
    yield* sql`CREATE TABLE commit_groups (
      id UUID PRIMARY KEY,
      first_seq BIGINT NOT NULL,
      committed_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`
    yield* sql.unsafe(commitFunction("CREATE", key, undefined))
  }),
  // Each commit announces its seq range, so followers on every instance learn of it at once.
  "0003_commit_notify": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const key = yield* lockKey
    const channel = `event_aggregator_${key}`
    yield* sql.unsafe(
      `CREATE FUNCTION event_aggregator_commit_channel() RETURNS text LANGUAGE sql IMMUTABLE AS $fn$ SELECT '${channel}'::text $fn$`
    )
    yield* sql.unsafe(commitFunction("CREATE OR REPLACE", key, channel))
  }),
  // Retention (RETENTION / DEDUP_WINDOW): key records of pruned events still inside their dedup
  // window, and what pruning did per topic.
  "0004_retention": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE key_records (
      topic TEXT NOT NULL,
      event_id TEXT NOT NULL,
      seq BIGINT NOT NULL,
      hash TEXT NOT NULL,
      received_at TEXT NOT NULL,
      PRIMARY KEY (topic, event_id)
    )`
    yield* sql`CREATE INDEX key_records_topic_seq ON key_records (topic, seq)`
    yield* sql`CREATE TABLE topic_retention (
      topic TEXT PRIMARY KEY,
      pruned BIGINT NOT NULL,
      pruned_through BIGINT NOT NULL,
      key_records BIGINT NOT NULL,
      forgotten BIGINT NOT NULL
    )`
  }),
  // Idempotency-Key records. A row without a body is a claim: a request holding the key on some
  // instance (taken over when older than a minute); the commit of its events writes the body.
  "0005_idempotency_keys": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE idempotency_keys (
      scope TEXT NOT NULL,
      key TEXT NOT NULL,
      claim UUID,
      claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      fingerprint TEXT,
      status INTEGER,
      body TEXT,
      expires_at BIGINT NOT NULL,
      PRIMARY KEY (scope, key)
    )`
    yield* sql`CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at)`
  })
}
