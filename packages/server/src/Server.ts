/**
 * The HTTP runtime as one layer: a `node:http` server whose `POST /publish` goes through a lean
 * Effect program on the server's runtime and every other request through the `HttpApi` app.
 * Importing it starts nothing; `main.ts` and `cli serve` launch it.
 *
 * @since 0.1.0
 */
import { Aggregator, AggregatorConfig, type EventStore } from "@event-aggregator/core"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiSwagger from "@effect/platform/HttpApiSwagger"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import { timingSafeEqual } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Api from "./Api.js"
import { EventsHttpLive } from "./EventsHttp.js"
import { Lifecycle } from "./internal/lifecycle.js"
import * as Metrics from "./internal/metrics.js"
import * as Publish from "./internal/publish.js"
import { OpsHttpLive } from "./OpsHttp.js"
import { layerFromEnv as serverConfigFromEnv, ServerConfig, type Settings as ServerSettings } from "./ServerConfig.js"
import * as StoreConfig from "./StoreConfig.js"

type ErrorBody = Api.ApiError | { readonly error: "InternalError"; readonly message: string }

const sendJson = (res: Http.ServerResponse, status: number, body: unknown, close = false): void => {
  if (res.headersSent || res.destroyed) return
  const text = JSON.stringify(body)
  const headers: Http.OutgoingHttpHeaders = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text)
  }
  if (status === 503) headers["retry-after"] = String(Api.RETRY_AFTER_SECONDS)
  if (close) headers["connection"] = "close"
  res.writeHead(status, headers)
  res.end(text)
}

const sendError = (res: Http.ServerResponse, body: ErrorBody, close = false): void =>
  sendJson(res, body.error === "InternalError" ? 500 : Api.errorStatus[body.error], body, close)

/** Answers an error before the body was read: the client may still be sending, so close after. */
const rejectUnread = (req: Http.IncomingMessage, res: Http.ServerResponse, body: ErrorBody): void => {
  sendError(res, body, true)
  req.resume()
}

const bearer = (header: string | undefined): Buffer | undefined =>
  header !== undefined && header.startsWith("Bearer ") ? Buffer.from(header.slice(7).trim()) : undefined

const OPEN_PATHS = new Set(["/health", "/ready"])

/**
 * The node:http server with its dispatcher, as an `HttpServer` the `HttpApi` app is served on.
 * Closing it stops listening, lets in-flight requests finish, then closes the connections.
 */
const NodeServerLive: Layer.Layer<
  HttpServer.HttpServer,
  HttpServerError.ServeError,
  Aggregator.Aggregator | ServerConfig | Lifecycle
