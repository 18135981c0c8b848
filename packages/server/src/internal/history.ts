/**
 * The dashboard's memory of the last 15 minutes: once a second, the totals (for the rate chart)
 * and the commit histograms (for latency and group size over the last minute). Read by
 * `GET /dashboard/overview`; costs one `stats` and one metrics snapshot a second.
 */
import { Aggregator } from "@event-aggregator/core"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as Schedule from "effect/Schedule"
import * as DashboardApi from "@event-aggregator/api/DashboardApi"

/** A histogram as sampled: cumulative bucket counts by upper bound, count and sum. */
export interface Histogram {
  readonly bounds: ReadonlyArray<number>
  readonly cumulative: ReadonlyArray<number>
  readonly count: number
  readonly sum: number
}

const LATENCY = "event_aggregator_commit_duration_seconds"
const GROUP_SIZE = "event_aggregator_commit_batch_size"

const histogramOf = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>, name: string): Histogram | undefined => {
  for (const pair of pairs) {
    if (pair.metricKey.name !== name || !MetricState.isHistogramState(pair.metricState)) continue
    const state = pair.metricState
    return {
      bounds: state.buckets.map(([bound]) => bound),
      cumulative: state.buckets.map(([, n]) => n),
      count: state.count,
      sum: state.sum
    }
  }
  return undefined
}

/**
 * The q-quantile of what was recorded between two samples of one histogram, interpolated
 * linearly inside its bucket (as Prometheus's `histogram_quantile` does); undefined when nothing was.
 */
export const quantile = (older: Histogram | undefined, newer: Histogram, q: number): number | undefined => {
  const count = newer.count - (older?.count ?? 0)
  if (count <= 0) return undefined
  const rank = q * count
  let previousBound = 0
  let previousCount = 0
  for (let i = 0; i < newer.bounds.length; i++) {
    const cumulative = newer.cumulative[i]! - (older?.cumulative[i] ?? 0)
    const bound = newer.bounds[i]!
    if (cumulative >= rank) {
      if (!Number.isFinite(bound)) return previousBound
      const inBucket = cumulative - previousCount
      return inBucket === 0 ? bound : previousBound + (bound - previousBound) * ((rank - previousCount) / inBucket)
    }
    previousBound = bound
    previousCount = cumulative
  }
  return previousBound
}

const millis = (seconds: number | undefined): number | null => round(seconds === undefined ? undefined : seconds * 1000, 2)

interface Sample {
  readonly point: DashboardApi.HistoryPoint
  readonly latency: Histogram | undefined
  readonly size: Histogram | undefined
}

export class History extends Context.Tag("@event-aggregator/server/internal/History")<History, {
  /** Points after `since` (every point kept when undefined), oldest first. */
  readonly points: (since: number | undefined) => ReadonlyArray<DashboardApi.HistoryPoint>
  /** Commit figures over the last `COMMIT_WINDOW_SECONDS` (up to now). */
  readonly commits: Effect.Effect<typeof DashboardApi.Commits.Type>
}>() {}

const round = (x: number | undefined, digits: number): number | null =>
  x === undefined ? null : Math.round(x * 10 ** digits) / 10 ** digits

export const layer: Layer.Layer<History, never, Aggregator.Aggregator> = Layer.scoped(
  History,
  Effect.gen(function*() {
    const aggregator = yield* Aggregator.Aggregator
    const samples: Array<Sample> = []
    const startedAt = yield* Clock.currentTimeMillis
    const sample = Effect.gen(function*() {
      const [stats, now, metrics] = yield* Effect.all([aggregator.stats, Clock.currentTimeMillis, Metric.snapshot])
      samples.push({
        point: [now, stats.received, stats.unique_processed, stats.duplicate_dropped, stats.conflicts, stats.pending],
        latency: histogramOf(metrics, LATENCY),
        size: histogramOf(metrics, GROUP_SIZE)
      })
      if (samples.length > DashboardApi.HISTORY_SECONDS) samples.splice(0, samples.length - DashboardApi.HISTORY_SECONDS)
    })
    yield* Effect.forkScoped(Effect.repeat(sample, Schedule.fixed("1 second")))
    return {
      points: (since) => {
        const out: Array<DashboardApi.HistoryPoint> = []
        for (const s of samples) if (since === undefined || s.point[0] > since) out.push(s.point)
        return out
      },
      commits: Effect.map(Effect.all([Metric.snapshot, Clock.currentTimeMillis]), ([metrics, now]) => {
        // Now against the sample a minute old; while there is none yet, against start-up (the
        // histograms start empty), so every commit so far counts.
        const base = samples.length > DashboardApi.COMMIT_WINDOW_SECONDS ? samples[samples.length - 1 - DashboardApi.COMMIT_WINDOW_SECONDS] : undefined
        const latency = histogramOf(metrics, LATENCY)
        const size = histogramOf(metrics, GROUP_SIZE)
        const groups = latency === undefined ? 0 : latency.count - (base?.latency?.count ?? 0)
        const sizeCount = size === undefined ? 0 : size.count - (base?.size?.count ?? 0)
        return {
          window_seconds: Math.round((now - (base?.point[0] ?? startedAt)) / 1000),
          groups,
          latency_p50_ms: latency === undefined ? null : millis(quantile(base?.latency, latency, 0.5)),
          latency_p99_ms: latency === undefined ? null : millis(quantile(base?.latency, latency, 0.99)),
          mean_group_size: sizeCount > 0 && size !== undefined ? round((size.sum - (base?.size?.sum ?? 0)) / sizeCount, 1) : null
        }
      })
    }
  })
)
