/** The rules of an event's text fields, as Schemas and as plain checks (the validation fast path). */
import * as Schema from "effect/Schema"

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
export const textProblem = (name: string, s: string, controls: boolean): string | undefined => {
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

/** `textProblem` as a predicate, for the fast path. */
export const textOk = (s: unknown, controls: boolean): s is string =>
  typeof s === "string" && s.length > 0 && (s.length <= 255 || codePoints(s) <= 255) &&
  (controls ? !s.includes("\u0000") : !CONTROL.test(s)) && s.isWellFormed()
