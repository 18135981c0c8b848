/**
 * The dashboard in a real browser (Debian's Chromium through puppeteer-core) against the built
 * server on a free port: numbers equal `/stats`, the chart has points, the live tail shows a
 * publish within 2 s and pausing stops it, the topic filters and key lookup work, and with
 * API_KEY nothing shows before the key, which never appears in a URL. No console error, page
 * error or failed request on the way. (The README's pictures: scripts/screenshots.mjs.)
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Browser } from "puppeteer-core"
import { launch, textWhen, watch } from "./browser.js"
import { type Child, spawnServer } from "./utils.js"

const n = (x: number) => x.toLocaleString("en-US")

const post = async (url: string, body: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`${url}/publish`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body })
  assert.strictEqual(response.status, 200, await response.text())
}

const event = (topic: string, id: string, payload = "{\"n\":1}") =>
  `{"topic":${JSON.stringify(topic)},"event_id":${JSON.stringify(id)},"timestamp":"2025-01-31T12:00:00Z","source":"browser-test","payload":${payload}}`

/** 5 events (1 a duplicate), then 5,000 (1,000 duplicates), over four topics, and one with an int64 payload. */
const publishKnown = async (url: string, headers: Record<string, string> = {}) => {
  const topics = ["orders", "payments", "users", "shipping"]
  await post(url, `[${[0, 1, 2, 3, 0].map((i) => event(topics[i % 4]!, `small-${i}`)).join(",")}]`, headers)
  const big: Array<string> = []
  for (let i = 0; i < 5000; i++) {
    const id = i < 4000 ? i : i - 4000 // the last 1,000 repeat the first 1,000
    big.push(event(topics[id % 4]!, `e-${id}`))
  }
  await post(url, `[${big.join(",")}]`, headers)
  await post(url, `[${event("orders", "big", "{\"id\": 18446744073709551615, \"price\": 0.1000, \"name\": \"caf\\u00e9\"}")}]`, headers)
}

const stats = async (url: string, headers: Record<string, string> = {}) => (await (await fetch(`${url}/stats`, { headers })).json()) as any

const stop = async (child: Child) => {
  child.process.kill("SIGTERM")
  await child.exited
}

