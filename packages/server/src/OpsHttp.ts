/**
 * Handlers of the top-level `ops` group: liveness, readiness and Prometheus metrics.
 *
 * @since 0.1.0
 */
import { Aggregator } from "@event-aggregator/core"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import * as Api from "./Api.js"
import { Listener } from "./internal/listener.js"
import { Prometheus } from "./internal/metrics.js"

/** @since 0.1.0 */
export const OpsHttpLive = HttpApiBuilder.group(Api.ServedApi, "ops", (handlers) =>
  Effect.gen(function*() {
    const aggregator = yield* Aggregator.Aggregator
    const listener = yield* Listener
    const prometheus = yield* Prometheus
    return handlers
      .handle("health", () => Effect.succeed(Api.healthy))
      .handle("ready", () =>
        Effect.flatMap(Effect.zip(aggregator.accepting, aggregator.ready), ([accepting, ready]) =>
          listener.ready && ready
            ? Effect.succeed({ status: "ready" as const })
            : Effect.fail<typeof Api.NotReady.Type>({
              error: "NotReady",
              message: listener.draining || !accepting
                ? "the server is draining for shutdown"
                : !listener.ready
                ? "the server is starting"
                : "the event store does not answer"
            })))
      .handle("metrics", () => prometheus.scrape)
  })
)
