/** Prometheus exposition of Effect's metrics through OpenTelemetry's well-kept Prometheus serializer. */
import * as Metrics from "@effect/opentelemetry/Metrics"
import * as Resource from "@effect/opentelemetry/Resource"
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { MetricReader } from "@opentelemetry/sdk-metrics"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"

export class Prometheus extends Context.Tag("@event-aggregator/server/internal/Prometheus")<Prometheus, {
  /** The current metrics in Prometheus text format. */
  readonly scrape: Effect.Effect<string>
}>() {}

/** A pull reader: collects on scrape, nothing to flush or push. */
class PullReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve()
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve()
  }
}

export const layer: Layer.Layer<Prometheus> = Layer.unwrapEffect(Effect.sync(() => {
  const reader = new PullReader()
  const serializer = new PrometheusSerializer()
  const scrape = Effect.promise(() => reader.collect()).pipe(
    Effect.map(({ resourceMetrics }) => serializer.serialize(resourceMetrics))
  )
  return Layer.merge(
    Layer.succeed(Prometheus, { scrape }),
    Metrics.layer(() => reader)
  )
})).pipe(Layer.provide(Resource.layer({ serviceName: "event-aggregator" })))

/** HTTP request durations, by route and status; updated once per response, outside any fiber. */
export const httpDuration = Metric.histogram(
  "http_server_request_duration_seconds",
  MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 14 }),
  "HTTP request durations"
)

const labelCache = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()

/** Records one request; routes are a small fixed set so label sets stay bounded. */
export const recordRequest = (route: string, method: string, status: number, seconds: number): void => {
  const key = `${route} ${method} ${status}`
  let labels = labelCache.get(key)
  if (labels === undefined) {
    labels = [MetricLabel.make("route", route), MetricLabel.make("method", method), MetricLabel.make("status", String(status))]
    labelCache.set(key, labels)
  }
  httpDuration.unsafeUpdate(seconds, labels)
}

const KNOWN_ROUTES = new Set([
  "/publish",
  "/events",
  "/events/stream",
  "/stats",
  "/health",
  "/ready",
  "/metrics",
  "/docs",
  "/openapi.json",
  "/",
  "/dashboard/overview",
  "/dashboard/topics"
])

/** The route label of a path: known routes as is, `/events/{topic}/{event_id}`, the dashboard's files, else `other`. */
export const routeOf = (path: string): string =>
  KNOWN_ROUTES.has(path)
    ? path
    : path.startsWith("/events/")
    ? "/events/{topic}/{event_id}"
    : path.startsWith("/dashboard")
    ? "/dashboard"
    : "other"