> = Layer.scoped(
  HttpServer.HttpServer,
  Effect.gen(function*() {
    const settings = yield* ServerConfig
    const aggregator = yield* Aggregator.Aggregator
    const lifecycle = yield* Lifecycle
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const apiKey = Option.map(settings.apiKey, (key) => Buffer.from(Redacted.value(key)))
    let apiHandler: ((req: Http.IncomingMessage, res: Http.ServerResponse) => void) | undefined
    let inFlight = 0
    let draining = false

    const authorized = (req: Http.IncomingMessage): boolean => {
      if (Option.isNone(apiKey)) return true
      const given = bearer(req.headers.authorization)
      return given !== undefined && given.length === apiKey.value.length && timingSafeEqual(given, apiKey.value)
    }

    const publish = (req: Http.IncomingMessage, res: Http.ServerResponse, query: string): void => {
      const contentType = req.headers["content-type"]
      const kind = Publish.bodyKind(contentType)
      if (kind === undefined) return rejectUnread(req, res, Publish.unsupportedMediaType(contentType))
      const search = new URLSearchParams(query)
      const params = Publish.parseParams(search.get("ack"), search.get("detail"), settings.ackMode)
      if (Either.isLeft(params)) return rejectUnread(req, res, params.left)
      const declared = Number(req.headers["content-length"])
      if (declared > settings.maxBodyBytes) return rejectUnread(req, res, Publish.bodyTooLarge(settings.maxBodyBytes))

      const chunks: Array<Buffer> = []
      let size = 0
      let tooLarge = false
      req.on("data", (chunk: Buffer) => {
        if (tooLarge) return
        size += chunk.length
        if (size > settings.maxBodyBytes) {
          // Checked while reading: answer now, drop what was read, discard the rest unbuffered.
          tooLarge = true
          chunks.length = 0
          sendError(res, Publish.bodyTooLarge(settings.maxBodyBytes), true)
          return
        }
        chunks.push(chunk)
      })
      req.on("error", () => res.destroy())
      req.on("end", () => {
        if (tooLarge || res.destroyed) return
        const text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks, size).toString("utf8")
        const list = Publish.parseBody(kind, text, settings.maxBatch)
        if (Either.isLeft(list)) return sendError(res, list.left)
        const fiber = runFork(Publish.run(aggregator, list.right, params.right))
        fiber.addObserver((exit) => {
          if (Exit.isSuccess(exit)) return sendJson(res, exit.value.status, exit.value.body, draining)
          const failure = Cause.failureOption(exit.cause)
          if (Option.isSome(failure)) return sendError(res, failure.value, draining)
          // A defect is a bug: log it with its cause, answer 500 without details.
          runFork(Effect.logError("POST /publish failed", exit.cause))
          sendError(res, { error: "InternalError", message: "internal error; nothing is known to be accepted" }, true)
        })
      })
    }

    const dispatch = (req: Http.IncomingMessage, res: Http.ServerResponse): void => {
      const started = performance.now()
      const url = req.url ?? "/"
      const q = url.indexOf("?")
      const path = q === -1 ? url : url.slice(0, q)
      inFlight++
      res.once("close", () => {
        inFlight--
        Metrics.recordRequest(Metrics.routeOf(path), req.method ?? "", res.statusCode, (performance.now() - started) / 1000)
      })
      if (draining) res.setHeader("connection", "close")
      if (!OPEN_PATHS.has(path) && !authorized(req)) {
        return rejectUnread(req, res, { error: "Unauthorized", message: "missing or wrong API key (Authorization: Bearer <key>)" })
      }
      if (path === "/publish" && req.method === "POST") return publish(req, res, q === -1 ? "" : url.slice(q + 1))
      if (apiHandler === undefined) {
        return rejectUnread(req, res, { error: "NotReady", message: "the server is starting or draining" })
      }
      apiHandler(req, res)
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
        lifecycle.ready = false
        draining = true
        yield* Effect.logInfo("draining: no new connections; waiting for requests in flight").pipe(
          Effect.annotateLogs({ inFlight })
        )
        // Stop listening at once; `closed` completes when the last connection has gone.
        let closedNow = false
        const waiters: Array<() => void> = []
        server.close(() => {
          closedNow = true
          for (const w of waiters) w()
        })
        server.closeIdleConnections()
        const closed = Effect.async<void>((resume) => {
          if (closedNow) return resume(Effect.void)
          waiters.push(() => resume(Effect.void))
        })
        const waitInFlight = Effect.gen(function*() {
          while (inFlight > 0) {
            server.closeIdleConnections()
            yield* Effect.sleep(Duration.millis(10))
          }
        })
        const finished = yield* Effect.zipRight(waitInFlight, closed).pipe(
          Effect.timeoutTo({
            duration: Duration.millis(settings.shutdownTimeoutMillis),
            onSuccess: () => true,
            onTimeout: () => false
          })
        )
        if (!finished) {
          yield* Effect.logWarning("shutdown timeout: closing connections with requests in flight").pipe(
            Effect.annotateLogs({ inFlight })
          )
          server.closeAllConnections()
        }
      })
    )

    const address = server.address() as AddressInfo
    return HttpServer.make({
      address: {
        _tag: "TcpAddress",
        hostname: address.address === "::" ? "0.0.0.0" : address.address,
        port: address.port
      },
      serve: (httpApp, middleware) =>
        Effect.gen(function*() {
          apiHandler = middleware === undefined
            ? yield* NodeHttpServer.makeHandler(httpApp)
            : yield* NodeHttpServer.makeHandler(httpApp, middleware)
          yield* Effect.addFinalizer(() => Effect.sync(() => (apiHandler = undefined)))
        })
    })
  })
)

