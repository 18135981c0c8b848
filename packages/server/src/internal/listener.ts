/**
 * The node:http listener. It listens first, so `/health` answers while the store opens and
 * `/ready` says 503 until everything runs; then `POST /publish` goes to the lean path and every
 * other request to the `HttpApi` app, as they are attached. Closing it stops listening, lets the
 * requests in flight finish (up to the shutdown timeout), then closes the connections.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Api from "../Api.js"
import { ServerConfig } from "../ServerConfig.js"
import * as Assets from "./assets.js"
import * as Auth from "./auth.js"
import * as Metrics from "./metrics.js"
import { rejectUnread, sendJson } from "./respond.js"

export type Handler = (req: Http.IncomingMessage, res: Http.ServerResponse) => void

/** What the listener routes to, and where the process is in its life. */
export interface State {
  /** The lean `POST /publish` path, once the aggregator runs. */
  publish: Handler | undefined
  /** The `HttpApi` app, once built. */
  api: Handler | undefined
  /** Everything runs and shutdown has not begun. */
  ready: boolean
  /** Shutdown has begun: every answer closes its connection, new work is refused. */
  draining: boolean
  /**
   * Completes when shutdown begins: answers that last until something happens (event streams,
   * long polls) end then, so the wait for requests in flight does not wait for them.
   */
  readonly drainBegan: Deferred.Deferred<void>
  /** Completes when no request is in flight. */
  readonly idle: Effect.Effect<void>
  /** How long shutdown waits for requests in flight. */
  readonly shutdownTimeoutMillis: number
}

export class Listener extends Context.Tag("@event-aggregator/server/internal/Listener")<Listener, State>() {}

const notReady = (state: State) => ({
  error: "NotReady" as const,
  message: state.draining ? "the server is draining for shutdown" : "the server is starting"
})

/** Shutdown begins: `/ready` says 503, new work is refused, event streams and long polls end. */
const beginDraining = (state: State): Effect.Effect<void> =>
  Effect.zipRight(
    Effect.sync(() => {
      state.ready = false
      state.draining = true
    }),
    Deferred.succeed(state.drainBegan, undefined)
  )

/** Requests in flight, and a way to wait until there are none. */
const inFlightCounter = () => {
  let count = 0
  let waiters: Array<() => void> = []
  return {
    get count() {
      return count
    },
    enter: () => {
      count++
    },
    leave: () => {
      count--
      if (count === 0) {
        for (const w of waiters) w()
        waiters = []
      }
    },
    idle: Effect.async<void>((resume) => {
      if (count === 0) return resume(Effect.void)
      waiters.push(() => resume(Effect.void))
    })
  }
}

