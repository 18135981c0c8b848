import { assert, describe, it } from "@effect/vitest"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Api from "../src/Api.js"

const src = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "../src")

describe("@event-aggregator/api", () => {
  it("imports nothing but effect, @effect/platform and its own modules (a client installs only those)", () => {
    const imported = new Set<string>()
    const walk = (dir: string): void => {
      for (const entry of Fs.readdirSync(dir, { withFileTypes: true })) {
        const file = Path.join(dir, entry.name)
        if (entry.isDirectory()) walk(file)
        else for (const m of Fs.readFileSync(file, "utf8").matchAll(/from "([^"]+)"/g)) imported.add(m[1]!)
      }
    }
    walk(src)
    const foreign = [...imported].filter((m) => !m.startsWith(".") && !/^(effect|@effect\/platform)(\/|$)/.test(m))
    assert.deepStrictEqual(foreign, [])
    assert.isAbove(imported.size, 3)
  })

  it("describes every route in its OpenAPI document", () => {
    const spec = OpenApi.fromApi(Api.Api)
    assert.includeMembers(Object.keys(spec.paths), [
      "/publish",
      "/events",
      "/events/stream",
      "/events/{topic}/{event_id}",
      "/stats",
      "/health",
      "/ready",
      "/metrics",
      "/dashboard/overview",
      "/dashboard/topics"
    ])
  })
})
