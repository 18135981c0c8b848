/**
 * The HTTP runtime as one layer: a `node:http` listener whose `POST /publish` goes through a lean
 * Effect program on the server's runtime and every other request through the `HttpApi` app.
 * Importing it starts nothing; `main.ts` and `cli serve` launch it.
 *
 * @since 0.1.0
 */
import { Aggregator, AggregatorConfig, type EventStore } from "@event-aggregator/core"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiError from "@effect/platform/HttpApiError"
import * as HttpApiSwagger from "@effect/platform/HttpApiSwagger"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Cause from "effect/Cause"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Api from "./Api.js"
import { DashboardHttpLive } from "./DashboardHttp.js"
import { EventsHttpLive } from "./EventsHttp.js"
import * as History from "./internal/history.js"
import * as Listener from "./internal/listener.js"
import * as Metrics from "./internal/metrics.js"
import * as PublishRoute from "./internal/publishRoute.js"
import { OpsHttpLive } from "./OpsHttp.js"
import { layerFromEnv as serverConfigFromEnv, ServerConfig, type Settings as ServerSettings } from "./ServerConfig.js"
import * as StoreConfig from "./StoreConfig.js"

/**
 * Error answers of the `HttpApi` app in the API's shape: an unknown route gets the JSON 404 (the
 * router's has an empty body by the time a middleware sees it), a bug's empty 500 gets a JSON
 * body too, and every 503 gets Retry-After.
 */
const errorsAsJson = (app: HttpApp.Default): HttpApp.Default =>
  Effect.zipRight(
    HttpApp.appendPreResponseHandler((request, response) =>
      Effect.succeed(
        response.status === 404 && response.body._tag === "Empty"
          ? HttpServerResponse.unsafeJson(
            { error: "NotFound", message: `no route ${request.method} ${request.url.split("?")[0]}` },
            { status: 404 }
          )
          : response.status === 500 && response.body._tag === "Empty"
          ? HttpServerResponse.unsafeJson(
            { error: "InternalError", message: "internal error; see the server's log" },
            { status: 500 }
          )
          : response.status === 503
          ? HttpServerResponse.setHeader(response, "retry-after", String(Api.RETRY_AFTER_SECONDS))
          : response
      )
    ),
    app
  )

/** The documentation describes the whole contract, `POST /publish` included (the app serves the rest). */
const DocsLive = Layer.mergeAll(
  HttpApiSwagger.layer({ path: "/docs" }),
  HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })
).pipe(Layer.provide(Layer.succeed(HttpApi.Api, {
  // The widening `HttpApiBuilder.api` does too: the docs only read the API's description.
  api: Api.Api as unknown as HttpApi.Api["Type"]["api"],
  context: Context.empty()
})))

/** A request the app cannot decode (a query parameter given twice, say) gets the API's 400 body. */
const DecodeErrorsLive = HttpApiBuilder.middleware((app) =>
  Effect.catchAllCause(app, (cause) => {
    const error = Cause.squash(cause)
    if (!(error instanceof HttpApiError.HttpApiDecodeError)) return Effect.failCause(cause)
    const detail = error.issues.map((i) => `${i.path.map(String).join(".") || "request"}: ${i.message}`).join("; ")
    return Effect.succeed(HttpServerResponse.unsafeJson({ error: "BadRequest", message: `bad request: ${detail}` }, { status: 400 }))
  })
)

const ApiLive = HttpApiBuilder.api(Api.ServedApi).pipe(
  Layer.provide([EventsHttpLive, OpsHttpLive, DashboardHttpLive, DecodeErrorsLive]),
  Layer.provide(History.layer)
)

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
 * The whole HTTP runtime on the store `store` builds. It listens before the store opens (`/health`
 * answers, `/ready` says 503 while starting), and gives the `HttpServer` so callers can read the
 * bound address (`PORT=0` picks a free port). Shutdown: `/ready` answers 503 and new work gets 503
 * at once, the aggregator commits its queue, the store closes, then requests in flight finish and
 * the listener closes.
 *
 * @since 0.1.0
 */
export const layer = <E, R>(
  store: Layer.Layer<EventStore.EventStore, E, R>
): Layer.Layer<
  HttpServer.HttpServer,
  HttpServerError.ServeError | EventStore.StoreError | E,
  AggregatorConfig.AggregatorConfig | ServerConfig | R
> =>
  Listener.ReadyLive.pipe(
    Layer.provide(HttpApiBuilder.serve(errorsAsJson)),
    Layer.provide(DocsLive),
    Layer.provide(ApiLive),
    Layer.provide(NodeHttpServer.layerContext),
    HttpMiddleware.withTracerDisabledWhen(() => true),
    Layer.provide(Metrics.layer),
    Layer.provideMerge(PublishRoute.layer),
    Layer.provide(Aggregator.layer),
    Layer.provide(store),
    Layer.provideMerge(Listener.layer)
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
export const launch = (
  overrides: Overrides = {}
): Effect.Effect<never, HttpServerError.ServeError | EventStore.StoreError | ConfigError.ConfigError> =>
  Layer.launch(layer(StoreConfig.layerFromEnv(overrides.store))).pipe(
    Effect.provide(LoggerLive),
    Effect.provide(Layer.merge(
      AggregatorConfig.layerFromEnv(overrides.aggregator),
      serverConfigFromEnv(overrides.server)
    ))
  )
