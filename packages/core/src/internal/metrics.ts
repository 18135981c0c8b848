/** The Aggregator's metrics (Prometheus-style, exported by the server), updated once per commit group. */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"

export const metrics = {
  received: Metric.counter("event_aggregator_events_received_total", {
    description: "Events received into the queue",
    incremental: true
  }),
  unique: Metric.counter("event_aggregator_events_unique_total", {
    description: "Events stored as unique",
    incremental: true
  }),
  duplicates: Metric.counter("event_aggregator_events_duplicate_total", {
    description: "Events dropped as duplicates (conflicts included)",
    incremental: true
  }),
  conflicts: Metric.counter("event_aggregator_events_conflict_total", {
    description: "Duplicates whose fields differ from the stored copy",
    incremental: true
  }),
  replayed: Metric.counter("event_aggregator_idempotent_replays_total", {
    description: "Publishes with an Idempotency-Key answered with their stored response (counted nowhere else)",
    incremental: true
  }),
  failed: Metric.counter("event_aggregator_events_failed_total", {
    description: "Events whose commit failed (not stored, not counted as received)",
    incremental: true
  }),
  queueDepth: Metric.gauge("event_aggregator_queue_depth", {
    description: "Events received and not yet committed"
  }),
  commitSize: Metric.histogram(
    "event_aggregator_commit_batch_size",
    MetricBoundaries.exponential({ start: 1, factor: 4, count: 9 }),
    "Events per commit group"
  ),
  commitSeconds: Metric.histogram(
    "event_aggregator_commit_duration_seconds",
    MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 14 }),
    "Time to commit one group"
  ),
  followers: Metric.gauge("event_aggregator_followers", {
    description: "Followers of the log in this process (library streams, SSE, long-polls)"
  }),
  followersCatchingUp: Metric.gauge("event_aggregator_followers_catching_up", {
    description: "Followers reading the store to catch up (behind the live announcements)"
  }),
  pruned: Metric.counter("event_aggregator_events_pruned_total", {
    description: "Events removed by retention (RETENTION) by this process",
    incremental: true
  }),
  forgotten: Metric.counter("event_aggregator_keys_forgotten_total", {
    description: "Keys forgotten by this process past their dedup window (DEDUP_WINDOW): the same key is accepted anew",
    incremental: true
  }),
  keyRecords: Metric.gauge("event_aggregator_key_records", {
    description: "Keys whose event was pruned and that are still remembered (late re-sends stay duplicates)"
  })
}
