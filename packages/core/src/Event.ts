/**
 * The event: its schema, the types derived from it, validation of unknown input, and the error
 * that lists every problem of a rejected batch. A payload is kept as JSON text, exactly as it was
 * published (see `Payload`).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import { duplicateKeys, locate, RawJson, sameValue } from "./internal/json.js"

/** Default for `MAX_EVENT_BYTES`: 256 KiB of serialized payload. */
export const DEFAULT_MAX_EVENT_BYTES = 256 * 1024

/** Default for `MAX_PAYLOAD_DEPTH`: containers nested in a payload, the payload itself included. */
export const DEFAULT_MAX_PAYLOAD_DEPTH = 64

/** The largest `MAX_PAYLOAD_DEPTH` accepted. */
export const MAX_PAYLOAD_DEPTH_LIMIT = 1000

// C0 controls, DEL and C1 controls.
// oxlint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

const codePoints = (s: string): number => {
  // Only strings longer than 255 UTF-16 units can be over the limit: count them exactly then.
  let n = 0
  for (const _ of s) n++
  return n
}

/**
 * The problem of a text field, or undefined. Every store keeps exactly what it is given: lone
 * surrogates cannot be encoded as UTF-8 and NUL cannot be stored in a PostgreSQL text column, so
 * both are refused rather than altered.
 */
const textProblem = (name: string, s: string, controls: boolean): string | undefined => {
  if (s.length === 0) return `${name} must not be empty`
  if (s.length > 255 && codePoints(s) > 255) return `${name} must be at most 255 characters`
  if (!controls && CONTROL.test(s)) return `${name} must not contain control characters`
  if (controls && s.includes("\u0000")) return `${name} must not contain U+0000 (NUL)`
  if (!s.isWellFormed()) return `${name} must be valid Unicode (it has an unpaired surrogate)`
  return undefined
}

const boundedText = (name: string, options: { readonly controls: boolean }) =>
  Schema.String.pipe(
    Schema.filter((s) => textProblem(name, s, options.controls) ?? true, {
      jsonSchema: { minLength: 1, maxLength: 255 },
      description: `1–255 characters${options.controls ? ", no NUL" : ", no control characters"}`
    })
  )

/** A topic: 1–255 characters, no control characters. */
export const Topic = boundedText("topic", { controls: false })

/** An event id: 1–255 characters, no control characters; unique within its topic. */
export const EventId = boundedText("event_id", { controls: false })

/** The publisher's name: 1–255 characters (no NUL). */
export const Source = boundedText("source", { controls: true })

const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|([+-])(\d{2}):(\d{2}))?$/

const daysInMonth = (year: number, month: number): number =>
  month === 2
    ? ((year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28)
    : [4, 6, 9, 11].includes(month)
    ? 30
    : 31

/**
 * Checks an ISO 8601 / RFC 3339 date-time: a real calendar date, a valid time, an optional zone
 * (`Z` or `±hh:mm`; without one the time is read as UTC). Returns an error message or `undefined`.
 */
export const checkTimestamp = (s: string): string | undefined => {
  const m = ISO_DATE_TIME.exec(s)
  if (m === null) {
    return "timestamp must be an ISO 8601 date-time such as 2025-01-31T12:00:00Z"
  }
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  if (month < 1 || month > 12) return `timestamp has no month ${m[2]}`
  if (day < 1 || day > daysInMonth(year, month)) return `timestamp is not a calendar date (${m[1]}-${m[2]}-${m[3]})`
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59) return "timestamp has an invalid time of day"
  if (m[7] !== undefined && (Number(m[8]) > 23 || Number(m[9]) > 59)) return "timestamp has an invalid zone offset"
  return undefined
}

/** An ISO 8601 date-time, stored and returned exactly as sent. */
export const Timestamp = Schema.String.pipe(
  Schema.filter((s) => checkTimestamp(s) ?? true, {
    jsonSchema: { format: "date-time" },
    description: "ISO 8601 date-time (RFC 3339); without a zone it is read as UTC"
  })
)

/**
 * A payload: the JSON text of a JSON object, exactly as it was published (every digit of every
 * number, every escape, the publisher's whitespace). On the wire it is the object itself; in
 * the library it is this text (`JSON.parse` it, or use a lossless parser for integers beyond 2^53).
 *
 * @since 0.1.0
 */
