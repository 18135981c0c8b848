/** Test helpers: a real server on a free port (in-process or as a child process) and an HTTP client. */
import { AggregatorConfig, type EventStore, SqliteEventStore } from "@event-aggregator/core"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Server from "../src/Server.js"
import * as ServerConfig from "../src/ServerConfig.js"

/** A fresh temp directory, removed when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-server-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Only warnings and errors: tests stay readable. */
export const quiet = Logger.minimumLogLevel(LogLevel.Warning)

export interface Started {
  readonly url: string
  readonly dbPath: string
}

/** The whole server in-process on a free port, SQLite in a temp dir; stops with the scope. */
export const startServer = (options: {
  readonly server?: Partial<ServerConfig.Settings>
  readonly aggregator?: Partial<AggregatorConfig.Settings>
  /** Another store than SQLite in the temp dir. */
  readonly store?: Layer.Layer<EventStore.EventStore>
} = {}) =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const dbPath = options.aggregator?.dbPath ?? Path.join(dir, "dedup.sqlite")
    const context = yield* Layer.build(Server.layer(options.store ?? SqliteEventStore.layer).pipe(
      Layer.provide(AggregatorConfig.layer({ ...options.aggregator, dbPath })),
      Layer.provide(ServerConfig.layer({ port: 0, host: "127.0.0.1", ...options.server }))
    ))
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return { url: `http://127.0.0.1:${address.port}`, dbPath } satisfies Started
  })

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly body: any
}

const reply = (response: Response): Promise<Reply> =>
  response.text().then((text) => {
    let body: unknown = text
    if ((response.headers.get("content-type") ?? "").includes("json")) body = JSON.parse(text)
    return { status: response.status, headers: response.headers, body }
  })

/** A request with fetch; JSON bodies come back parsed. */
export const request = (url: string, init: RequestInit = {}): Effect.Effect<Reply> =>
  Effect.promise(() => fetch(url, init).then(reply))

/** `POST /publish` with a JSON body (or a raw string with its content type). */
export const publish = (
  base: string,
  body: unknown,
  options: { readonly query?: string; readonly contentType?: string; readonly headers?: Record<string, string> } = {}
): Effect.Effect<Reply> =>
  request(`${base}/publish${options.query ? `?${options.query}` : ""}`, {
    method: "POST",
    headers: { "content-type": options.contentType ?? "application/json", ...options.headers },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })

export const getJson = (base: string, path: string, headers: Record<string, string> = {}): Effect.Effect<Reply> =>
  request(`${base}${path}`, { headers })

let counter = 0
export const freshTopic = (prefix = "t"): string => `${prefix}-${process.pid}-${Date.now()}-${counter++}`

export const event = (topic: string, event_id: string, payload: Record<string, unknown> = {}) => ({
  topic,
  event_id,
  timestamp: "2025-01-31T12:00:00Z",
  source: "test",
  payload
})

/** Every stored event, following `next_after` until the end of the log. */
export const allEvents = (base: string, topic?: string) =>
  Effect.gen(function*() {
    const events: Array<any> = []
    let after = 0
    for (;;) {
      const page = yield* getJson(
        base,
        `/events?after=${after}&limit=10000${topic === undefined ? "" : `&topic=${encodeURIComponent(topic)}`}`
      )
      if (page.status !== 200) return yield* Effect.dieMessage(`GET /events answered ${page.status}`)
      events.push(...page.body.events)
      if (page.body.next_after === null) return events
      after = page.body.next_after
    }
  })

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")
export const mainJs = Path.join(root, "packages/server/dist/main.bundle.js")

export interface Child {
  readonly url: string
  readonly process: ChildProcess.ChildProcess
  /** Everything it wrote to stdout and stderr so far. */
  readonly output: () => string
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>
}

/** Starts the built `main.js` on a free port with `env`; resolves once it listens. */
export const spawnServer = (env: Record<string, string>): Promise<Child> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(process.execPath, [mainJs], {
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const exited = new Promise<number | string>((done) =>
      child.once("exit", (code, signal) => done(code ?? signal ?? "unknown"))
    )
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /Listening on http:\/\/[^:]+:(\d+)/.exec(output)
      if (match) {
        child.stdout.off("data", onData)
        child.stdout.on("data", (c: Buffer) => (output += c.toString()))
        resolve({ url: `http://127.0.0.1:${match[1]}`, process: child, output: () => output, exited })
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", (c: Buffer) => (output += c.toString()))
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${output}`)))
  })

/** `spawnServer` in a scope: killed with SIGKILL when the scope closes, if still running. */
export const spawnScoped = (env: Record<string, string>) =>
  Effect.acquireRelease(Effect.promise(() => spawnServer(env)), (child) =>
    Effect.sync(() => {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
    }))

/** Runs `main.js` to completion with `env` (for start-up failures). */
export const runServer = (env: Record<string, string>, timeoutMs = 10_000) =>
  new Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resolve) => {
    ChildProcess.execFile(
      process.execPath,
      [mainJs],
      { env: { ...process.env, PORT: "0", HOST: "127.0.0.1", ...env }, timeout: timeoutMs },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr })
    )
  })
