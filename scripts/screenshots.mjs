// The README's dashboard pictures: starts the built server on a free port with a fresh SQLite
// file, publishes a varying load with duplicates over 12 topics for SECONDS (default 90), then
// saves a screenshot of each view to docs/ with Debian's Chromium (CHROMIUM_PATH overrides).
// Usage: npm run build && node scripts/screenshots.mjs [SECONDS]
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { launch } from "puppeteer-core"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const seconds = Number(process.argv[2] ?? 90)
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "ea-screenshots-"))
const server = spawn(process.execPath, [Path.join(root, "packages/server/dist/main.bundle.js")], {
  env: { ...process.env, PORT: "0", HOST: "127.0.0.1", DEDUP_DB_PATH: Path.join(dir, "dedup.sqlite"), API_KEY: "" },
  stdio: ["ignore", "pipe", "inherit"]
})
const url = await new Promise((resolve, reject) => {
  let out = ""
  server.stdout.on("data", (c) => {
    out += c
    const m = /Listening on http:\/\/[^:]+:(\d+)/.exec(out)
    if (m) resolve(`http://127.0.0.1:${m[1]}`)
  })
  server.once("exit", (code) => reject(new Error(`server exited ${code}`)))
})
const topics = ["orders", "payments", "users", "shipping", "invoices", "refunds", "carts", "reviews", "search", "emails", "audit", "metrics"]
let id = 0
const publish = async (count) => {
  const events = Array.from({ length: count }, () => {
    // One in five is a re-send of a recent event (a duplicate); now and then one with other content (a conflict).
    const again = id > 100 && Math.random() < 0.2
    const n = again ? id - 1 - Math.floor(Math.random() * 100) : id++
    return {
      topic: topics[n % topics.length],
      event_id: `evt-${n}`,
      timestamp: new Date(Date.UTC(2026, 11, 1, 9, 0, 0) + n * 1000).toISOString(),
      source: "screenshots",
      payload: { n, amount: (n * 7) % 1000, id: "9223372036854775807", conflict: again && Math.random() < 0.02 }
    }
  })
  await fetch(`${url}/publish`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(events) })
}
// The load goes on while the pictures are taken, so the rates are live.
const started = Date.now()
let loading = true
const load = (async () => {
  while (loading) {
    const t = (Date.now() - started) / 1000
    await publish(Math.round(200 + 150 * Math.sin(t / 8) + Math.random() * 50))
    await new Promise((r) => setTimeout(r, 100))
  }
})()
await new Promise((r) => setTimeout(r, seconds * 1000))
const chromium = [process.env.CHROMIUM_PATH, "/usr/bin/chromium"].find((p) => p && Fs.existsSync(p))
const browser = await launch({ executablePath: chromium, headless: true, args: ["--no-sandbox", "--disable-gpu"] })
try {
  const page = await browser.newPage()
  await page.setViewport({ width: 1280, height: 900 })
  await page.goto(`${url}/#overview`)
  await page.waitForSelector(".chart canvas")
  await page.waitForFunction("document.querySelector('#received')?.textContent !== '–'")
  await new Promise((r) => setTimeout(r, 1500)) // a picture, not a test: let a poll or two draw
  await page.screenshot({ path: Path.join(root, "docs/dashboard-overview.png") })
  await page.goto(`${url}/#topics`)
  await page.waitForSelector("#topics-table tbody tr")
  await page.screenshot({ path: Path.join(root, "docs/dashboard-topics.png") })
  await page.goto(`${url}/#log`)
  await page.waitForSelector("#log-table tbody tr")
  await page.type("#lookup-topic", "orders")
  await page.type("#lookup-id", "evt-0")
  await page.click("#lookup-go")
  await page.waitForSelector("#event-payload")
  await page.screenshot({ path: Path.join(root, "docs/dashboard-log.png") })
  await page.goto(`${url}/#tail`)
  await page.waitForFunction("document.querySelector('#tail-state')?.textContent === 'live'")
  await page.waitForSelector("#tail-table tbody tr:nth-child(20)")
  await page.screenshot({ path: Path.join(root, "docs/dashboard-tail.png") })
} finally {
  loading = false
  await load
  await browser.close()
  server.kill("SIGTERM")
  Fs.rmSync(dir, { recursive: true, force: true })
}