export const Payload = Schema.String.pipe(Schema.brand("@event-aggregator/Payload")).annotations({
  identifier: "Payload",
  description: "any JSON object (may be {}), returned exactly as published",
  jsonSchema: { type: "object" }
})

/** @since 0.1.0 */
export type Payload = typeof Payload.Type

const fields = {
  topic: Topic,
  event_id: EventId,
  timestamp: Timestamp,
  source: Source,
  payload: Payload
}

/**
 * A validated event: the fields publishers send, the payload as its JSON text. Build events
 * from unknown input with `validate`.
 *
 * @since 0.1.0
 */
export const Event = Schema.Struct(fields).annotations({
  identifier: "Event",
  parseOptions: { onExcessProperty: "error" }
})

/** @since 0.1.0 */
export type Event = typeof Event.Type

/**
 * An event as stored: the published fields plus its position in the log and commit time.
 *
 * @since 0.1.0
 */
export const StoredEvent = Schema.Struct({
  ...fields,
  seq: Schema.Number,
  received_at: Schema.String
}).annotations({ identifier: "StoredEvent" })

/** @since 0.1.0 */
export type StoredEvent = typeof StoredEvent.Type

/** The dedup key of an event: `(topic, event_id)`, exact, case-sensitive. */
export interface Key {
  readonly topic: string
  readonly event_id: string
}

/** One problem of a rejected batch: which event, which field, what is wrong. */
export const Issue = Schema.Struct({
  index: Schema.Number,
  path: Schema.String,
  message: Schema.String
}).annotations({ identifier: "Issue" })

/** @since 0.1.0 */
export type Issue = typeof Issue.Type

/**
 * Some events of a batch are invalid; `issues` lists every problem. Nothing of the batch was
 * accepted.
 *
 * @since 0.1.0
 */
export class InvalidEvents extends Schema.TaggedError<InvalidEvents>()("InvalidEvents", {
  message: Schema.String,
  issues: Schema.Array(Issue)
}) {
  static fromIssues(issues: ReadonlyArray<Issue>): InvalidEvents {
    const first = issues[0]
    const head = first === undefined ? "" : `: event ${first.index}${first.path ? ` ${first.path}` : ""}: ${first.message}`
    return new InvalidEvents({
      message: `${issues.length} problem${issues.length === 1 ? "" : "s"} in the events${head}`,
      issues
    })
  }
}

/** Limits applied while validating events. */
export interface Limits {
  /** The largest serialized payload, in UTF-8 bytes (`MAX_EVENT_BYTES`). */
  readonly maxEventBytes: number
  /** The deepest nesting of containers in a payload, the payload itself included (`MAX_PAYLOAD_DEPTH`). */
  readonly maxPayloadDepth: number
}

/** Default limits. */
export const defaultLimits: Limits = {
  maxEventBytes: DEFAULT_MAX_EVENT_BYTES,
  maxPayloadDepth: DEFAULT_MAX_PAYLOAD_DEPTH
}

/**
 * The events a request body carries: one event object, an array of events, or
 * `{"events": [...]}` with nothing next to `events`. The items are not validated yet.
 *
 * @since 0.1.0
 */
export const eventsOfBody = (body: unknown): Either.Either<ReadonlyArray<unknown>, InvalidEvents> => {
  if (Array.isArray(body)) return Either.right(body)
  if (Predicate.isRecord(body) && !(body instanceof RawJson)) {
    const events = body.events
    if (Array.isArray(events)) {
      const extra = Object.keys(body).filter((k) => k !== "events")
      return extra.length === 0
        ? Either.right(events)
        : Either.left(new InvalidEvents({
          message: `unknown field${extra.length > 1 ? "s" : ""} next to "events": ${extra.join(", ")}`,
          issues: extra.map((path) => ({ index: -1, path, message: `unknown field "${path}"` }))
        }))
    }
    return Either.right([body])
  }
  return Either.left(new InvalidEvents({
    message: "the body must be an event object, an array of events, or {\"events\": [...]}",
    issues: [{ index: -1, path: "", message: "expected an object or an array" }]
  }))
}

// ---------------------------------------------------------------------------------------------
// Payloads: JSON text (from a parsed body) or a JavaScript value (from library callers).

interface Problem {
  readonly path: string
  readonly message: string
}

