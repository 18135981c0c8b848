/** The SQLite schema, as @effect/sql Migrator migrations. Append new ones; never edit a shipped one. */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

export const migrations = {
  "0001_create_events": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // seq is the rowid: the log position, assigned in commit order, never reused.
    yield* sql`CREATE TABLE events (
      seq INTEGER PRIMARY KEY,
      topic TEXT NOT NULL,
      event_id TEXT NOT NULL,
      timestamp TEXT NOT NULL,
      source TEXT NOT NULL,
      payload TEXT NOT NULL,
      received_at TEXT NOT NULL
    )`
    yield* sql`CREATE UNIQUE INDEX events_key ON events (topic, event_id)`
    yield* sql`CREATE INDEX events_topic_seq ON events (topic, seq)`
    yield* sql`CREATE TABLE topic_counters (
      topic TEXT PRIMARY KEY,
      unique_processed INTEGER NOT NULL,
      duplicate_dropped INTEGER NOT NULL,
      conflicts INTEGER NOT NULL
    ) WITHOUT ROWID`
  }),
  // Retention (RETENTION / DEDUP_WINDOW): key records of pruned events still inside their dedup
  // window, and what pruning did per topic.
  "0002_retention": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE key_records (
      topic TEXT NOT NULL,
      event_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      hash TEXT NOT NULL,
      received_at TEXT NOT NULL,
      PRIMARY KEY (topic, event_id)
    ) WITHOUT ROWID`
    yield* sql`CREATE INDEX key_records_topic_seq ON key_records (topic, seq)`
    yield* sql`CREATE TABLE topic_retention (
      topic TEXT PRIMARY KEY,
      pruned INTEGER NOT NULL,
      pruned_through INTEGER NOT NULL,
      key_records INTEGER NOT NULL,
      forgotten INTEGER NOT NULL
    ) WITHOUT ROWID`
  }),
  // Idempotency-Key records: the response of a keyed publish, written by the commit of its events.
  "0003_idempotency_keys": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE idempotency_keys (
      scope TEXT NOT NULL,
      key TEXT NOT NULL,
      fingerprint TEXT NOT NULL,
      status INTEGER NOT NULL,
      body TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      PRIMARY KEY (scope, key)
    ) WITHOUT ROWID`
    yield* sql`CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at)`
  })
}