/** @internal */
export const layer: Layer.Layer<Listener | HttpServer.HttpServer, HttpServerError.ServeError, ServerConfig> = Layer
  .scopedContext(Effect.gen(function*() {
    const settings = yield* ServerConfig
    const inFlight = inFlightCounter()
    const state: State = {
      publish: undefined,
      api: undefined,
      ready: false,
      draining: false,
      drainBegan: yield* Deferred.make<void>(),
      idle: inFlight.idle,
      shutdownTimeoutMillis: settings.shutdownTimeoutMillis
    }
    const authorized = Auth.make(settings.apiKey)
    const dashboard = Assets.make()

    const dispatch = (req: Http.IncomingMessage, res: Http.ServerResponse): void => {
      const started = performance.now()
      const url = req.url ?? "/"
      const q = url.indexOf("?")
      const path = q === -1 ? url : url.slice(0, q)
      inFlight.enter()
      res.once("close", () => {
        inFlight.leave()
        Metrics.recordRequest(Metrics.routeOf(path), req.method ?? "", res.statusCode, (performance.now() - started) / 1000)
      })
      if (state.draining) res.setHeader("connection", "close")
      // The dashboard's files hold no data: they load without the key (the page asks for it).
      if (dashboard(req, res, path)) return
      if (!authorized(req, path)) return rejectUnread(req, res, Auth.unauthorized)
      if (path === "/publish" && req.method === "POST") {
        return state.publish === undefined ? rejectUnread(req, res, notReady(state)) : state.publish(req, res)
      }
      if (state.api !== undefined) return state.api(req, res)
      // Before the app is attached (starting) and after it is gone (draining).
      if (path === "/health") return sendJson(res, 200, Api.healthy, state.draining)
      rejectUnread(req, res, notReady(state))
    }

    const server = Http.createServer({ keepAliveTimeout: 5_000 }, dispatch)
    yield* Effect.async<void, HttpServerError.ServeError>((resume) => {
      const onError = (cause: Error) => resume(Effect.fail(new HttpServerError.ServeError({ cause })))
      server.once("error", onError)
      server.listen({ port: settings.port, host: settings.host }, () => {
        server.off("error", onError)
        resume(Effect.void)
      })
    })
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* beginDraining(state)
        const closed = Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeIdleConnections()
        })
        // A finalizer runs uninterruptibly, and a timeout waits for what it cannot interrupt: the
        // wait must be interruptible for the timeout to end it.
        const finished = yield* Effect.interruptible(Effect.zipRight(inFlight.idle, closed)).pipe(
          Effect.timeoutTo({
            duration: Duration.millis(settings.shutdownTimeoutMillis),
            onSuccess: () => true,
            onTimeout: () => false
          })
        )
        if (!finished) {
          yield* Effect.logWarning("shutdown timeout: closing connections with requests in flight").pipe(
            Effect.annotateLogs({ inFlight: inFlight.count })
          )
          server.closeAllConnections()
        }
      })
    )

    const address = server.address() as AddressInfo
    const httpServer = HttpServer.make({
      address: {
        _tag: "TcpAddress",
        hostname: address.address === "::" ? "0.0.0.0" : address.address,
        port: address.port
      },
      serve: (httpApp, middleware) =>
        Effect.gen(function*() {
          state.api = middleware === undefined
            ? yield* NodeHttpServer.makeHandler(httpApp)
            : yield* NodeHttpServer.makeHandler(httpApp, middleware)
          yield* Effect.addFinalizer(() => Effect.sync(() => (state.api = undefined)))
        })
    })
    return Context.make(Listener, state).pipe(Context.add(HttpServer.HttpServer, httpServer))
  }))

/**
 * Marks the server ready once everything runs. On shutdown it is the first to know: `/ready`
 * answers 503, new publishes and event streams get 503, every answer closes its connection, and
 * event streams and long polls end at once (clients resume from their last seq elsewhere); then it
 * waits for the requests in flight (up to the shutdown timeout) while the aggregator still commits, so they are
 * answered before the queue drains and the store closes.
 */
export const ReadyLive: Layer.Layer<never, never, Listener | HttpServer.HttpServer> = Layer.scopedDiscard(Effect.gen(function*() {
  const state = yield* Listener
  yield* Effect.acquireRelease(
    Effect.zipRight(
      Effect.sync(() => {
        state.ready = true
      }),
      // "Listening on http://host:port" once requests are served, not merely accepted.
      HttpServer.logAddress
    ),
    () =>
      Effect.gen(function*() {
        yield* beginDraining(state)
        yield* Effect.logInfo("draining: /ready answers 503, event streams end; answering the requests in flight, then committing the queue")
        // Interruptible, or the timeout would wait for it (finalizers run uninterruptibly).
        yield* Effect.interruptible(state.idle).pipe(Effect.timeoutTo({
          duration: Duration.millis(state.shutdownTimeoutMillis),
          onSuccess: () => Effect.void,
          onTimeout: () => Effect.logWarning("shutdown timeout: requests still in flight are cut when the listener closes")
        }), Effect.flatten)
      })
  )
}))
