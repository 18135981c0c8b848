// The storage ceilings: raw better-sqlite3 (bench/lib/raw-sqlite.mjs, in its own process) and raw pg.
import { Client } from "pg"
import { execFile } from "node:child_process"
import * as Path from "node:path"
import { root, SYNCHRONOUS } from "./args.mjs"
import { batchEvents } from "./traffic.mjs"

/** The server's default page cache (SqliteEventStore.DEFAULT_CACHE_SIZE): every SQLite ceiling uses it too. */
export const SERVER_CACHE = 64 * 2 ** 20

/**
 * Raw better-sqlite3 on `db` (a fresh file): `source` is { file } (an NDJSON file) or
 * { run, keys, requests } (case 2's requests 0..requests-1). Resolves { events, inserted,
 * seconds, eventsPerSecond, tx, cache }.
 */
export const rawSqlite = (db, source, { tx = 10_000, cache = SERVER_CACHE } = {}) =>
  new Promise((resolve, reject) => {
    const input = source.file !== undefined
      ? ["--file", source.file]
      : ["--traffic", source.run, "--keys", source.keys, "--requests", String(source.requests)]
    execFile(process.execPath, [Path.join(root, "bench/lib/raw-sqlite.mjs"), ...input, "--db", db, "--tx", String(tx), "--cache", String(cache)], {
      env: { ...process.env, SQLITE_SYNCHRONOUS: SYNCHRONOUS },
      maxBuffer: 1 << 20
    }, (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout))))
  })

// PostgreSQL: a fresh schema per subject; the ceiling is raw pg on one connection.
export const PG_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const pgSchemas = []
const pgAdmin = async (f) => {
  const client = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}
/** A fresh schema named after `name`; the URL that uses it. Dropped by dropPgSchemas. */
export const pgSchema = async (name) => {
  const schema = `ea_bench_${name}_${process.pid}`
  await pgAdmin((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`))
  pgSchemas.push(schema)
  const url = new URL(PG_URL)
  url.searchParams.set("options", `-c search_path=${schema}`)
  return url.toString()
}
export const dropPgSchemas = () =>
  pgSchemas.length === 0
    ? Promise.resolve()
    : pgAdmin((c) => c.query(`DROP SCHEMA IF EXISTS ${pgSchemas.join(", ")} CASCADE`)).catch(() => {})
export const pgReachable = () => pgAdmin((c) => c.query("SELECT 1")).then(() => true, () => false)

/** Raw pg: INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING of 10,000-row batches, one connection. */
export const rawPg = async (requests) => {
  const url = await pgSchema("raw")
  const client = new Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`CREATE TABLE events (seq BIGSERIAL PRIMARY KEY, topic TEXT NOT NULL, event_id TEXT NOT NULL,
      timestamp TEXT NOT NULL, source TEXT NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL,
      UNIQUE (topic, event_id)); CREATE INDEX ON events (topic, seq)`)
    const all = []
    for (let i = 0; i < requests; i++) all.push(...batchEvents("raw", i))
    const t0 = performance.now()
    for (let i = 0; i < all.length; i += 10_000) {
      const rows = all.slice(i, i + 10_000)
      await client.query(
        `INSERT INTO events (topic, event_id, timestamp, source, payload, received_at)
         SELECT *, now()::text FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
         ON CONFLICT DO NOTHING`,
        [rows.map((e) => e.topic), rows.map((e) => e.event_id), rows.map((e) => e.timestamp), rows.map((e) => e.source), rows.map((e) => JSON.stringify(e.payload))]
      )
    }
    return all.length / ((performance.now() - t0) / 1000)
  } finally {
    await client.end()
  }
}
