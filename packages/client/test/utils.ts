// Test helpers: a fake server on node:http (answers chosen per request, every request recorded),
// and a TCP proxy in front of a real server whose connections a test can cut.
import * as Effect from "effect/Effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Net from "node:net"

export interface Request {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
  /** `performance.now()` when the request had been read. */
  readonly at: number
}

export interface Fake {
  readonly url: string
  /** Every request so far, in arrival order. */
  readonly requests: Array<Request>
  /** Resolves once `n` requests matching `filter` have arrived. */
  readonly seen: (n: number, filter?: (request: Request) => boolean) => Promise<void>
}

/** Writes a JSON answer. */
export const reply = (res: Http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(typeof body === "string" ? body : JSON.stringify(body))
}

/**
 * A server on 127.0.0.1 (`port`, or any) where `answer` handles the nth request (from 0), its
 * body read; closed with the scope.
 */
export const fakeServer = (
  answer: (request: Request, res: Http.ServerResponse, n: number) => void,
  port = 0
) =>
  Effect.acquireRelease(
    Effect.async<Fake & { readonly server: Http.Server }>((resume) => {
      const requests: Array<Request> = []
      const waiting: Array<() => void> = []
      const server = Http.createServer((req, res) => {
        let body = ""
        req.setEncoding("utf8")
        req.on("data", (chunk: string) => (body += chunk))
        req.on("end", () => {
          const url = new URL(req.url ?? "/", "http://localhost")
          const request: Request = {
            method: req.method ?? "",
            path: url.pathname,
            query: url.searchParams,
            headers: req.headers,
            body,
            at: performance.now()
          }
          requests.push(request)
          answer(request, res, requests.length - 1)
          for (const wake of waiting.splice(0)) wake()
        })
      })
      server.listen(port, "127.0.0.1", () => {
        resume(Effect.succeed({
          server,
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          requests,
          seen: (n, filter = () => true) =>
            new Promise<void>((done) => {
              const check = () => (requests.filter(filter).length >= n ? done() : waiting.push(check))
              check()
            })
        }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** A port nobody listens on (bound, then released). */
export const freePort = Effect.async<number>((resume) => {
  const probe = Http.createServer().listen(0, "127.0.0.1", () => {
    const { port } = probe.address() as AddressInfo
    probe.close(() => resume(Effect.succeed(port)))
  })
})

export interface Proxy {
  readonly url: string
  /** The request heads that went through, in order (the text up to the blank line). */
  readonly heads: Array<string>
  /** Destroys every open connection, both ways. */
  readonly cut: () => void
}

/** A TCP proxy on 127.0.0.1 in front of `target` (a URL); closed with the scope. */
export const proxy = (target: string) =>
  Effect.acquireRelease(
    Effect.async<Proxy & { readonly server: Net.Server }>((resume) => {
      const { hostname, port } = new URL(target)
      const sockets = new Set<Net.Socket>()
      const heads: Array<string> = []
      const track = (socket: Net.Socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => socket.destroy())
      }
      const server = Net.createServer((client) => {
        const upstream = Net.connect(Number(port), hostname)
        track(client)
        track(upstream)
        let head = ""
        client.on("data", (chunk: Buffer) => {
          if (!head.includes("\r\n\r\n")) {
            head += chunk.toString("latin1")
            if (head.includes("\r\n\r\n")) heads.push(head.slice(0, head.indexOf("\r\n\r\n")))
          }
        })
        client.pipe(upstream)
        upstream.pipe(client)
        client.on("close", () => upstream.destroy())
        upstream.on("close", () => client.destroy())
      })
      server.listen(0, "127.0.0.1", () => {
        resume(Effect.succeed({
          server,
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          heads,
          cut: () => {
            for (const socket of sockets) socket.destroy()
          }
        }))
      })
    }),
    ({ cut, server }) =>
      Effect.async<void>((resume) => {
        cut()
        server.close(() => resume(Effect.void))
      })
  )

let counter = 0
export const freshTopic = (prefix = "client"): string => `${prefix}-${process.pid}-${Date.now()}-${counter++}`

export const event = (topic: string, event_id: string, payload: string | Record<string, unknown> = {}) => ({
  topic,
  event_id,
  timestamp: "2025-01-31T12:00:00Z",
  source: "client-test",
  payload
})
