// The CLI's local commands on the PostgreSQL store: flags and environment, same as `serve`.
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Redacted from "effect/Redacted"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { available, dropSchemas, freshSchema, urlFor } from "./utils.js"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")
const cliJs = Path.join(root, "packages/cli/dist/event-aggregator.js")

const reachable = await available()
afterAll(dropSchemas)

const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    ChildProcess.execFile(process.execPath, [cliJs, ...args], {
      timeout: 60_000,
      env: { ...withoutStoreEnv(), ...env }
    }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr })))

const withoutStoreEnv = () => {
  const { DATABASE_URL: _url, EVENT_STORE: _store, ...rest } = process.env
  return rest
}

const line = (event_id: string, payload: unknown) =>
  JSON.stringify({ topic: "cli", event_id, timestamp: "2025-01-31T12:00:00Z", source: "test", payload })

describe.skipIf(!reachable)("the CLI on PostgreSQL", () => {
  it("ingest, stats and events with --store postgres --database-url, and with EVENT_STORE/DATABASE_URL", async () => {
    const url = Redacted.value(urlFor(await freshSchema("ea_cli")))
    const file = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "ea-cli-pg-")), "events.ndjson")
    Fs.writeFileSync(file, [
      line("1", { v: 1 }),
      line("2", { v: 2 }),
      line("1", { v: 1 }), // duplicate
      line("2", { v: 9 }), // conflict
      JSON.stringify({ topic: "cli" }) // invalid
    ].join("\n") + "\n")
    const store = ["--store", "postgres", "--database-url", url]

    const first = await cli(["ingest", "--quiet", ...store, file])
    assert.strictEqual(first.code, 1, first.stderr) // one record rejected
    assert.include(first.stdout, "read 5, accepted 2, duplicates 2, conflicts 1, rejected 1")
    assert.include(first.stderr, "events.ndjson:5: event_id")

    const again = await cli(["ingest", "--quiet", ...store, file])
    assert.include(again.stdout, "accepted 0, duplicates 4, conflicts 1")

    const stats = JSON.parse((await cli(["stats", ...store, "--json"])).stdout)
    assert.deepStrictEqual(
      [stats.unique_processed, stats.duplicate_dropped, stats.conflicts, stats.received],
      [2, 6, 2, 8]
    )
    // The environment chooses the same store when no flag does.
    const viaEnv = await cli(["events", "--json"], { EVENT_STORE: "postgres", DATABASE_URL: url })
    assert.strictEqual(viaEnv.code, 0, viaEnv.stderr)
    const page = JSON.parse(viaEnv.stdout)
    assert.deepStrictEqual(page.events.map((e: any) => [e.seq, e.event_id, e.payload]), [[1, "1", { v: 1 }], [2, "2", { v: 2 }]])

    const missing = await cli(["stats", "--store", "postgres"])
    assert.strictEqual(missing.code, 1)
    assert.include(missing.stderr + missing.stdout, "DATABASE_URL")
  }, 120_000)
})
