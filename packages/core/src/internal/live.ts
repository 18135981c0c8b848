/**
 * The live log: every commit is announced (its seq range, and its events when small enough) on a
 * sliding PubSub; a follower subscribes first, reads the store to catch up, then takes the
 * announcements, going back to the store whenever it sees a gap. So it gets every event after its
 * cursor, in seq order, with no gap and no repeat at the hand-over, and a slow follower never
 * slows a publisher: the PubSub slides (drops its oldest announcement) instead of waiting, and
 * the follower that missed it sees the gap and reads the store.
 *
 * The rule that makes the store reads safe: `seq` order is commit order in every store, so once
 * `head` reports N, every event up to N is visible to reads.
 */
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Event from "../Event.js"
import type * as EventStore from "../EventStore.js"
import { metrics } from "./metrics.js"

/** A commit, as followers learn of it. */
export interface Notice {
  readonly from: number
  readonly to: number
  /** Its new events in seq order; undefined when only the range is known (another process, a large group). */
  readonly events: ReadonlyArray<Event.StoredEvent> | undefined
  /** The same events by topic, made once per commit: a follower of one topic takes its own (no scan of all). */
  readonly byTopic: ReadonlyMap<string, ReadonlyArray<Event.StoredEvent>> | undefined
}

/** Announcements kept for the slowest follower; past that it reads the store. */
const CAPACITY = 32

/**
 * Groups larger than this are announced by range only (followers read them from the store). It is
 * the default group bound, so under load every group is announced with its events: with range-only
 * announcements 100 followers made 100 store reads per commit (0.47x the ingest rate, measured).
 * What the PubSub can hold is CAPACITY groups.
 */
const MAX_NOTICE_EVENTS = 10_000

/** Events per store read while catching up. */
const PAGE = 1_000

/** How often a shared store's head is read, in case an announcement from another process was lost. */
const POLL = Duration.seconds(1)

/** Where a follower starts: after a seq (0: from the beginning), or `"now"` (only what commits from now on). */
export interface FollowOptions {
  readonly topic?: string | undefined
  readonly after?: number | "now" | undefined
}

export interface Live {
  /** Announces a commit (called by the committer, in any order). */
  readonly committed: (
    events: ReadonlyArray<Event.Event>,
    outcomes: ReadonlyArray<EventStore.Outcome>,
    receivedAt: string
  ) => Effect.Effect<void>
  /** The events after the cursor, stored ones first, then new ones as they commit. `admit` runs before anything is read. */
  readonly follow: <E>(options: FollowOptions, admit: (followers: number) => E | undefined) => Stream.Stream<
    Event.StoredEvent,
    EventStore.StoreError | E
  >
  /** Followers now, and how many of them are reading the store to catch up. */
  readonly followers: Effect.Effect<{ readonly following: number; readonly catchingUp: number }>
  /** Ends every follower's stream (cleanly: the stream completes) and refuses new ones. */
  readonly close: Effect.Effect<void>
}

