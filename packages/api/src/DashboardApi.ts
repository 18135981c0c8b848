/**
 * What the dashboard reads besides the API's own routes: an overview (totals, state, commit
 * figures and a per-second history) and a table of topics. Part of the contract (`Api`), so the
 * page is typed against these schemas and a change breaks its build.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { Stats } from "./Schemas.js"

/** Seconds of history the server keeps, one point a second: the chart's 15 minutes. */
export const HISTORY_SECONDS = 900

/** Seconds over which commit latency and group size are reported. */
export const COMMIT_WINDOW_SECONDS = 60

/**
 * One second of history: `[t (ms since the epoch), received, unique_processed, duplicate_dropped,
 * conflicts, pending]`, the totals as sampled at `t` (rates are differences of neighbours).
 */
export const HistoryPoint = Schema.Tuple(Schema.Number, Schema.Number, Schema.Number, Schema.Number, Schema.Number, Schema.Number)
  .annotations({ identifier: "HistoryPoint" })

export type HistoryPoint = typeof HistoryPoint.Type

/** Commit groups over the last `window_seconds`: latency quantiles (from the histogram's buckets) and mean size. */
export const Commits = Schema.Struct({
  window_seconds: Schema.Number,
  groups: Schema.Number,
  latency_p50_ms: Schema.NullOr(Schema.Number),
  latency_p99_ms: Schema.NullOr(Schema.Number),
  mean_group_size: Schema.NullOr(Schema.Number)
}).annotations({ identifier: "Commits" })

/** `GET /stats` without the per-topic parts, plus how many topics there are. */
export const Totals = Stats.omit("per_topic", "topics").pipe(
  Schema.extend(Schema.Struct({ topic_count: Schema.Number }))
).annotations({ identifier: "Totals" })

export const Overview = Schema.Struct({
  /** `starting`, `ready` or `draining` (what `/ready` says). */
  state: Schema.Literal("starting", "ready", "draining"),
  /** The store kind: `sqlite`, `memory` or `postgres`. */
  store: Schema.String,
  /** The server's clock (ms since the epoch). */
  now: Schema.Number,
  totals: Totals,
  commits: Commits,
  /** Points after `since` (all kept when it is absent), oldest first, at most `HISTORY_SECONDS`. */
  history: Schema.Array(HistoryPoint)
}).annotations({ identifier: "Overview" })

export type Overview = typeof Overview.Type

export const OverviewParams = Schema.Struct({
  since: Schema.optional(Schema.NumberFromString.annotations({
    description: "only history points after this time (ms since the epoch): a poller sends the last `t` it has"
  }))
})

export const TopicRow = Schema.Struct({
  topic: Schema.String,
  unique_processed: Schema.Number,
  duplicate_dropped: Schema.Number,
  conflicts: Schema.Number,
  /** `received_at` of the topic's newest event. */
  last_event_at: Schema.NullOr(Schema.String)
}).annotations({ identifier: "TopicRow" })

export type TopicRow = typeof TopicRow.Type

export const Topics = Schema.Struct({ topics: Schema.Array(TopicRow) }).annotations({ identifier: "Topics" })

export type Topics = typeof Topics.Type
