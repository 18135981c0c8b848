/** The Aggregator over the configured store (EVENT_STORE or --store; SQLite at `--db` by default), for local commands. */
import { Aggregator, AggregatorConfig, EventStore } from "@event-aggregator/core"
import { StoreConfig } from "@event-aggregator/server"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Shared from "./options.js"

const build = <E>(where: Shared.Local, store: Layer.Layer<EventStore.EventStore, E, AggregatorConfig.AggregatorConfig>) =>
  Effect.map(
    Layer.build(Aggregator.layer.pipe(
      Layer.provideMerge(store),
      Layer.provide(AggregatorConfig.layerFromEnv({ dbPath: where.db }))
    )),
    (context) => Context.get(context, Aggregator.Aggregator)
  )

export const open = (where: Shared.Local) => build(where, StoreConfig.layerFromEnv(Shared.storeOverrides(where)))

/** How often a follower reads the head of a store that announces no commits (SQLite). */
const POLL = Duration.millis(250)

/**
 * The commits of a store that announces none (SQLite, whose writer is another process: a server
 * or an ingest), learned by reading its head. Without them a follower in this process would learn
 * only of this process's commits, and a CLI commits none.
 */
const polledCommits = (store: EventStore.EventStore["Type"]): Stream.Stream<EventStore.Committed, EventStore.StoreError> =>
  Stream.unwrap(Effect.map(store.head, (start) => {
    let known = start
    return Stream.repeatEffectWithSchedule(store.head, Schedule.spaced(POLL)).pipe(
      Stream.filterMap((head) => {
        if (head <= known) return Option.none()
        const range = { from: known + 1, to: head }
        known = head
        return Option.some(range)
      })
    )
  }))

/** For `events --follow`: the same Aggregator, whose followers also see what other processes commit to the store. */
export const openFollowing = (where: Shared.Local) =>
  build(
    where,
    Layer.effect(
      EventStore.EventStore,
      Effect.map(EventStore.EventStore, (store) => (store.commits === undefined ? { ...store, commits: polledCommits(store) } : store))
    ).pipe(Layer.provide(StoreConfig.layerFromEnv(Shared.storeOverrides(where))))
  )
