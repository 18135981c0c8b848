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
    : month === 4 || month === 6 || month === 9 || month === 11
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

/** A digit's value, or a large negative number that makes any sum it is part of invalid. */
const digit = (s: string, i: number): number => {
  const c = s.charCodeAt(i) - 48
  return c >= 0 && c <= 9 ? c : -100_000
}

const two = (s: string, i: number): number => digit(s, i) * 10 + digit(s, i + 1)

/**
 * `checkTimestamp(s) === undefined`, read character by character (the fast path: the regular
 * expression and its captures were ~15% of validating a batch). A property test holds them equal.
 */
export const timestampOk = (s: string): boolean => {
  const n = s.length
  if (n < 19 || n > 35) return false
  const year = digit(s, 0) * 1000 + digit(s, 1) * 100 + two(s, 2)
  const month = two(s, 5)
  const day = two(s, 8)
  const t = s.charCodeAt(10)
  if (
    year < 0 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || (t !== 84 && t !== 116) ||
    s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58 || month < 1 || month > 12 || day < 1 ||
    day > daysInMonth(year, month)
  ) return false
  const hours = two(s, 11)
  const minutes = two(s, 14)
  const seconds = two(s, 17)
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || seconds < 0 || seconds > 59) return false
  let i = 19
  if (s.charCodeAt(i) === 46) {
    const first = ++i
    while (i < n && digit(s, i) >= 0) i++
    if (i === first || i - first > 9) return false
  }
  if (i === n) return true
  const zone = s.charCodeAt(i)
  if (zone === 90 || zone === 122) return i + 1 === n
  if ((zone === 43 || zone === 45) && i + 6 === n && s.charCodeAt(i + 3) === 58) {
    const offsetHours = two(s, i + 1)
    const offsetMinutes = two(s, i + 4)
    return offsetHours >= 0 && offsetHours <= 23 && offsetMinutes >= 0 && offsetMinutes <= 59
  }
  return false
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
