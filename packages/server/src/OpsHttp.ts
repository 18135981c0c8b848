/**
 * Handlers of the top-level `ops` group: liveness, readiness and Prometheus metrics.
 *
 * @since 0.1.0
 */
import { Aggregator } from "@event-aggregator/core"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import * as Api from "./Api.js"
import { Lifecycle } from "./internal/lifecycle.js"
import { Prometheus } from "./internal/metrics.js"

/** @since 0.1.0 */
export const OpsHttpLive = HttpApiBuilder.group(Api.Api, "ops", (handlers) =>
  Effect.gen(function*() {
    const aggregator = yield* Aggregator.Aggregator
    const lifecycle = yield* Lifecycle
    const prometheus = yield* Prometheus
    return handlers
      .handle("health", () => Effect.succeed({ status: "ok" as const }))
      .handle("ready", () =>
        Effect.flatMap(Effect.zip(aggregator.accepting, aggregator.ready), ([accepting, ready]) =>
          lifecycle.ready && ready
            ? Effect.succeed({ status: "ready" as const })
            : Effect.fail<typeof Api.NotReady.Type>({
              error: "NotReady",
              message: !lifecycle.ready || !accepting
                ? "the server is starting or draining"
                : "the event store does not answer"
            })))
      .handle("metrics", () => prometheus.scrape)
  })
)
