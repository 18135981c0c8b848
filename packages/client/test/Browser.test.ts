// The Promise facade in a real browser (Debian's Chromium through puppeteer-core): bundled for the
// browser by esbuild (so nothing of Node may be imported), loaded into a page of the server's own
// origin, then publish, read back an int64 payload exactly, follow as an async iterable, and a
// tagged rejection. No console error, page error or failed request on the way.
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { build } from "esbuild"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import type { Browser } from "puppeteer-core"
import { launch, watch } from "../../server/test/browser.js"
import { quiet, startServer } from "../../server/test/utils.js"

const packages = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")

/** `@event-aggregator/client/promise` as one browser script defining `EventAggregator`. */
const bundle = async (): Promise<string> => {
  const result = await build({
    entryPoints: [Path.join(packages, "client/src/promise.ts")],
    alias: { "@event-aggregator/api": Path.join(packages, "api/src") },
    bundle: true,
    write: false,
    platform: "browser",
    format: "iife",
    globalName: "EventAggregator",
    target: ["chrome109", "firefox115", "safari16"],
    logLevel: "silent"
  })
  return result.outputFiles[0]!.text
}

describe("createClient in Chromium", () => {
  let browser: Browser
  let script: string
  let url: string
  let scope: Scope.CloseableScope
  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    ;[browser, script, url] = await Promise.all([
      launch(),
      bundle(),
      Effect.runPromise(startServer().pipe(Effect.provide(quiet), Scope.extend(scope))).then((s) => s.url)
    ])
  })
  afterAll(async () => {
    await browser?.close()
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("publishes, reads an int64 back exactly, follows, and rejects with tagged errors", async () => {
    // The 422 is the test's own invalid event; the favicon is the browser's (a page of JSON has none).
    const { page, problems } = await watch(
      browser,
      (u, status) => (status === 422 && u.includes("/publish")) || (status === 404 && u.endsWith("/favicon.ico"))
    )
    await page.goto(`${url}/health`)
    await page.addScriptTag({ content: script })
    const topic = `browser-${Date.now()}`
    const out = await page.evaluate(async (topic: string, origin: string) => {
      // The page's own globals: what the bundle defined.
      const { createClient } = (globalThis as any).EventAggregator
      const client = createClient({ url: origin })
      const event = (id: string, payload: unknown) => ({ topic, event_id: id, timestamp: "2025-01-31T12:00:00Z", source: "browser", payload })
      const published = await client.publish([event("1", "{\"id\": 18446744073709551615}"), event("2", { n: 2 })])
      const got = await client.get(topic, "1")
      const page = await client.events({ topic })
      const followed: Array<string> = []
      for await (const e of client.follow({ topic, after: 0 })) {
        followed.push(`${e.event_id}:${e.payload}`)
        if (followed.length === 2) break
      }
      const rejected = await client.publish({ ...event("3", {}), timestamp: "yesterday" }).catch((e: any) => ({ tag: e._tag, isError: e instanceof (globalThis as any).EventAggregator.InvalidEvents, paths: e.issues.map((i: any) => i.path) }))
      const stats = await client.stats()
      await client.close()
      return { accepted: published.accepted, got: got.payload, page: page.events.map((e: any) => e.payload), followed, rejected, unique: stats.per_topic[topic].unique_processed }
    }, topic, url)
    assert.deepStrictEqual(out, {
      accepted: 2,
      got: "{\"id\": 18446744073709551615}",
      page: ["{\"id\": 18446744073709551615}", "{\"n\":2}"],
      followed: ["1:{\"id\": 18446744073709551615}", "2:{\"n\":2}"],
      rejected: { tag: "InvalidEvents", isError: true, paths: ["timestamp"] },
      unique: 2
    })
    assert.deepStrictEqual(problems, [])
    await page.close()
  })
})
