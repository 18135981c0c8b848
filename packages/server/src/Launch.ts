/**
 * Start-up failures of a runtime reported as one line.
 *
 * @since 0.1.0
 */
import { AggregatorConfig } from "@event-aggregator/core"
import * as Cause from "effect/Cause"
import * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** One human line for a failure: config errors name the variable, others give their message (store errors say what failed). */
export const describe = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isNone(failure)) return Cause.pretty(cause)
  if (ConfigError.isConfigError(failure.value)) return `configuration error: ${AggregatorConfig.describeError(failure.value)}`
  const error = failure.value as { readonly _tag?: string; readonly message?: string; readonly cause?: unknown }
  switch (error._tag) {
    case "ServeError":
      return `cannot listen: ${describeCause(error.cause)}`
    default:
      return error.message ?? String(error)
  }
}

const describeCause = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/** Prints a failure to start (or to keep running) as one line on stderr; interruption is a clean stop. */
export const reportFailure = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.tapErrorCause(effect, (cause) =>
    Cause.isInterruptedOnly(cause) ? Effect.void : Console.error(`event-aggregator: ${describe(cause)}`))
