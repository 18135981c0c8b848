/**
 * Reading the log a page at a time: the bounds of a page request and the page it gets.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Event from "./Event.js"

import { DEFAULT_LIMIT, MAX_LIMIT, type Page } from "@event-aggregator/api/Schemas"

export {
  /** Events per page when the reader does not say. */
  DEFAULT_LIMIT,
  /** Most events one page holds. */
  MAX_LIMIT
} from "@event-aggregator/api/Schemas"

/**
 * Payload text one page holds at most (32 MiB): past it the page ends early, with `next_after`
 * set, so a page of large events stays a reasonable response (and within a string's limit).
 */
export const MAX_BYTES = 32 * 1024 * 1024

/** A position in the log: events with a greater `seq` follow it (0 = from the beginning). */
export const After = Schema.Int.pipe(Schema.nonNegative())

/** How many events a page holds at most. */
export const Limit = Schema.Int.pipe(Schema.between(1, MAX_LIMIT))

/**
 * A page request: events with `seq > after`, ascending, at most `limit`, of `topic` if given.
 *
 * @since 0.1.0
 */
export const Request = Schema.Struct({
  topic: Schema.optional(Schema.String),
  after: After,
  limit: Limit
})

/** @since 0.1.0 */
export type Request = typeof Request.Type

const describe = (text: unknown, name: "after" | "limit"): string =>
  name === "after"
    ? `after must be an integer of 0 or more, got ${JSON.stringify(text)}`
    : `limit must be an integer from 1 to ${MAX_LIMIT}, got ${JSON.stringify(text)}`

/**
 * What is wrong with `after` and `limit`, or undefined when both are in bounds.
 *
 * @since 0.1.0
 */
export const check = (after: number, limit: number): string | undefined =>
  !Number.isSafeInteger(after) || after < 0
    ? describe(after, "after")
    : !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT
    ? describe(limit, "limit")
    : undefined

/**
 * A page request from query text (`?topic=&after=&limit=`): a missing or empty value means the
 * default; the error names what was sent.
 *
 * @since 0.1.0
 */
export const RequestFromQuery = Schema.transformOrFail(
  Schema.Struct({
    topic: Schema.optional(Schema.String),
    after: Schema.optional(Schema.String),
    limit: Schema.optional(Schema.String)
  }),
  Request,
  {
    strict: true,
    decode: (query, _, ast) => {
      const read = (text: string | undefined, fallback: number, name: "after" | "limit") =>
        text === undefined || text === ""
          ? Either.right(fallback)
          : /^\d{1,15}$/.test(text)
          ? Either.right(Number(text))
          : Either.left(new ParseResult.Type(ast, text, describe(text, name)))
      return Either.gen(function*() {
        const after = yield* read(query.after, 0, "after")
        const limit = yield* read(query.limit, DEFAULT_LIMIT, "limit")
        const problem = check(after, limit)
        if (problem !== undefined) return yield* Either.left(new ParseResult.Type(ast, query, problem))
        return query.topic === undefined ? { after, limit } : { topic: query.topic, after, limit }
      })
    },
    encode: (request) =>
      ParseResult.succeed({
        ...(request.topic === undefined ? {} : { topic: request.topic }),
        after: String(request.after),
        limit: String(request.limit)
      })
  }
)

export {
  /**
   * A page of the log: `next_after` is the seq to pass as `after` for the next page, or null when
   * nothing more is stored right now.
   *
   * @since 0.1.0
   */
  Page
} from "@event-aggregator/api/Schemas"

/** Rows read per store call at first; later calls read as many as the byte budget leaves room for. */
const FIRST_READ = 100

/**
 * Reads one page with `read` (a store's page read): at most `limit` events and about `MAX_BYTES`
 * of payload text (always at least one event). It reads in steps sized by the events seen so
 * far, so large events are never all held at once, and one event beyond tells whether more follow.
 *
 * @since 0.1.0
 */
export const collect = <E>(
  read: (request: { readonly topic?: string | undefined; readonly after: number; readonly limit: number }) => Effect.Effect<
    ReadonlyArray<Event.StoredEvent>,
    E
  >,
  request: { readonly topic?: string | undefined; readonly after: number; readonly limit: number }
): Effect.Effect<Page, E> =>
  Effect.gen(function*() {
    const events: Array<Event.StoredEvent> = []
    let bytes = 0
    let after = request.after
    let step = Math.min(FIRST_READ, request.limit + 1)
    for (;;) {
      const rows = yield* read({ topic: request.topic, after, limit: step })
      for (const row of rows) {
        if (events.length === request.limit || (events.length > 0 && bytes + row.payload.length > MAX_BYTES)) {
          return { events, next_after: events[events.length - 1]!.seq }
        }
        events.push(row)
        bytes += row.payload.length
      }
      if (rows.length < step) return { events, next_after: null }
      after = rows[rows.length - 1]!.seq
      const average = Math.max(1, bytes / events.length)
      step = Math.max(1, Math.min(request.limit - events.length + 1, Math.floor((MAX_BYTES - bytes) / average) + 1))
    }
  })
