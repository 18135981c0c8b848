/** `ingest`: events from files, directories or stdin into a local store (SQLite by default) or a running server. */
import { Aggregator, AggregatorConfig, Event } from "@event-aggregator/core"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import { ServerConfig } from "@event-aggregator/server"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Input from "../internal/input.js"
import * as Local from "../internal/local.js"
import * as Shared from "../internal/options.js"
import * as Progress from "../internal/progress.js"
import * as Remote from "../internal/client.js"

/** Some input was rejected: the run finished, and the exit code says so. */
export class Rejected extends Data.TaggedError("Rejected")<{ readonly message: string }> {}

type SinkError = Remote.RemoteError | { readonly message: string }

interface Sink {
  /** Sends a batch; resumes with the effect that awaits its counts. */
  readonly submit: (events: ReadonlyArray<Event.Event>) => Effect.Effect<Effect.Effect<Aggregator.Summary, SinkError>, SinkError>
}

/**
 * Local ingest keeps up to this many events in flight, so the file is read and validated while the
 * store commits what came before (on SQLite, on its writer thread).
 */
const LOCAL_WINDOW = 100_000

const localSink = (where: Shared.Local, sqliteWriter: "thread" | "inline") =>
  Effect.map(
    // One worker: batches commit in file order, so the first copy of a key in the files wins.
    // Groups up to half the window: one commits while the next fills.
    Local.open(where, { workerCount: 1, maxGroupEvents: LOCAL_WINDOW / 2, queueMaxSize: 0, sqliteWriter }),
    (aggregator) => ({
      submit: (events) => Effect.map(aggregator.submit(events), Effect.map(Aggregator.summarize))
    } satisfies Sink)
  )

const remoteSink = (url: string, apiKey: Shared.ApiKey) =>
  Effect.map(Remote.make(url, apiKey, 10), (client) => ({
    // Always durable: a count is only known once committed, whatever the server's ACK_MODE.
    // One request at a time, so batches are stored in file order.
    submit: (events) => Effect.map(Remote.remote(client.publish(events)), Effect.succeed)
  } satisfies Sink))

const options = {
  inputs: Args.text({ name: "file|dir|-" }).pipe(
    Args.withDescription("NDJSON (.ndjson/.jsonl), JSON (.json: an array, one event or {\"events\": [...]}), a directory of those, or - for NDJSON on stdin"),
    Args.atLeast(1)
  ),
  ...Shared.local,
  url: Shared.url,
  apiKey: Shared.apiKey,
  batchSize: Options.integer("batch-size").pipe(
    Options.withDescription("events per request (remote) or per batch handed to the store (local: the store commits up to 50,000 at once while the next are read)"),
    Options.withDefault(1000)
  ),
  sqliteWriter: Options.choice("sqlite-writer", ["thread", "inline"]).pipe(
    Options.withDescription("local SQLite: commit on a writer thread while the files are read (default), or inline (less memory); default $SQLITE_WRITER or thread"),
    Options.withFallbackConfig(Config.literal("thread", "inline")("SQLITE_WRITER")),
    Options.withDefault("thread" as const)
  ),
  rejects: Options.file("rejects").pipe(
    Options.withDescription("write every rejected record to this file as NDJSON {where, reason, input}"),
    Options.optional
  ),
  quiet: Options.boolean("quiet").pipe(Options.withDescription("no progress output"))
}