describe("dashboard in Chromium", () => {
  let browser: Browser
  let server: Child
  let dir: string
  beforeAll(async () => {
    dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-dashboard-"))
    ;[browser, server] = await Promise.all([launch(), spawnServer({ DEDUP_DB_PATH: Path.join(dir, "dedup.sqlite"), API_KEY: "" })])
    await publishKnown(server.url)
  })
  afterAll(async () => {
    await browser?.close()
    if (server !== undefined) await stop(server)
    Fs.rmSync(dir, { recursive: true, force: true })
  })

  it("the overview's numbers equal /stats after 5 + 5,000 events with 20% duplicates, and the chart has points", async () => {
    const { page, problems } = await watch(browser)
    await page.goto(`${server.url}/`)
    const expected = await stats(server.url)
    assert.strictEqual(expected.received, 5006)
    assert.strictEqual(expected.duplicate_dropped, 1001)
    await textWhen(page, "#received", `text === ${JSON.stringify(n(expected.received))}`)
    const read = async (id: string) => page.$eval(id, (el) => el.textContent ?? "")
    assert.strictEqual(await read("#unique"), n(expected.unique_processed))
    assert.strictEqual(await read("#duplicates"), n(expected.duplicate_dropped))
    assert.strictEqual(await read("#conflicts"), n(expected.conflicts))
    assert.strictEqual(await read("#pending"), n(expected.pending))
    assert.strictEqual(await read("#topics"), n(expected.topics.length))
    assert.strictEqual(await read("#dup-rate"), `${(Math.round((1000 * expected.duplicate_dropped) / expected.received) / 10).toString()}%`)
    assert.strictEqual(await read("#workers"), n(expected.workers))
    assert.strictEqual(await read("#state"), "ready")
    assert.strictEqual(await read("#store"), "sqlite")
    assert.match(await read("#latency"), /^[\d.,]+ \/ [\d.,]+ ms$/)
    // One point a second: a chart with two points has drawn a rate.
    await page.waitForSelector(".chart[data-points]:not([data-points='0']):not([data-points='1']) canvas", { timeout: 10_000 })
    assert.deepStrictEqual(problems, [])
  })

  it("the live tail shows an event within 2 s of its publish; pause stops it, resume goes on after the last one shown", async () => {
    const paused = await watch(browser)
    const live = await watch(browser)
    for (const w of [paused, live]) {
      await w.page.goto(`${server.url}/#tail`)
      await textWhen(w.page, "#tail-state", "text === 'live'")
    }
    const started = Date.now()
    await post(server.url, `[${event("tail", "first")}]`)
    for (const w of [paused, live]) await textWhen(w.page, "#tail-table tbody", "text.includes('first')", 2_000)
    const elapsed = Date.now() - started
    assert.isBelow(elapsed, 2_000)

    // Two pages: only the one in front renders, and a click needs rendering.
    await paused.page.bringToFront()
    await paused.page.click("#tail-pause")
    await textWhen(paused.page, "#tail-state", "text === 'paused'")
    await post(server.url, `[${event("tail", "while-paused")}]`)
    await textWhen(live.page, "#tail-table tbody", "text.includes('while-paused')")
    assert.notInclude(await paused.page.$eval("#tail-table tbody", (el) => el.textContent ?? ""), "while-paused")
    await live.page.bringToFront()

    await paused.page.bringToFront()
    await paused.page.click("#tail-pause")
    await textWhen(paused.page, "#tail-table tbody", "text.includes('while-paused')")
    const rows = await paused.page.$$eval("#tail-table tbody tr td:nth-child(3)", (cells) => cells.map((c) => c.textContent))
    assert.deepStrictEqual(rows, ["while-paused", "first"], "newest first, each once")
    assert.deepStrictEqual([...paused.problems, ...live.problems], [])
  })

  it("the topic filters and the key lookup (found, with every digit; not found) work", async () => {
    const { page, problems } = await watch(browser, (url, status) => status === 404 && url.endsWith("/events/orders/nope"))
    await page.goto(`${server.url}/#topics`)
    await textWhen(page, "#topic-count", "text.startsWith('5 of 5')")
    await page.type("#topic-filter", "pay")
    await textWhen(page, "#topic-count", "text.startsWith('1 of')")
    const shown = await page.$$eval("#topics-table tbody tr td:first-child", (cells) => cells.map((c) => c.textContent))
    assert.deepStrictEqual(shown, ["payments"])

    await page.click("#tab-log")
    await page.waitForSelector("#log-table tbody tr")
    await page.type("#log-topic", "users")
    await page.click("#log-apply")
    await textWhen(page, "#log-table tbody", "text.includes('users') && !text.includes('orders')")
    const topics = new Set(await page.$$eval("#log-table tbody tr td:nth-child(2)", (cells) => cells.map((c) => c.textContent)))
    assert.deepStrictEqual([...topics], ["users"])
    await page.click("#log-next")
    await textWhen(page, "#log-table tbody tr td:first-child", "Number(text) > 50")

    await page.type("#lookup-topic", "orders")
    await page.type("#lookup-id", "big")
    await page.click("#lookup-go")
    const payload = await textWhen(page, "#event-payload", "text.length > 0")
    assert.strictEqual(payload, "{\n  \"id\": 18446744073709551615,\n  \"price\": 0.1000,\n  \"name\": \"caf\\u00e9\"\n}")
    await page.$eval("#lookup-id", (el) => ((el as unknown as { value: string }).value = ""))
    await page.type("#lookup-id", "nope")
    await page.click("#lookup-go")
    await textWhen(page, "#lookup-result", "text.includes('Not found')")

    // A phone-sized window: nothing wider than the screen (tables scroll inside their box), and
    // the views are reachable from the keyboard.
    await page.setViewport({ width: 390, height: 800 })
    for (const view of ["overview", "topics", "log", "tail"]) {
      await page.focus(`#tab-${view}`)
      await page.keyboard.press("Enter")
      await page.waitForSelector(`#${view === "tail" ? "tail" : view}-title`)
      const width = await page.evaluate("document.documentElement.scrollWidth")
      assert.isAtMost(width as number, 390, `${view} fits a 390 px window`)
    }
    assert.deepStrictEqual(problems, [])
  })
})

describe("dashboard with API_KEY", () => {
  const key = "s3cret-dashboard-key"
  let browser: Browser
  let server: Child
  let dir: string
  beforeAll(async () => {
    dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-dashboard-"))
    ;[browser, server] = await Promise.all([launch(), spawnServer({ DEDUP_DB_PATH: Path.join(dir, "dedup.sqlite"), API_KEY: key })])
    await post(server.url, `[${event("secure", "1")}]`, { authorization: `Bearer ${key}` })
  })
  afterAll(async () => {
    await browser?.close()
    if (server !== undefined) await stop(server)
    Fs.rmSync(dir, { recursive: true, force: true })
  })

  it("shows no data before the key, refuses a wrong one, then works; the key is in no URL", async () => {
    const { page, problems, urls } = await watch(browser, (_, status) => status === 401)
    await page.goto(`${server.url}/`)
    await page.waitForSelector("#api-key")
    assert.isNull(await page.$("#received"), "no counters before the key")
    await page.type("#api-key", "wrong-key")
    await page.click("#api-key-go")
    await textWhen(page, "#key-error", "text.includes('refused')")
    await page.$eval("#api-key", (el) => ((el as unknown as { value: string }).value = ""))
    await page.type("#api-key", key)
    await page.click("#api-key-go")
    await textWhen(page, "#received", "text === '1'")

    await page.click("#tab-tail")
    await textWhen(page, "#tail-state", "text === 'live'")
    await post(server.url, `[${event("secure", "2")}]`, { authorization: `Bearer ${key}` })
    await textWhen(page, "#tail-table tbody", "text.includes('secure')")
    assert.isAbove(urls.length, 3)
    assert.deepStrictEqual(urls.filter((u) => u.includes(key) || u.includes(encodeURIComponent(key))), [])
    assert.deepStrictEqual(problems, [])
  })
})