export const make = (store: EventStore.EventStore["Type"]): Effect.Effect<Live, EventStore.StoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const notices = yield* Effect.acquireRelease(PubSub.sliding<Notice>(CAPACITY), PubSub.shutdown)
    const closed = yield* Deferred.make<void>()
    let following = 0
    let catchingUp = 0
    let known = yield* store.head // the highest seq announced so far
    const count = Effect.suspend(() =>
      Effect.zipRight(Metric.set(metrics.followers, following), Metric.set(metrics.followersCatchingUp, catchingUp))
    )

    const announce = (notice: Notice): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (notice.to > known) known = notice.to
        return following > 0 ? Effect.asVoid(PubSub.publish(notices, notice)) : Effect.void
      })

    const committed: Live["committed"] = (events, outcomes, receivedAt) =>
      Effect.suspend(() => {
        let from = Number.POSITIVE_INFINITY
        let to = 0
        let accepted = 0
        for (const o of outcomes) {
          if (o.status !== "accepted") continue
          accepted++
          if (o.seq < from) from = o.seq
          if (o.seq > to) to = o.seq
        }
        if (accepted === 0) return Effect.void
        if (following === 0 || accepted > MAX_NOTICE_EVENTS) return announce({ from, to, events: undefined, byTopic: undefined })
        const stored: Array<Event.StoredEvent> = []
        let sorted = true
        for (let i = 0; i < events.length; i++) {
          const o = outcomes[i]
          if (o === undefined || o.status !== "accepted") continue
          const e = events[i]!
          // Field by field, not a spread: one object shape for every event (a spread was 4% of the process).
          stored.push({
            topic: e.topic,
            event_id: e.event_id,
            timestamp: e.timestamp,
            source: e.source,
            payload: e.payload,
            seq: o.seq,
            received_at: receivedAt
          })
          if (stored.length > 1 && stored[stored.length - 2]!.seq > o.seq) sorted = false
        }
        if (!sorted) stored.sort((a, b) => a.seq - b.seq)
        const byTopic = new Map<string, Array<Event.StoredEvent>>()
        for (const e of stored) {
          const list = byTopic.get(e.topic)
          if (list === undefined) byTopic.set(e.topic, [e])
          else list.push(e)
        }
        return announce({ from, to, events: stored, byTopic })
      })

    // With a shared store, other processes' commits (and ours again) arrive as ranges. Started with
    // the first follower, not before: a process that only publishes keeps no listening connection
    // (and a short-lived one, such as a CLI command, never opens it).
    const scope = yield* Effect.scope
    let listening = false
    const listen = (commits: Stream.Stream<EventStore.Committed, EventStore.StoreError>) =>
      Effect.suspend(() => {
        if (listening) return Effect.void
        listening = true
        const announcements = commits.pipe(
          Stream.runForEach((range) => announce({ ...range, events: undefined, byTopic: undefined })),
          Effect.tapErrorCause((cause) => Effect.logWarning("commit announcements from the store failed; retrying", cause)),
          Effect.retry(Schedule.spaced(POLL))
        )
        // The listening connection can drop without a word: a poll of the head stands behind it.
        const poll = Effect.repeat(
          Effect.suspend(() =>
            following === 0 ? Effect.void : Effect.flatMap(Effect.orElseSucceed(store.head, () => 0), (head) =>
              head > known ? announce({ from: known + 1, to: head, events: undefined, byTopic: undefined }) : Effect.void)
          ),
          Schedule.spaced(POLL)
        )
        return Effect.asVoid(Effect.zip(Effect.forkIn(announcements, scope), Effect.forkIn(poll, scope)))
      })

    const follow: Live["follow"] = <E>(options: FollowOptions, admit: (followers: number) => E | undefined) =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const refused = admit(following)
        if (refused !== undefined) return yield* Effect.fail(refused)
        if (yield* Deferred.isDone(closed)) return Stream.empty
        if (store.commits !== undefined) yield* listen(store.commits)
        // Subscribed before anything is read: a commit after this point is in the subscription.
        const subscription = yield* PubSub.subscribe(notices)
        let catching = true
        yield* Effect.acquireRelease(
          Effect.zipRight(Effect.sync(() => {
            following++
            catchingUp++
          }), count),
          () =>
            Effect.zipRight(Effect.sync(() => {
              following--
              if (catching) catchingUp--
            }), count)
        )
        const setCatching = (value: boolean) =>
          Effect.suspend(() => {
            if (value === catching) return Effect.void
            catching = value
            catchingUp += value ? 1 : -1
            return count
          })
        const topic = options.topic
        const start = options.after === "now" ? yield* store.head : options.after ?? 0
        let delivered = start // the last seq given to the follower (of its topic)
        let covered = start // every event up to here was given, or is not of its topic
        let target: number | undefined // the head when this catch-up began

        // Reads the store after `delivered`, a page a step, until a short page: then every event up
        // to the head read first has been given, and the announcements take over.
        const catchUp = Effect.gen(function*() {
          if (target === undefined) target = yield* store.head
          const rows = yield* store.read({ topic, after: delivered, limit: PAGE })
          const last = rows[rows.length - 1]
          if (last !== undefined) delivered = last.seq
          if (rows.length < PAGE) {
            covered = Math.max(covered, target, delivered)
            target = undefined
            yield* setCatching(false)
          }
          return Chunk.unsafeFromArray(rows)
        })

        const live = Effect.gen(function*() {
          const notice = yield* Queue.take(subscription)
          if (notice.to <= covered) return Chunk.empty<Event.StoredEvent>()
          if (notice.events === undefined || notice.from > covered + 1) {
            // A gap: another process's commit, a large group, or announcements that slid away.
            yield* setCatching(true)
            return Chunk.empty<Event.StoredEvent>()
          }
          const candidates = topic === undefined ? notice.events : notice.byTopic?.get(topic) ?? []
          // Events up to `covered` were given by the catch-up (a commit it read partly announced now).
          const out = candidates[0] !== undefined && candidates[0].seq > covered
            ? candidates
            : candidates.filter((e) => e.seq > covered)
          covered = notice.to
          const last = out[out.length - 1]
          if (last !== undefined) delivered = last.seq
          return Chunk.unsafeFromArray(out)
        })

        return Stream.repeatEffectChunkOption(
          Effect.mapError(Effect.suspend(() => (catching ? catchUp : live)), Option.some)
        )
      })).pipe(Stream.interruptWhen(Deferred.await(closed)))

    return {
      committed,
      follow,
      followers: Effect.sync(() => ({ following, catchingUp })),
      close: Deferred.succeed(closed, undefined)
    }
  })
