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