const utf8Bytes = (text: string, limit: number): number =>
  // UTF-8 takes at most 3 bytes per UTF-16 unit: skip the exact count when it cannot matter.
  text.length * 3 <= limit ? text.length : Buffer.byteLength(text, "utf8")

const tooLarge = (bytes: number, limits: Limits): Problem => ({
  path: "payload",
  message: `payload is ${bytes} bytes serialized, over the limit of ${limits.maxEventBytes}`
})

const tooDeep = (path: string, limits: Limits): Problem => ({
  path,
  message: `payload is nested deeper than ${limits.maxPayloadDepth} levels (MAX_PAYLOAD_DEPTH)`
})

const maxDepthOf = (limits: Limits): number => Math.min(limits.maxPayloadDepth, MAX_PAYLOAD_DEPTH_LIMIT)

/** The payload's text, or what is wrong with it, for a payload that arrived as JSON text. */
const rawPayload = (raw: RawJson, limits: Limits): Payload | Problem => {
  if (raw.kind !== "object") return { path: "payload", message: "payload must be a JSON object" }
  if (raw.depth > maxDepthOf(limits)) return tooDeep(locate(raw.text, "payload", maxDepthOf(limits) + 1), limits)
  if (raw.overflow) {
    const path = locate(raw.text, "payload", undefined)
    return { path, message: `${path} is a number beyond the range of a double (such as 1e999); it cannot be kept` }
  }
  const bytes = utf8Bytes(raw.text, limits.maxEventBytes)
  return bytes > limits.maxEventBytes ? tooLarge(bytes, limits) : (raw.text as Payload)
}

