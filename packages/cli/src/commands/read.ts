/** `stats` and `events`: read a running server (--url) or a local store (SQLite --db by default, or --store). */
import { type Aggregator, EventJson, Page } from "@event-aggregator/core"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Local from "../internal/local.js"
import * as Shared from "../internal/options.js"
import * as Remote from "../internal/remote.js"
import { table } from "../internal/table.js"

const source = { url: Shared.url, ...Shared.local, apiKey: Shared.apiKey, json: Shared.json }

const readStats = (f: Shared.Local & { readonly url: Option.Option<string>; readonly apiKey: Shared.ApiKey }) =>
  Option.isSome(f.url)
    ? Effect.flatMap(Remote.make(f.url.value, f.apiKey, 3), (c) => c.stats).pipe(Effect.provide(NodeHttpClient.layerUndici))
    : Effect.flatMap(Local.open(f), (a) => a.stats)

const renderStats = (s: Aggregator.Stats): string => {
  const totals = table(["counter", "value"], [
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
  const topics = table(
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

export const events = Command.make("events", {
  ...source,
  topic: Options.text("topic").pipe(Options.withDescription("only this topic"), Options.optional),
  after: Options.integer("after").pipe(Options.withDescription("events after this seq"), Options.withDefault(0)),
  limit: Options.integer("limit").pipe(Options.withDescription(`at most this many (1-${Page.MAX_LIMIT})`), Options.withDefault(100))
}, (f) =>
  Effect.gen(function*() {
    const params = { topic: Option.getOrUndefined(f.topic), after: f.after, limit: f.limit }
    const problem = Page.check(f.after, f.limit)
    if (problem !== undefined) return yield* Effect.fail(new Remote.RemoteError({ message: `--${problem}` }))
    const page = Option.isSome(f.url)
      ? yield* Effect.flatMap(Remote.make(f.url.value, f.apiKey, 3), (c) => c.events(params)).pipe(
        Effect.provide(NodeHttpClient.layerUndici)
      )
      : yield* Effect.flatMap(Local.open(f), (a) => a.events(params))
    // Payloads are printed as stored: spliced in as JSON text, never re-serialized.
    if (f.json) return yield* Console.log(EventJson.stringifyPage(page))
    yield* Console.log(table(
      ["seq", "topic", "event_id", "timestamp", "source", "payload"],
      page.events.map((e) => [String(e.seq), e.topic, e.event_id, e.timestamp, e.source, shortPayload(e.payload)])
    ))
    yield* Console.log(page.next_after === null ? "(end of log)" : `(more: --after ${page.next_after})`)
  }).pipe(Effect.scoped)).pipe(Command.withDescription(HelpDoc.blocks([
    HelpDoc.p("List stored events in commit order (ascending seq), from a server or a local store (the SQLite file --db, or --store postgres --database-url ...). Payloads are shown exactly as stored (every digit, every escape): shortened in the table, whole with --json (one line: {\"events\": [...], \"next_after\": n | null})."),
    HelpDoc.p("Examples: event-aggregator events --url http://localhost:8080 --topic orders --limit 20\n          event-aggregator events --db data/dedup.sqlite --after 1000 --json")
  ])))
