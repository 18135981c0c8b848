// Helpers of the CLI tests: the built bin as a child process, and a fake server on node:http.
import * as ChildProcess from "node:child_process"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export const bin = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../bin/event-aggregator.js")

export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the built `event-aggregator` with `args` (API_KEY unset); resolves when it exits. */
export const cli = (args: ReadonlyArray<string>, options: { readonly input?: string; readonly cwd?: string } = {}) =>
  new Promise<Result>((resolve) => {
    const child = ChildProcess.execFile(
      process.execPath,
      [bin, ...args],
      { cwd: options.cwd, timeout: 60_000, env: { ...process.env, API_KEY: "" } },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr })
    )
    if (options.input !== undefined) child.stdin!.end(options.input)
    else child.stdin!.end()
  })

/** The built bin running in the background (`events --follow`). */
export interface Running {
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves once stdout holds `n` whole lines; rejects if the process exits first. */
  readonly lines: (n: number) => Promise<void>
  /** Resolves once `ready(stdout, stderr)` holds; rejects if the process exits first. */
  readonly until: (ready: (stdout: string, stderr: string) => boolean) => Promise<void>
  /** Sends `signal` and resolves with the exit. */
  readonly stop: (signal: NodeJS.Signals) => Promise<Result>
  readonly exited: Promise<Result>
}

const running = new Set<ChildProcess.ChildProcess>()

/** Kills every process `spawnCli` started that is still running (after a failed test). */
export const killRunning = () => {
  for (const child of running) child.kill("SIGKILL")
}

/** Starts the built `event-aggregator` with `args` (API_KEY unset) without waiting for it. */
export const spawnCli = (args: ReadonlyArray<string>): Running => {
  const child = ChildProcess.spawn(process.execPath, [bin, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, API_KEY: "" }
  })
  running.add(child)
  let stdout = ""
  let stderr = ""
  const waiting: Array<() => void> = []
  const wake = () => {
    for (const f of waiting.splice(0)) f()
  }
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    stdout += c
    wake()
  })
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c
    wake()
  })
  let done = false
  const exited = new Promise<Result>((resolve) =>
    child.once("close", (code) => {
      running.delete(child)
      done = true
      resolve({ code, stdout, stderr })
      wake()
    })
  )
  const until = (ready: (stdout: string, stderr: string) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (ready(stdout, stderr)) resolve()
        else if (done) reject(new Error(`exited before it was ready:\n${stdout}\n${stderr}`))
        else waiting.push(check)
      }
      check()
    })
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    lines: (n) => until((out) => out.split("\n").length - 1 >= n),
    until,
    stop: (signal) => {
      child.kill(signal)
      return exited
    },
    exited
  }
}

export interface Request {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly body: string
  /** `performance.now()` when the request had been read. */
  readonly at: number
}

export interface Answer {
  readonly status: number
  readonly headers?: Record<string, string>
  /** Sent as is when a string (JSON text), else JSON.stringify'd. */
  readonly body: unknown
}

export interface Fake {
  readonly url: string
  /** Every request so far, in arrival order. */
  readonly requests: Array<Request>
  /** Resolves once `n` requests matching `filter` have arrived. */
  readonly seen: (n: number, filter?: (request: Request) => boolean) => Promise<void>
  readonly close: () => Promise<void>
}

/** A server on 127.0.0.1 answering each request with `answer(request, requests so far)`. */
export const fakeServer = (answer: (request: Request, previous: ReadonlyArray<Request>) => Answer) =>
  new Promise<Fake>((resolve) => {
    const requests: Array<Request> = []
    const waiting: Array<() => void> = []
    const server = Http.createServer((req, res) => {
      let body = ""
      req.setEncoding("utf8")
      req.on("data", (chunk: string) => (body += chunk))
      req.on("end", () => {
        const url = new URL(req.url ?? "/", "http://localhost")
        const request: Request = { method: req.method ?? "", path: url.pathname, query: url.searchParams, body, at: performance.now() }
        const a = answer(request, [...requests])
        requests.push(request)
        const text = typeof a.body === "string" ? a.body : JSON.stringify(a.body)
        res.writeHead(a.status, { "content-type": "application/json", ...a.headers })
        res.end(text)
        for (const wake of waiting.splice(0)) wake()
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        seen: (n, filter = () => true) =>
          new Promise<void>((done) => {
            const check = () => (requests.filter(filter).length >= n ? done() : waiting.push(check))
            check()
          }),
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

/** A `/stats` body with these counters (the rest plausible). */
export const statsBody = (received: number, unique: number, duplicates: number) => ({
  received,
  unique_processed: unique,
  duplicate_dropped: duplicates,
  conflicts: 0,
  pending: 0,
  topics: [],
  per_topic: {},
  uptime: 1,
  started_at: "2025-01-31T12:00:00.000Z",
  workers: 2,
  queue_capacity: null,
  followers: 0,
  followers_catching_up: 0
})
