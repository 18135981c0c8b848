/** The command tree of `event-aggregator`. */
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import { ingest } from "./commands/ingest.js"
import { publish } from "./commands/publish.js"
import { events, stats } from "./commands/read.js"
import { serve } from "./commands/serve.js"

export const command = Command.make("event-aggregator").pipe(
  Command.withDescription(HelpDoc.p("Idempotent event ingestion: each (topic, event_id) is stored and counted once.")),
  Command.withSubcommands([serve, ingest, publish, stats, events])
)

export const run = Command.run(command, { name: "event-aggregator", version: "0.1.0" })