export const ingest = Command.make("ingest", options, (f) =>
  Effect.gen(function*() {
    if (f.batchSize < 1 || f.batchSize > ServerConfig.defaults.maxBatch) {
      return yield* Effect.fail(new Rejected({ message: `--batch-size must be 1 to ${ServerConfig.defaults.maxBatch}` }))
    }
    const limits: Event.Limits = {
      maxEventBytes: yield* AggregatorConfig.maxEventBytes,
      maxPayloadDepth: yield* AggregatorConfig.maxPayloadDepth
    }
    const files = yield* Effect.try({
      try: () => Input.expand(f.inputs),
      catch: (error) => new Rejected({ message: `cannot read input: ${(error as Error).message}` })
    })
    const sink: Sink = Option.isSome(f.url)
      ? yield* remoteSink(f.url.value, f.apiKey)
      : yield* localSink(f, f.sqliteWriter)
    const rejects = Option.map(f.rejects, (path) => Fs.openSync(path, "w"))
    yield* Effect.addFinalizer(() => Effect.sync(() => Option.map(rejects, (fd) => Fs.closeSync(fd))))

    const counts: Progress.Counts = { read: 0, accepted: 0, duplicates: 0, conflicts: 0, rejected: 0 }
    const progress = Progress.make(Input.totalBytes(files), !f.quiet)
    const started = performance.now()
    /** `input`: the record's JSON text (written as is, so its payload is exact), or `null`. */
    const reject = (where: string, reason: string, input: string) => {
      counts.rejected++
      process.stderr.write(`${where}: ${reason}\n`)
      if (Option.isSome(rejects)) {
        // Line breaks in a parsed JSON text are whitespace between tokens: folding them keeps one line per record.
        Fs.writeSync(
          rejects.value,
          `{"where":${JSON.stringify(where)},"reason":${JSON.stringify(reason)},"input":${input.replace(/[\r\n]+/g, " ")}}\n`
        )
      }
    }
    const inFlight: Array<{ readonly size: number; readonly done: Effect.Effect<Aggregator.Summary, SinkError> }> = []
    let inFlightEvents = 0
    const settleOldest = Effect.suspend(() => {
      const oldest = inFlight.shift()!
      inFlightEvents -= oldest.size
      return Effect.map(oldest.done, (s) => {
        counts.accepted += s.accepted
        counts.duplicates += s.duplicates
        counts.conflicts += s.conflicts
        progress.update(counts)
      })
    })
    const flush = (batch: Array<Event.Event>) =>
      Effect.gen(function*() {
        inFlight.push({ size: batch.length, done: yield* sink.submit(batch) })
        inFlightEvents += batch.length
        while (inFlightEvents > LOCAL_WINDOW) yield* settleOldest
      })

    const records = Input.chunks(Input.read(files, progress.bytes), 1000)[Symbol.asyncIterator]()
    let batch: Array<Event.Event> = []
    for (;;) {
      const next = yield* Effect.tryPromise({
        try: () => records.next(),
        catch: (error) => new Rejected({ message: `cannot read input: ${(error as Error).message}` })
      })
      if (next.done) break
      // The chunk's records validated in one call (the common case: all valid); only a chunk with a
      // problem is validated record by record, to say which.
      const parsed = next.value.flatMap((record) => ("error" in record ? [] : [record.value]))
      const whole = Event.validate(parsed, limits)
      let at = 0
      for (const record of next.value) {
        counts.read++
        if ("error" in record) {
          reject(record.where, record.error, JSON.stringify(record.raw ?? null))
          continue
        }
        const valid = Either.isRight(whole) ? whole : Event.validate([record.value], limits)
        if (Either.isRight(valid)) {
          batch.push(valid.right[valid === whole ? at++ : 0]!)
        } else {
          // Messages about a payload value already start with its path (payload.a.b is ...).
          const reason = valid.left.issues
            .map((i) => (i.path && !i.message.startsWith(i.path) ? `${i.path}: ${i.message}` : i.message))
            .join("; ")
          reject(record.where, reason, record.text)
          continue
        }
        if (batch.length >= f.batchSize) {
          yield* flush(batch)
          batch = []
        }
      }
    }
    if (batch.length > 0) yield* flush(batch)
    while (inFlight.length > 0) yield* settleOldest
    progress.update(counts)
    progress.stop()

    const seconds = (performance.now() - started) / 1000
    const valid = counts.read - counts.rejected
    yield* Console.log(
      `read ${counts.read}, accepted ${counts.accepted}, duplicates ${counts.duplicates}, conflicts ${counts.conflicts}, ` +
        `rejected ${counts.rejected}, time ${seconds.toFixed(2)}s, ${Math.round(valid / Math.max(seconds, 0.001))} events/s`
    )
    if (counts.rejected > 0) {
      return yield* Effect.fail(new Rejected({ message: `${counts.rejected} record${counts.rejected === 1 ? "" : "s"} rejected` }))
    }
  }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici))).pipe(Command.withDescription(HelpDoc.blocks([
    HelpDoc.p("Ingest events from files, directories or stdin, streaming (files of any size). Locally through the same Aggregator and store as the server (the SQLite file --db by default; --store postgres --database-url ... for PostgreSQL), or into a running server with --url (batches over HTTP, retried with backoff on network errors and 503, each wait at least the server's Retry-After; safe because publishing is idempotent; any other refusal stops the ingest at once with the server's message)."),
    HelpDoc.p("Payloads are kept exactly as written in the files (every digit of int64 ids, 1.50, escapes); a value that cannot be kept (1e999) or a payload nested deeper than MAX_PAYLOAD_DEPTH rejects its record. Each invalid record is reported as file:line, file[index] or file:events[index]: reason, and skipped; the others are still ingested. The exit code is 1 when any record was rejected. Re-running the same ingest accepts nothing new."),
    HelpDoc.p("Examples: event-aggregator ingest events.ndjson data/ --db data/dedup.sqlite --rejects rejects.ndjson\n          event-aggregator ingest events.ndjson --store postgres --database-url postgres://user@db:5432/events\n          cat events.ndjson | event-aggregator ingest --url http://localhost:8080 -   (options before -)")
  ])))
