/**
 * The event: its schema, the types derived from it, validation of unknown input, and the error
 * that lists every problem of a rejected batch. A payload is kept as JSON text, exactly as it was
 * published (see `Payload`).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import { Event, Issue, type Payload } from "@event-aggregator/api/Schemas"
import { duplicateKeys, RawJson } from "@event-aggregator/api/Json"
import { sameValue } from "./internal/jsonValue.js"
import * as Validation from "./internal/validation.js"

export {
  /** Checks an ISO 8601 / RFC 3339 date-time; returns an error message or `undefined`. */
  checkTimestamp,
  /** An event id: 1–255 characters, no control characters; unique within its topic. */
  EventId,
  /** The publisher's name: 1–255 characters, no NUL. */
  Source,
  /** An ISO 8601 date-time, stored and returned exactly as sent. */
  Timestamp,
  /** A topic: 1–255 characters, no control characters. */
  Topic
} from "@event-aggregator/api/Fields"

/** Default for `MAX_EVENT_BYTES`: 256 KiB of serialized payload. */
export const DEFAULT_MAX_EVENT_BYTES = 256 * 1024

/** Default for `MAX_PAYLOAD_DEPTH`: containers nested in a payload, the payload itself included. */
export const DEFAULT_MAX_PAYLOAD_DEPTH = 64

export {
  /** The largest `MAX_PAYLOAD_DEPTH` accepted. */
  MAX_PAYLOAD_DEPTH_LIMIT
} from "./internal/payload.js"

export {
  /** A validated event: the fields publishers send, the payload as its JSON text (`validate` builds them). */
  Event,
  /** One problem of a rejected batch: which event, which field, what is wrong. */
  Issue,
  /** A payload: the JSON text of a JSON object, exactly as it was published. */
  Payload,
  /** An event as stored: the published fields plus its position in the log and commit time. */
  StoredEvent
} from "@event-aggregator/api/Schemas"

/** The dedup key of an event: `(topic, event_id)`, exact, case-sensitive. */
export interface Key {
  readonly topic: string
  readonly event_id: string
}


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
    if (Array.isArray(events) && (duplicateKeys(body) ?? []).includes("events")) {
      // Only the last array would be seen: the others would be dropped without a word.
      return Either.left(new InvalidEvents({
        message: "\"events\" appears more than once in the body",
        issues: [{ index: -1, path: "events", message: "\"events\" appears more than once in the body" }]
      }))
    }
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
    const event = Validation.accept(input[index], limits)
    if (event === undefined) break
    events[index] = event as Event
  }
  if (index === input.length) return Either.right(events)
  const issues = Validation.explain(input, limits)
  // The fast path and the explanation disagree: a bug. Refuse rather than accept unchecked input.
  return Either.left(InvalidEvents.fromIssues(issues.length > 0 ? issues : [{ index, path: "", message: "invalid event" }]))
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
