/**
 * Events as JSON text, without altering payloads: reading a request body or a page (each
 * `payload` kept as the exact text it arrived in) and writing stored events (the stored payload
 * text spliced in as is). `JSON.parse` would round integers beyond 2^53 and turn `1e999` into
 * `Infinity`; this scanner never builds a payload at all, so nothing can change on the way.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Json from "./Json.js"
import type { StoredEvent } from "./Schemas.js"

export {
  /**
   * A JSON value kept as the exact text it arrived in. The core's `Event.validate` accepts it as a payload.
   *
   * @since 0.1.0
   */
  RawJson
} from "./Json.js"

/**
 * Text that is not JSON. `offset` is where the problem is (UTF-16 units), `line` and `column`
 * count from 1.
 *
 * @since 0.1.0
 */
export class JsonSyntaxError extends Data.TaggedError("JsonSyntaxError")<{
  readonly message: string
  /** What is wrong, without the position. */
  readonly reason: string
  readonly offset: number
  readonly line: number
  readonly column: number
}> {}

const syntaxError = (text: string, error: Json.JsonSyntaxError): JsonSyntaxError => {
  let line = 1
  let lineStart = 0
  const end = Math.min(error.offset, text.length)
  for (let i = text.indexOf("\n"); i !== -1 && i < end; i = text.indexOf("\n", i + 1)) {
    line++
    lineStart = i + 1
  }
  const column = end - lineStart + 1
  return new JsonSyntaxError({
    message: `${error.reason} at line ${line}, column ${column}`,
    reason: error.reason,
    offset: error.offset,
    line,
    column
  })
}

const capture = <A>(text: string, f: () => A): Either.Either<A, JsonSyntaxError> => {
  try {
    return Either.right(f())
  } catch (error) {
    if (error instanceof Json.JsonSyntaxError) return Either.left(syntaxError(text, error))
    throw error
  }
}

/** Non-payload values are built up to this depth; deeper ones (never valid) stay text. */
const BUILD_DEPTH = 32

/**
 * Parses a JSON text holding events: one event, an array of events, `{"events": [...]}`, or a
 * page (`{"events": [...], "next_after": n}`). Every `payload` member of an object at most three
 * containers deep is kept as a `RawJson` (its exact text); everything else is built as
 * `JSON.parse` would. The core gives the result to `Event.eventsOfBody` and `Event.validate`; clients read
 * stored events and pages with it.
 *
 * @since 0.1.0
 */
export const parse = (text: string): Either.Either<unknown, JsonSyntaxError> =>
  capture(text, () => Json.parse(text, { rawMember: "payload", rawDepth: 3, buildDepth: BUILD_DEPTH }))

/**
 * One JSON value kept as text (for a payload a caller already holds as JSON text).
 *
 * @since 0.1.0
 */
export const raw = (text: string): Either.Either<Json.RawJson, JsonSyntaxError> => capture(text, () => Json.scan(text))

/**
 * A stored event as JSON, its payload spliced in exactly as stored.
 *
 * @since 0.1.0
 */
export const stringifyStored = (e: StoredEvent): string =>
  `{"topic":${JSON.stringify(e.topic)},"event_id":${JSON.stringify(e.event_id)},"timestamp":${
    JSON.stringify(e.timestamp)
  },"source":${JSON.stringify(e.source)},"payload":${e.payload},"seq":${e.seq},"received_at":${
    JSON.stringify(e.received_at)
  }}`

/**
 * A page of stored events as JSON (`{"events": [...], "next_after": n | null}`, with
 * `"pruned_before": n` when retention removed events after the cursor).
 *
 * @since 0.1.0
 */
export const stringifyPage = (page: {
  readonly events: ReadonlyArray<StoredEvent>
  readonly next_after: number | null
  readonly pruned_before?: number | undefined
}): string =>
  `{"events":[${page.events.map(stringifyStored).join(",")}],"next_after":${page.next_after}${
    page.pruned_before === undefined ? "" : `,"pruned_before":${page.pruned_before}`
  }}`
