/** `stats` and `events` (and `events --follow`): read a running server (--url) or a local store (SQLite --db by default, or --store). */
import { type Aggregator, type Event, EventJson, type EventStore, Page } from "@event-aggregator/core"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Chunk from "effect/Chunk"
import type * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Local from "../internal/local.js"
import * as Shared from "../internal/options.js"
import * as Output from "../internal/output.js"
import * as Remote from "../internal/client.js"
import * as Table from "../internal/table.js"

const source = { url: Shared.url, ...Shared.local, apiKey: Shared.apiKey, json: Shared.json }

const readStats = (f: Shared.Local & { readonly url: Option.Option<string>; readonly apiKey: Shared.ApiKey }) =>
  Option.isSome(f.url)
    ? Effect.flatMap(Remote.make(f.url.value, f.apiKey, 3), (c) => Remote.remote(c.stats)).pipe(
      Effect.provide(NodeHttpClient.layerUndici)
    )
    : Effect.flatMap(Local.open(f), (a) => a.stats)

const renderStats = (s: Aggregator.Stats): string => {
  const totals = Table.table(["counter", "value"], [
    ["received", String(s.received)],
    ["unique_processed", String(s.unique_processed)],
    ["duplicate_dropped", String(s.duplicate_dropped)],
    ["conflicts", String(s.conflicts)],
    ["pending", String(s.pending)],
    ["topics", String(s.topics.length)],
    ["workers", String(s.workers)],
    ["queue_capacity", s.queue_capacity === null ? "unbounded" : String(s.queue_capacity)],
    ["started_at", s.started_at],
    ["uptime", `${s.uptime.toFixed(1)}s`]
  ])
  const topics = Table.table(
    ["topic", "unique_processed", "duplicate_dropped", "conflicts"],
    s.topics.map((t) => {
      const c = s.per_topic[t]!
      return [t, String(c.unique_processed), String(c.duplicate_dropped), String(c.conflicts)]
    })
  )
  return s.topics.length === 0 ? totals : `${totals}\n\n${topics}`
}

export const stats = Command.make("stats", source, (f) =>
  Effect.gen(function*() {
    const s = yield* readStats(f)
    yield* Console.log(f.json ? JSON.stringify(s, null, 2) : renderStats(s))
  }).pipe(Effect.scoped)).pipe(Command.withDescription(HelpDoc.blocks([
    HelpDoc.p("Show the counters (received, unique, duplicates, conflicts, pending, per topic) of a server or of a local store (the SQLite file --db, or --store postgres --database-url ...)."),
    HelpDoc.p("Examples: event-aggregator stats --url http://localhost:8080\n          event-aggregator stats --db data/dedup.sqlite --json")
  ])))

/**
 * A payload's text for one table cell, shortened. Line breaks and tabs in a JSON text can only be
 * whitespace between tokens (inside strings they are escaped), so folding each run of whitespace
 * holding one into a space changes no value and keeps the row on one line.
 */
const shortPayload = (text: string): string => {
  const line = text.replace(/[ \t]*[\t\n\r][ \t\n\r]*/g, " ")
  return line.length > 60 ? `${line.slice(0, 57)}...` : line
}

const HEADERS = ["seq", "topic", "event_id", "timestamp", "source", "payload"]

/** One table row of an event, as `events` prints it, with or without --follow. */
const row = (e: Event.StoredEvent) => [String(e.seq), e.topic, e.event_id, e.timestamp, e.source, shortPayload(e.payload)]

/**
 * A stored event as one NDJSON line. A payload published over several lines has them as
 * whitespace between tokens (inside strings they are escaped), so each line break becomes a
 * space: every value, digit and escape stays as stored, and the event stays on its line.
 */
const jsonLine = (e: Event.StoredEvent): string => {
  const text = EventJson.stringifyStored(e)
  return /[\r\n]/.test(text) ? text.replace(/\r\n|[\r\n]/g, " ") : text
}

/** `--after`: a seq or `now`. Without it: 0 (the whole log), or with --follow `now` (only what commits from then on). */
const cursorOf = (text: Option.Option<string>, follow: boolean): Either.Either<number | "now", string> => {
  if (Option.isNone(text)) return Either.right(follow ? "now" : 0)
  if (text.value === "now") return Either.right("now")
  const n = /^\d+$/.test(text.value) ? Number(text.value) : Number.NaN
  return Number.isSafeInteger(n)
    ? Either.right(n)
    : Either.left(`--after must be an integer of 0 or more${follow ? ", or now" : ""}, got ${JSON.stringify(text.value)}`)
}

interface FollowFlags extends Shared.Local {
  readonly url: Option.Option<string>
  readonly apiKey: Shared.ApiKey
  readonly json: boolean
  readonly topic: Option.Option<string>
}

