/**
 * A real browser for the dashboard tests: Debian's Chromium (`apt-get install chromium`; `.ci/run`
 * installs it) driven by puppeteer-core, which downloads nothing. Every page records what would
 * be a bug: console errors, page errors, failed requests, answers of 400 and up, and every URL.
 */
import * as Fs from "node:fs"
import { type Browser, launch as launchBrowser, type Page } from "puppeteer-core"

/** The system Chromium (CHROMIUM_PATH overrides). */
export const chromiumPath = (): string => {
  const candidates = [process.env["CHROMIUM_PATH"], "/usr/bin/chromium", "/usr/bin/chromium-browser"]
  const found = candidates.find((p) => p !== undefined && p !== "" && Fs.existsSync(p))
  if (found === undefined) throw new Error("no Chromium: apt-get install -y chromium (or set CHROMIUM_PATH)")
  return found
}

export const launch = (): Promise<Browser> =>
  launchBrowser({
    executablePath: chromiumPath(),
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
  })

export interface Watched {
  readonly page: Page
  /** Console errors, page errors, failed requests and 4xx/5xx answers, as lines. */
  readonly problems: Array<string>
  /** Every URL the page requested. */
  readonly urls: Array<string>
}

/**
 * A new page that records its problems. `expected(url, status)` says which error answers are the
 * test's own doing (a lookup of a missing key, a request before the key was given).
 */
export const watch = async (browser: Browser, expected: (url: string, status: number) => boolean = () => false): Promise<Watched> => {
  const page = await browser.newPage()
  await page.setViewport({ width: 1280, height: 900 })
  const problems: Array<string> = []
  const urls: Array<string> = []
  page.on("console", (m) => {
    // Chromium also logs each error answer; the "response" handler below judges those.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource: the server responded with a status of")) {
      problems.push(`console: ${m.text()}`)
    }
  })
  page.on("pageerror", (e) => problems.push(`page error: ${e instanceof Error ? e.message : String(e)}`))
  page.on("request", (r) => urls.push(r.url()))
  page.on("requestfailed", (r) => {
    // A live tail that stops (pause, another view) aborts its stream: that is the page's own doing.
    if (r.failure()?.errorText === "net::ERR_ABORTED" && r.url().includes("/events/stream")) return
    problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`)
  })
  page.on("response", (r) => {
    if (r.status() >= 400 && !expected(r.url(), r.status())) problems.push(`answer ${r.status()}: ${r.url()}`)
  })
  return { page, problems, urls }
}

/** The text of `selector` once it satisfies `predicate` (polling in the page, up to `timeout`). */
export const textWhen = async (page: Page, selector: string, predicate: string, timeout = 10_000): Promise<string> => {
  await page.waitForFunction(
    `(() => { const el = document.querySelector(${JSON.stringify(selector)}); if (!el) return false; const text = el.textContent; return ${predicate} })()`,
    { timeout, polling: 50 }
  )
  return page.$eval(selector, (el) => el.textContent ?? "")
}
