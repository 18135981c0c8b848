/**
 * Events on the wire, payloads untouched: the body of `POST /publish` (each payload's JSON text
 * spliced in as is) and stored events read from the server's answers with the lossless scanner
 * (each payload kept as the text the server sent; `JSON.parse` would round int64s).
 */
import * as EventJson from "@event-aggregator/api/EventJson"
import * as Schemas from "@event-aggregator/api/Schemas"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import { InvalidEvents } from "../ClientError.js"

const unwritable = (error: unknown) => `cannot be written as JSON (${error instanceof Error ? error.message : String(error)})`

/** JSON text of `value` (`JSON.stringify`), or why it has none (a BigInt, a cycle, a function). */
const stringify = (value: unknown): Either.Either<string, string> => {
  try {
    const text: string | undefined = JSON.stringify(value)
    return text === undefined ? Either.left("cannot be written as JSON") : Either.right(text)
  } catch (error) {
    return Either.left(unwritable(error))
  }
}

/** The text of one payload to send, or what is wrong with it. */
const payloadText = (payload: unknown): Either.Either<string, string> => {
  if (typeof payload !== "string") return stringify(payload)
  // Text is sent as is, but only when it is one JSON value: anything else could add members to
  // the event, or whole events to the body.
  const raw = EventJson.raw(payload)
  return Either.isRight(raw) ? Either.right(raw.right.text) : Either.left(`is not JSON text (${raw.left.message})`)
}

/** One event of the body, or the problem that keeps it from being written. */
const eventText = (e: unknown, index: number): Either.Either<string, Schemas.Issue> => {
  if (!Predicate.isRecord(e) || e.payload === undefined) {
    return Either.mapLeft(stringify(e), (message) => ({ index, path: "", message }))
  }
  const { payload, ...rest } = e
  const head = stringify(rest)
  if (Either.isLeft(head)) return Either.left({ index, path: "", message: head.left })
  const p = payloadText(payload)
  if (Either.isLeft(p)) return Either.left({ index, path: "payload", message: p.left })
  return Either.right(head.right === "{}" ? `{"payload":${p.right}}` : `${head.right.slice(0, -1)},"payload":${p.right}}`)
}

/**
 * The body of `POST /publish` for `input`: JSON text is sent as is; events become a JSON array,
 * each payload given as text spliced in exactly, each given as a value written by
 * `JSON.stringify`. Everything else is the server's to validate (it lists every problem); only
 * what cannot be written as JSON fails here, in the server's words.
 */
export const publishBody = (input: unknown): Either.Either<string, InvalidEvents> => {
  if (typeof input === "string") return Either.right(input)
  const events: ReadonlyArray<unknown> = Array.isArray(input) ? input : [input]
  const issues: Array<Schemas.Issue> = []
  let body = "["
  for (let index = 0; index < events.length; index++) {
    const text = eventText(events[index], index)
    if (Either.isLeft(text)) issues.push(text.left)
    else body += index === 0 ? text.right : `,${text.right}`
  }
  const first = issues[0]
  if (first === undefined) return Either.right(`${body}]`)
  return Either.left(
    new InvalidEvents({
      message: `${issues.length} problem${issues.length === 1 ? "" : "s"} in the events: event ${first.index}${
        first.path ? ` ${first.path}` : ""
      }: ${first.message}`,
      issues
    })
  )
}

/** An event as `EventJson.parse` gives it, its payload (kept as `RawJson`) turned back into its text. */
const withPayloadText = (e: unknown): unknown => {
  if (!Predicate.isRecord(e) || !(e.payload instanceof EventJson.RawJson)) return e
  const raw = e.payload
  return { ...e, payload: raw.kind === "object" ? raw.text : undefined }
}

const decodePage = Schema.decodeUnknownEither(Schemas.Page)
const decodeStored = Schema.decodeUnknownEither(Schemas.StoredEvent)

const problem = (error: ParseResult.ParseError) => ParseResult.TreeFormatter.formatErrorSync(error)

/** A page of `GET /events` from its text, payloads kept as the text the server sent; or what is wrong with it. */
export const pageOf = (text: string): Either.Either<Schemas.Page, string> => {
  const parsed = EventJson.parse(text)
  if (Either.isLeft(parsed)) return Either.left(parsed.left.message)
  const body = parsed.right
  if (!Predicate.isRecord(body) || !Array.isArray(body.events)) return Either.left("no events array")
  return Either.mapLeft(decodePage({ ...body, events: body.events.map(withPayloadText) }), problem)
}

/** One stored event from its JSON text (an answer of `GET /events/{topic}/{event_id}`, the data of a stream message). */
export const storedOf = (text: string): Either.Either<Schemas.StoredEvent, string> => {
  const parsed = EventJson.parse(text)
  if (Either.isLeft(parsed)) return Either.left(parsed.left.message)
  return Either.mapLeft(decodeStored(withPayloadText(parsed.right)), problem)
}
