/** `publish`: test traffic with a known share of re-sent events, then a check of the server's counters. */
import { Event } from "@event-aggregator/core"
import * as Command from "@effect/cli/Command"
import { ServerConfig } from "@event-aggregator/server"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Shared from "../internal/options.js"
import * as Remote from "../internal/client.js"

/** The server's counters moved by other amounts than what was sent. */
export class CheckFailed extends Data.TaggedError("CheckFailed")<{ readonly message: string }> {}

const options = {
  url: Options.text("url").pipe(
    Options.withDescription("the server; several --url spread the batches round-robin over instances sharing one store"),
    Options.atLeast(0)
  ),
  apiKey: Shared.apiKey,
  counts: Options.text("counts").pipe(
    Options.withDescription("events to send per run; several runs: --counts 5 5000 (or 5,5000)"),
    Options.mapEffect((text) => {
      const counts = text.split(/[,\s]+/).filter((s) => s.length > 0)
      return counts.length > 0 && counts.every((c) => /^\d+$/.test(c) && Number(c) >= 1)
        ? Effect.succeed(counts.map(Number))
        : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--counts takes whole numbers of 1 or more, got ${JSON.stringify(text)}`)))
    })
  ),
  duplicatesRatio: Options.float("duplicates-ratio").pipe(
    Options.withDescription("share of each run's events that re-send an earlier event of the run (0 to <1)"),
    Options.withDefault(0.2)
  ),
  topics: Options.integer("topics").pipe(Options.withDescription("topics to spread events over"), Options.withDefault(3)),
  batchSize: Options.integer("batch-size").pipe(Options.withDescription("events per request"), Options.withDefault(1000)),
  concurrency: Options.integer("concurrency").pipe(Options.withDescription("requests in flight"), Options.withDefault(4))
}

export const publish = Command.make("publish", options, (f) =>
  Effect.gen(function*() {
    if (!(f.duplicatesRatio >= 0 && f.duplicatesRatio < 1)) {
      return yield* new CheckFailed({ message: "--duplicates-ratio must be at least 0 and below 1" })
    }
    if (f.topics < 1 || f.batchSize < 1 || f.batchSize > ServerConfig.defaults.maxBatch || f.concurrency < 1) {
      return yield* new CheckFailed({ message: `--topics, --concurrency must be 1 or more; --batch-size 1 to ${ServerConfig.defaults.maxBatch}` })
    }
    const urls = f.url.length > 0 ? f.url : ["http://localhost:8080"]
    const clients = yield* Effect.forEach(urls, (url) => Remote.make(url, f.apiKey, 10))
    const client = clients[0]!
    const run = `${Date.now().toString(36)}-${process.pid}`
    let failed = 0
    for (const [r, count] of f.counts.entries()) {
      const resent = Math.round(count * f.duplicatesRatio)
      const unique = count - resent
      if (unique < 1) return yield* new CheckFailed({ message: `--counts ${count} is too small for that duplicates ratio` })
      const generated = Event.validate(
        Array.from({ length: unique }, (_, i) => ({
          topic: `publish-${run}-${i % f.topics}`,
          event_id: `${r}-${i}`,
          timestamp: new Date().toISOString(),
          source: "event-aggregator publish",
          payload: { run, i }
        })),
        Event.defaultLimits
      )
      if (Either.isLeft(generated)) return yield* new CheckFailed({ message: generated.left.message })
      const events = [...generated.right]
      for (let k = 0; k < resent; k++) events.push(events[(k * 7919) % unique]!)
      const batches = Array.from({ length: Math.ceil(count / f.batchSize) }, (_, b) =>
        events.slice(b * f.batchSize, (b + 1) * f.batchSize))

      const before = yield* Remote.remote(client.stats)
      const started = performance.now()
      yield* Effect.forEach(batches, (batch, b) => Remote.remote(clients[b % clients.length]!.publish(batch)), {
        concurrency: f.concurrency,
        discard: true
      })
      const seconds = (performance.now() - started) / 1000
      const after = yield* Remote.remote(client.stats)
      const delta = {
        received: after.received - before.received,
        unique_processed: after.unique_processed - before.unique_processed,
        duplicate_dropped: after.duplicate_dropped - before.duplicate_dropped
      }
      const expected = { received: count, unique_processed: unique, duplicate_dropped: resent }
      const ok = delta.received === expected.received && delta.unique_processed === expected.unique_processed &&
        delta.duplicate_dropped === expected.duplicate_dropped
      if (!ok) failed++
      yield* Console.log(
        `sent ${count} events (${unique} unique, ${resent} re-sent) in ${batches.length} requests, ${seconds.toFixed(2)}s, ` +
          `${Math.round(count / Math.max(seconds, 0.001))} events/s; server counted +${delta.received} received, ` +
          `+${delta.unique_processed} unique, +${delta.duplicate_dropped} duplicates: ` +
          (ok
            ? "OK"
            : `MISMATCH (expected +${expected.received} received, +${expected.unique_processed} unique, ` +
              `+${expected.duplicate_dropped} duplicates)`)
      )
    }
    if (failed > 0) {
      return yield* new CheckFailed({
        message: `${failed} run${failed === 1 ? "" : "s"} did not match (was other traffic reaching the server?)`
      })
    }
  }).pipe(Effect.provide(NodeHttpClient.layerUndici))).pipe(Command.withDescription(HelpDoc.blocks([
    HelpDoc.p("Send test traffic to a server: for each count, that many events in batches, of which --duplicates-ratio re-send earlier ones, then check that the server's /stats moved by exactly what was sent (exit 1 if not). Fresh topics each run, so it can be re-run against the same server; other traffic during a run makes the check fail. Each request is retried on its own after a 503 (waiting at least that response's Retry-After) or a network error; any other refusal stops the run at once."),
    HelpDoc.p("Example: event-aggregator publish --counts 5 5000 --duplicates-ratio 0.2 --topics 3 --url http://localhost:8080")
  ])))
