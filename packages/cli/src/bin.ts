#!/usr/bin/env node
/** The `event-aggregator` executable. Failures print one line on stderr and exit 1. */
import { Launch } from "@event-aggregator/server"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { run } from "./Cli.js"

/** `--counts 5 5000` (the seed's spelling) is read as `--counts 5,5000`. */
const expandCounts = (argv: ReadonlyArray<string>): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    out.push(argv[i]!)
    if (argv[i] === "--counts") {
      const values: Array<string> = []
      while (i + 1 < argv.length && /^\d+$/.test(argv[i + 1]!)) values.push(argv[++i]!)
      if (values.length > 0) out.push(values.join(","))
    }
  }
  return out
}

run(expandCounts(process.argv)).pipe(
  // @effect/cli has already printed its own validation errors with help.
  Effect.tapErrorCause((cause) => {
    const failure = Cause.failureOption(cause)
    if (Cause.isInterruptedOnly(cause) || (Option.isSome(failure) && ValidationError.isValidationError(failure.value))) {
      return Effect.void
    }
    return Console.error(`event-aggregator: ${Launch.describe(cause)}`)
  }),
  // Commands other than serve keep the core's per-group logs out of their output.
  Logger.withMinimumLogLevel(process.argv[2] === "serve" ? LogLevel.All : LogLevel.Warning),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
