/** stdout for output that goes on until interrupted: backpressure, a flush on the way out, and a reader that went away (`| head`) ends it quietly. */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** stdout's reader went away (EPIPE): nothing more can be printed. */
export class Closed extends Data.TaggedError("StdoutClosed") {}

export interface Output {
  /** Writes `text`; waits while the reader is behind. */
  readonly write: (text: string) => Effect.Effect<void, Closed>
}

/** stdout while the scope is open; closing the scope (end, Ctrl-C) waits until what was written has left the process. */
export const make: Effect.Effect<Output, never, Scope.Scope> = Effect.gen(function*() {
  const out = process.stdout
  let closed = false
  // Without a listener, an EPIPE would be an uncaught exception with a stack trace.
  const onError = () => {
    closed = true
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => out.on("error", onError)),
    () => Effect.sync(() => out.off("error", onError))
  )
  yield* Effect.addFinalizer(() =>
    Effect.async<void>((resume) => {
      if (closed || out.destroyed) return resume(Effect.void)
      // Written in order: its callback runs once everything before it is flushed.
      out.write("", () => resume(Effect.void))
    })
  )

  const write = (text: string) =>
    Effect.async<void, Closed>((resume) => {
      if (closed || out.destroyed) return resume(Effect.fail(new Closed()))
      if (out.write(text)) return resume(Effect.void)
      const done = () => {
        out.off("drain", done)
        out.off("close", done)
        resume(closed || out.destroyed ? Effect.fail(new Closed()) : Effect.void)
      }
      out.on("drain", done)
      out.on("close", done)
      return Effect.sync(() => {
        out.off("drain", done)
        out.off("close", done)
      })
    })

  return { write }
})