/**
 * Unknown routes answer with the JSON error shape, like every other error. The router's 404 has
 * an empty body by the time a middleware sees it, so it is rewritten just before it is sent.
 */
const notFoundAsJson = (app: HttpApp.Default): HttpApp.Default =>
  Effect.zipRight(
    HttpApp.appendPreResponseHandler((request, response) =>
      Effect.succeed(
        response.status === 404 && response.body._tag === "Empty"
          ? HttpServerResponse.unsafeJson(
            { error: "NotFound", message: `no route ${request.method} ${request.url.split("?")[0]}` },
            { status: 404 }
          )
          : response
      )
    ),
    app
  )

const ApiLive = HttpApiBuilder.api(Api.Api).pipe(Layer.provide([EventsHttpLive, OpsHttpLive]))

/** Marks the server ready once it listens and the handlers are installed. */
const ReadyLive = Layer.effectDiscard(Effect.gen(function*() {
  const lifecycle = yield* Lifecycle
  lifecycle.ready = true
}))

/**
 * JSON log lines at `LOG_LEVEL`. Provide it to the launching effect (`Effect.provide`), so every
 * fiber the layers fork inherits it.
 *
 * @since 0.1.0
 */
export const LoggerLive: Layer.Layer<never, never, ServerConfig> = Layer.unwrapEffect(Effect.map(ServerConfig, (settings) =>
  Layer.merge(
    Logger.json,
    Logger.minimumLogLevel(settings.logLevel)
  )))

/**
 * The whole HTTP runtime. Needs a store and the settings, which the launchers choose; gives
 * the `HttpServer` so callers can read the bound address (`PORT=0` picks a free port).
 * Shutdown order: the listener stops and in-flight requests finish, then the aggregator commits
 * its queue, then the store closes.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<
  HttpServer.HttpServer,
  HttpServerError.ServeError | EventStore.StoreError,
  EventStore.EventStore | AggregatorConfig.AggregatorConfig | ServerConfig
> = ReadyLive.pipe(
  Layer.provide(HttpApiBuilder.serve(notFoundAsJson)),
  HttpServer.withLogAddress,
  Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(ApiLive),
  Layer.provideMerge(NodeServerLive),
  Layer.provide(NodeHttpServer.layerContext),
  HttpMiddleware.withTracerDisabledWhen(() => true),
  Layer.provide(Metrics.layer),
  Layer.provide(Layer.sync(Lifecycle, () => ({ ready: false }))),
  Layer.provide(Aggregator.layer)
)

/** Settings that beat the environment (the CLI's flags). */
export interface Overrides {
  readonly aggregator?: Partial<AggregatorConfig.Settings>
  readonly server?: Partial<ServerSettings>
  readonly store?: Partial<StoreConfig.Settings>
}

/**
 * The server with its settings from the environment (`overrides` on top), the store they choose
 * and the JSON logger, kept until interrupted (SIGTERM/SIGINT under `runMain`).
 *
 * @since 0.1.0
 */
export const launch = (overrides: Overrides = {}) =>
  Layer.launch(layer.pipe(Layer.provide(StoreConfig.layerFromEnv(overrides.store)))).pipe(
    Effect.provide(LoggerLive),
    Effect.provide(Layer.merge(
      AggregatorConfig.layerFromEnv(overrides.aggregator),
      serverConfigFromEnv(overrides.server)
    ))
  )
