/** Validating unknown input as events: the fast path (`accept`) and the explanation of a rejected batch (`explain`). */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import { EventId, Source, textOk, Timestamp, timestampOk, Topic } from "@event-aggregator/api/Fields"
import { duplicateKeys, RawJson } from "@event-aggregator/api/Json"
import { type Limits, payloadOf } from "./payload.js"

/** One problem of a rejected batch. */
export interface Issue {
  readonly index: number
  readonly path: string
  readonly message: string
}

/** An event with its payload as JSON text: what `accept` returns. */
export interface Accepted {
  readonly topic: string
  readonly event_id: string
  readonly timestamp: string
  readonly source: string
  readonly payload: string
}

/** The checks of `Event` on input whose payload is not text yet; used to explain rejected batches. */
const Input = Schema.Struct({
  topic: Topic,
  event_id: EventId,
  timestamp: Timestamp,
  source: Source,
  payload: Schema.declare((u: unknown): u is unknown => u !== undefined, { message: () => "payload is required" })
}).annotations({ parseOptions: { onExcessProperty: "error" } })

const decodeInputs = Schema.decodeUnknownEither(Schema.Array(Input), { errors: "all" })

const MAX_MESSAGE = 300

const clip = (message: string): string =>
  message.length <= MAX_MESSAGE ? message : `${message.slice(0, MAX_MESSAGE - 1)}…`

const toIssues = (error: ParseResult.ParseError): Array<Issue> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => {
    const [index, ...rest] = issue.path
    const path = rest.map(String).join(".")
    const message = issue._tag === "Unexpected"
      ? `unknown field ${JSON.stringify(path)}`
      : issue._tag === "Missing"
      ? `${path} is required`
      : issue.message
    return typeof index === "number"
      ? { index, path, message: clip(message) }
      : { index: -1, path: [index, ...rest].filter((p) => p !== undefined).map(String).join("."), message: clip(message) }
  })

/** Exactly five own enumerable keys, counted without allocating an array of them. */
const hasFiveKeys = (u: object): boolean => {
  let n = 0
  for (const key in u) {
    if (Object.prototype.hasOwnProperty.call(u, key) && ++n > 5) return false
  }
  return n === 5
}

/** The event `u` holds when it is valid, else undefined: the fast path, the same rules as `Input` + `payloadOf`. */
export const accept = (u: unknown, limits: Limits): Accepted | undefined => {
  if (!Predicate.isRecord(u) || u instanceof RawJson || !hasFiveKeys(u) || duplicateKeys(u) !== undefined) {
    return undefined
  }
  const { event_id, payload, source, timestamp, topic } = u
  if (
    !textOk(topic, false) || !textOk(event_id, false) || !textOk(source, true) || typeof timestamp !== "string" ||
    !timestampOk(timestamp)
  ) return undefined
  const text = payloadOf(payload, limits)
  return typeof text === "string" ? { topic, event_id, timestamp, source, payload: text } : undefined
}


/** Every problem of a batch the fast path refused, in event order. */
export const explain = (input: ReadonlyArray<unknown>, limits: Limits): Array<Issue> => {
  const decoded = decodeInputs(input)
  const issues: Array<Issue> = Either.isLeft(decoded) ? toIssues(decoded.left) : []
  for (let i = 0; i < input.length; i++) {
    const item = input[i]
    if (!Predicate.isRecord(item) || item instanceof RawJson) continue
    for (const key of duplicateKeys(item) ?? []) {
      issues.push({ index: i, path: key, message: `${JSON.stringify(key)} appears more than once in the event` })
    }
    if (item.payload !== undefined) {
      const payload = payloadOf(item.payload, limits)
      if (typeof payload !== "string") issues.push({ index: i, path: payload.path, message: clip(payload.message) })
    }
  }
  return issues.sort((a, b) => a.index - b.index)
}
