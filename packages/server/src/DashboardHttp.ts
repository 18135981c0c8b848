/**
 * Handlers of the `dashboard` group: the overview the page polls each second and its topic table.
 *
 * @since 0.1.0
 */
import { Aggregator, EventStore } from "@event-aggregator/core"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Api from "./Api.js"
import type * as DashboardApi from "@event-aggregator/api/DashboardApi"
import { History } from "./internal/history.js"
import { Listener } from "./internal/listener.js"

/** @since 0.1.0 */
export const DashboardHttpLive = HttpApiBuilder.group(Api.ServedApi, "dashboard", (handlers) =>
  Effect.gen(function*() {
    const aggregator = yield* Aggregator.Aggregator
    const listener = yield* Listener
    const history = yield* History
    return handlers
      .handle("overview", ({ urlParams }) =>
        Effect.gen(function*() {
          const { per_topic: _, topics, ...totals } = yield* aggregator.stats
          const overview: DashboardApi.Overview = {
            state: listener.draining ? "draining" : listener.ready ? "ready" : "starting",
            store: aggregator.storeKind,
            now: yield* Clock.currentTimeMillis,
            totals: { ...totals, topic_count: topics.length },
            commits: yield* history.commits,
            history: history.points(urlParams.since)
          }
          return overview
        }))
      .handle("topics", () =>
        Effect.gen(function*() {
          const [stats, times] = yield* Effect.all([aggregator.stats, aggregator.lastEventTimes])
          const topics: Array<DashboardApi.TopicRow> = stats.topics.map((topic) => ({
            topic,
            ...stats.per_topic[topic]!,
            last_event_at: times.get(topic) ?? null
          }))
          return { topics }
        }).pipe(Effect.catchTag("StoreError", (e: EventStore.StoreError) =>
          Effect.fail<typeof Api.StoreUnavailable.Type>({ error: "StoreUnavailable", message: e.message }))))
  })
)
