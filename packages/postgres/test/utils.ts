/** PostgreSQL for tests: a fresh schema per use, dropped afterwards; skipped (visibly) without a server, unless CI. */
import * as Redacted from "effect/Redacted"
import { Client } from "pg"

export const baseUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

/** The URL of `schema` on the test database (search_path set per connection). */
export const urlFor = (schema: string): Redacted.Redacted<string> =>
  Redacted.make(`${baseUrl}${baseUrl.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`)

const admin = async <A>(f: (client: Client) => Promise<A>): Promise<A> => {
  const client = new Client({ connectionString: baseUrl, connectionTimeoutMillis: 3000 })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

/** Whether the test database answers; in CI an unreachable server is an error, not a skip. */
export const available = async (): Promise<boolean> => {
  try {
    await admin((c) => c.query("SELECT 1"))
    return true
  } catch (error) {
    if (process.env.CI === "true") {
      throw new Error(`PostgreSQL at ${baseUrl} is unreachable in CI: ${String(error)}`, { cause: error })
    }
    // oxlint-disable-next-line no-console -- the visible skip message
    console.warn(`SKIPPING PostgreSQL tests: ${baseUrl} is unreachable (${String(error)})`)
    return false
  }
}

let counter = 0
const created: Array<string> = []

/** Creates a fresh, empty schema and returns its name. */
export const freshSchema = async (prefix = "ea_test"): Promise<string> => {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`
  await admin((c) => c.query(`CREATE SCHEMA ${name}`))
  created.push(name)
  return name
}

/** Creates `name` if missing (for reopening the same store). */
export const ensureSchema = async (name: string): Promise<void> => {
  await admin((c) => c.query(`CREATE SCHEMA IF NOT EXISTS ${name}`))
  if (!created.includes(name)) created.push(name)
}

/** Drops every schema this test file created. */
export const dropSchemas = async (): Promise<void> => {
  const names = created.splice(0)
  if (names.length > 0) await admin((c) => c.query(`DROP SCHEMA IF EXISTS ${names.join(", ")} CASCADE`))
}