/** `events --follow`: prints each event as it arrives until interrupted (Ctrl-C, SIGTERM: exit 0) or stdout's reader leaves. */
const follow = (f: FollowFlags, after: number | "now") =>
  Effect.gen(function*() {
    const topic = Option.getOrUndefined(f.topic)
    const events: Stream.Stream<
      Event.StoredEvent,
      Remote.RemoteError | EventStore.StoreError | Aggregator.TooManyFollowers | ConfigError.ConfigError
    > = Option.isSome(f.url)
      ? Stream.unwrap(Effect.map(Remote.make(f.url.value, f.apiKey, 1), (client) =>
        client.follow({
          topic,
          after,
          onReconnect: (r) => Console.error(`event-aggregator: ${Remote.reconnecting(r)}`)
        }).pipe(Stream.mapError((error) => new Remote.RemoteError({ message: Remote.describe(error) }))))).pipe(
          Stream.provideLayer(NodeHttpClient.layerUndici)
        )
      : Stream.unwrapScoped(Effect.map(Local.open(f), (a) => a.follow({ topic, after })))
    const rows = Table.streaming(HEADERS)
    // One write per batch that arrives (a catch-up page, a commit group), not one per event.
    const render = f.json
      ? (batch: Chunk.Chunk<Event.StoredEvent>) => `${Chunk.join(Chunk.map(batch, jsonLine), "\n")}\n`
      : (batch: Chunk.Chunk<Event.StoredEvent>) => rows(Chunk.map(batch, row))
    const output = yield* Output.make
    yield* events.pipe(
      Stream.runForEachChunk((batch) => (Chunk.isEmpty(batch) ? Effect.void : output.write(render(batch)))),
      Effect.catchTag("StdoutClosed", () => Effect.void)
    )
  })

export const events = Command.make("events", {
  ...source,
  topic: Options.text("topic").pipe(Options.withDescription("only this topic"), Options.optional),
  after: Options.text("after").pipe(
    Options.withDescription("events after this seq (default 0); with --follow, a seq or now (default now)"),
    Options.optional
  ),
  limit: Options.integer("limit").pipe(
    Options.withDescription(`at most this many (1-${Page.MAX_LIMIT}, default 100); not with --follow`),
    Options.optional
  ),
  follow: Options.boolean("follow").pipe(
    Options.withAlias("f"),
    Options.withDescription("keep printing events as they commit, until Ctrl-C")
  )
}, (f) =>
  Effect.gen(function*() {
    const after = yield* Effect.mapError(cursorOf(f.after, f.follow), (message) => new Remote.RemoteError({ message }))
    if (f.follow) {
      if (Option.isSome(f.limit)) {
        return yield* Effect.fail(
          new Remote.RemoteError({
            message: "--limit does not apply with --follow, which prints every event until interrupted (for a fixed count: | head -n N)"
          })
        )
      }
      return yield* follow(f, after)
    }
    if (after === "now") {
      return yield* Effect.fail(new Remote.RemoteError({ message: "--after now needs --follow (without it, events lists what is stored)" }))
    }
    const limit = Option.getOrElse(f.limit, () => 100)
    const params = { topic: Option.getOrUndefined(f.topic), after, limit }
    const problem = Page.check(after, limit)
    if (problem !== undefined) return yield* Effect.fail(new Remote.RemoteError({ message: `--${problem}` }))
    const page = Option.isSome(f.url)
      ? yield* Effect.flatMap(Remote.make(f.url.value, f.apiKey, 3), (c) => Remote.remote(c.events(params))).pipe(
        Effect.provide(NodeHttpClient.layerUndici)
      )
      : yield* Effect.flatMap(Local.open(f), (a) => a.events(params))
    // Payloads are printed as stored: spliced in as JSON text, never re-serialized.
    if (f.json) return yield* Console.log(EventJson.stringifyPage(page))
    yield* Console.log(Table.table(HEADERS, page.events.map(row)))
    yield* Console.log(page.next_after === null ? "(end of log)" : `(more: --after ${page.next_after})`)
  }).pipe(Effect.scoped)).pipe(Command.withDescription(HelpDoc.blocks([
    HelpDoc.p("List stored events in commit order (ascending seq), from a server or a local store (the SQLite file --db, or --store postgres --database-url ...). Payloads are shown exactly as stored (every digit, every escape): shortened in the table, whole with --json (one line: {\"events\": [...], \"next_after\": n | null})."),
    HelpDoc.p("With --follow (-f), print each event as it commits, one line each (a table row; with --json one stored event per line, NDJSON, where a payload's line breaks, whitespace between its tokens, print as spaces), until Ctrl-C or SIGTERM (exit 0). It starts at now, like kafka-console-consumer without --from-beginning: only events committed from then on. --after 0 prints the whole log first, --after N resumes after seq N (the last seq you have). --limit does not apply. With --url it reads the server's event stream; when the connection drops, the server restarts or answers 503, it reconnects with backoff from the last seq printed (a line on stderr says so), so no event is printed twice or skipped (except with --after now, before the first event). A 400 or 401 ends it at once."),
    HelpDoc.p("Examples: event-aggregator events --url http://localhost:8080 --topic orders --limit 20\n          event-aggregator events --db data/dedup.sqlite --after 1000 --json\n          event-aggregator events --follow --url http://localhost:8080 --topic orders --after 0 --json")
  ])))
