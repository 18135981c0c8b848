/**
 * Request-level idempotency for durable publishes (the `Idempotency-Key` header,
 * draft-ietf-httpapi-idempotency-key-header): a request's response is stored with its key and a
 * fingerprint of the request, in the transaction that commits its events, for `IDEMPOTENCY_TTL`.
 * The same key again replays that response; with another request it is refused; while the first is
 * still in flight it is refused too.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Crypto from "node:crypto"
import type * as EventStore from "./EventStore.js"
import { render } from "./internal/publishResponse.js"
import * as Retention from "./Retention.js"

/** Longest key accepted (characters). */
export const MAX_KEY_LENGTH = 255

/** How long a stored response is kept by default: 24 hours, in milliseconds (`IDEMPOTENCY_TTL`). */
export const DEFAULT_TTL_MILLIS = 24 * 60 * 60 * 1000

/** A key in its scope (the API key it came with, hashed; empty without API keys). */
export interface Key {
  readonly scope: string
  readonly key: string
}

/**
 * One string per key (scope and key cannot run into each other), for maps and sets of keys.
 *
 * @since 0.1.0
 */
export const keyId = (key: Key): string => `${key.scope}\u0000${key.key}`

/**
 * A keyed request: the key, a fingerprint of everything that decides its response (the body and the
 * parameters), and whether its response lists each event's outcome.
 */
export interface Request extends Key {
  readonly fingerprint: string
  readonly detail: boolean
}

/** A response as stored and replayed: the status and the exact body text. */
export interface Response {
  readonly status: number
  readonly body: string
}

/** What a keyed request found: a stored response (`replayed`), or the response it produced. */
export interface Outcome extends Response {
  readonly replayed: boolean
}

/** A stored record of a key. */
export interface Stored extends Response {
  readonly fingerprint: string
}

/**
 * What claiming a key found: its stored response, nothing (the key is now this request's), or
 * another request holding it (in flight on another instance).
 */
export type Claim =
  | { readonly _tag: "Stored"; readonly stored: Stored }
  | { readonly _tag: "Claimed" }
  | { readonly _tag: "InFlight" }

/**
 * A keyed request's part of an append: its events are `count` events from `start` of the appended
 * list; the store writes its record (the response of those events' outcomes) in the same
 * transaction. Plain data: it crosses threads.
 */
export interface Pending extends Request {
  readonly start: number
  readonly count: number
  /** Epoch milliseconds after which the record is forgotten. */
  readonly expiresAt: number
}

/** The record a pending request gets, given the outcomes of the whole append it was part of. */
export const recordOf = (pending: Pending, outcomes: ReadonlyArray<EventStore.Outcome>): Stored => ({
  fingerprint: pending.fingerprint,
  status: 200,
  body: render(outcomes.slice(pending.start, pending.start + pending.count), pending.detail)
})

/**
 * The same key is being processed by an earlier request that has not finished (HTTP 409 with
 * `Retry-After`): retry once it has.
 *
 * @since 0.1.0
 */
export class KeyInUse extends Schema.TaggedError<KeyInUse>()("IdempotencyKeyInUse", {
  message: Schema.String
}) {}

/**
 * The key was used with another request (body or parameters): HTTP 422. A key names one request.
 *
 * @since 0.1.0
 */
export class KeyReused extends Schema.TaggedError<KeyReused>()("IdempotencyKeyReused", {
  message: Schema.String
}) {}

/** Why a key is not acceptable, or undefined when it is (1 to 255 characters). */
export const checkKey = (key: string): string | undefined =>
  key.length >= 1 && key.length <= MAX_KEY_LENGTH
    ? undefined
    : `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} characters, got ${key.length}`

/** SHA-256 of the parts (each length-prefixed, so no two lists of parts share a digest), hex. */
export const fingerprint = (parts: ReadonlyArray<string>): string => {
  const hash = Crypto.createHash("sha256")
  for (const part of parts) hash.update(`${Buffer.byteLength(part)}:`).update(part)
  return hash.digest("hex")
}

/**
 * Parses a duration such as `90s`, `15m`, `24h`, `30d` (or `500ms`) into milliseconds; `undefined`
 * when the text is not one. The same spelling as the retention settings (`Retention.parseMillis`).
 */
export const parseDuration: (text: string) => number | undefined = Retention.parseMillis