const isPlainObject = (u: object): boolean => {
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

const describeValue = (u: unknown): string =>
  u === undefined
    ? "undefined"
    : typeof u === "number"
    ? String(u)
    : typeof u === "function"
    ? "a function"
    : typeof u === "symbol"
    ? "a symbol"
    : `a ${(u as { constructor?: { name?: string } }).constructor?.name ?? "non-plain object"}`

interface Node {
  readonly value: object
  readonly depth: number
  readonly parent: Node | undefined
  readonly key: string | number
}

const pathOf = (node: Node | undefined, key?: string | number): string => {
  const keys: Array<string | number> = key === undefined ? [] : [key]
  for (let n = node; n !== undefined && n.parent !== undefined; n = n.parent) keys.push(n.key)
  let path = "payload"
  for (let i = keys.length - 1; i >= 0; i--) {
    const k = keys[i]!
    path = typeof k === "number" ? `${path}[${k}]` : /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`
  }
  return path
}

/** BigInts are written with every digit (JSON.stringify refuses them). Depth is bounded by the caller's check. */
const stringifyWithBigInts = (u: unknown): string => {
  if (typeof u === "bigint") return u.toString()
  if (typeof u !== "object" || u === null) return JSON.stringify(u)
  if (Array.isArray(u)) return `[${u.map(stringifyWithBigInts).join(",")}]`
  return `{${Object.keys(u).map((k) => `${JSON.stringify(k)}:${stringifyWithBigInts((u as Record<string, unknown>)[k])}`).join(",")}}`
}

/**
 * The JSON text of a payload given as a JavaScript value, or what is wrong with it. Only what
 * JSON can hold is accepted, so nothing is silently changed by serializing: `undefined`,
 * functions, `NaN`, `Infinity`, Dates, Maps, class instances and cycles are refused; a BigInt is
 * written with every digit. (A number already rounded by JavaScript is stored as JavaScript holds it.)
 */
const valuePayload = (payload: unknown, limits: Limits): Payload | Problem => {
  if (!Predicate.isRecord(payload) || !isPlainObject(payload)) return { path: "payload", message: "payload must be a JSON object" }
  const maxDepth = maxDepthOf(limits)
  const stack: Array<Node> = [{ value: payload, depth: 1, parent: undefined, key: "" }]
  let bigints = false
  while (stack.length > 0) {
    const node = stack.pop()!
    const entries: Array<[string | number, unknown]> = Array.isArray(node.value)
      ? Array.from(node.value, (v, i) => [i, v])
      : Object.keys(node.value).map((k) => [k, (node.value as Record<string, unknown>)[k]])
    for (const [key, v] of entries) {
      if (v === null || typeof v === "string" || typeof v === "boolean") continue
      if (typeof v === "number") {
        if (!Number.isFinite(v)) return { path: pathOf(node, key), message: `${pathOf(node, key)} is ${v}, which JSON cannot hold` }
        continue
      }
      if (typeof v === "bigint") {
        bigints = true
        continue
      }
      if (typeof v !== "object" || !(Array.isArray(v) || isPlainObject(v))) {
        return { path: pathOf(node, key), message: `${pathOf(node, key)} is ${describeValue(v)}, not a JSON value` }
      }
      if (node.depth + 1 > maxDepth) {
        for (let n: Node | undefined = node; n !== undefined; n = n.parent) {
          if (n.value === v) return { path: pathOf(node, key), message: `${pathOf(node, key)} refers back to a containing object (a cycle)` }
        }
        return tooDeep(pathOf(node, key), limits)
      }
      stack.push({ value: v, depth: node.depth + 1, parent: node, key })
    }
  }
  const text = bigints ? stringifyWithBigInts(payload) : JSON.stringify(payload)
  const bytes = utf8Bytes(text, limits.maxEventBytes)
  return bytes > limits.maxEventBytes ? tooLarge(bytes, limits) : (text as Payload)
}

const payloadOf = (u: unknown, limits: Limits): Payload | Problem =>
  u instanceof RawJson ? rawPayload(u, limits) : valuePayload(u, limits)

// ---------------------------------------------------------------------------------------------
// Validation.

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

const textOk = (s: unknown, controls: boolean): s is string =>
  typeof s === "string" && s.length > 0 && (s.length <= 255 || codePoints(s) <= 255) &&
  (controls ? !s.includes("\u0000") : !CONTROL.test(s)) && s.isWellFormed()

/** The event `u` holds when it is valid, else undefined: the fast path, the same rules as `Input` + `payloadOf`. */
const accept = (u: unknown, limits: Limits): Event | undefined => {
  if (!Predicate.isRecord(u) || u instanceof RawJson || Object.keys(u).length !== 5 || duplicateKeys(u) !== undefined) {
    return undefined
  }
  const { event_id, payload, source, timestamp, topic } = u
  if (
    !textOk(topic, false) || !textOk(event_id, false) || !textOk(source, true) || typeof timestamp !== "string" ||
    checkTimestamp(timestamp) !== undefined
  ) return undefined
  const text = payloadOf(payload, limits)
  return typeof text === "string" ? { topic, event_id, timestamp, source, payload: text } : undefined
}

/**
 * Validates unknown input as a list of events, all or nothing: either every event is valid and
 * within `limits`, or the result lists every problem found. An item is an object with the five
 * fields; its payload is either a `RawJson` (from `EventJson.parse`: kept exactly as sent) or a
 * JavaScript object (serialized; only values JSON can hold are accepted).
 *
 * @since 0.1.0
 */
export const validate = (
  input: ReadonlyArray<unknown>,
  limits: Limits
): Either.Either<ReadonlyArray<Event>, InvalidEvents> => {
  // Fast path: the rules checked directly. Only a batch with a problem pays for the schema's
  // decoding, which then explains every problem. (Measured: schema decoding was ~20% of server
  // CPU on 1,000-event batches.)
  // oxlint-disable-next-line unicorn/no-new-array -- preallocated, filled by index
  const events: Array<Event> = new Array(input.length)
  let index = 0
  for (; index < input.length; index++) {
    const event = accept(input[index], limits)
    if (event === undefined) break
    events[index] = event
  }
  if (index === input.length) return Either.right(events)

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
  if (issues.length === 0) {
    // The fast path and the explanation disagree: a bug. Refuse rather than accept unchecked input.
    issues.push({ index, path: "", message: "invalid event" })
  }
  issues.sort((a, b) => a.index - b.index)
  return Either.left(InvalidEvents.fromIssues(issues))
}

/** The key of an event as one string, for maps and logs (`topic/event_id`, unambiguous). */
export const keyString = (key: Key): string => `${key.topic.length}:${key.topic}/${key.event_id}`

/**
 * Whether two payloads hold the same JSON value: equal texts, or the same members in any order
 * and whitespace, escapes decoded, numbers compared as exact decimals.
 *
 * @since 0.1.0
 */
export const samePayload = (a: Payload, b: Payload): boolean => sameValue(a, b)
