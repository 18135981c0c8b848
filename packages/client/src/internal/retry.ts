/**
 * When to try again: the server's `Retry-After`, and the backoff of one request (jittered,
 * exponential, capped), each wait at least what the failed attempt's answer asked for.
 */
import { RETRY_AFTER_SECONDS } from "@event-aggregator/api/Api"
import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"
import { type ClientError, isRetryable } from "../ClientError.js"

/** A Retry-After beyond this is read as this: a wrong header must not stall a client for hours. */
const RETRY_AFTER_CAP = Duration.minutes(2)

/** Without a readable Retry-After, a 503 waits this long (the server's own default). */
const RETRY_AFTER_DEFAULT = Duration.seconds(RETRY_AFTER_SECONDS)

/** `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3), bounded by `RETRY_AFTER_CAP`. */
export const retryAfterOf = (header: string | undefined, now: number): Duration.Duration => {
  if (header === undefined) return RETRY_AFTER_DEFAULT
  const text = header.trim()
  const millis = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now
  return Number.isNaN(millis)
    ? RETRY_AFTER_DEFAULT
    : Duration.min(Duration.millis(Math.max(millis, 0)), RETRY_AFTER_CAP)
}

/** The least wait before the next attempt that `error`'s answer asked for. */
export const retryAfter = (error: ClientError): Duration.Duration =>
  error._tag === "Unavailable" ? Duration.millis(error.retryAfterMillis) : Duration.zero

export interface Settings {
  /** Retries after the first attempt. */
  readonly times: number
  /** The first backoff; each next one doubles. */
  readonly base: Duration.Duration
  /** The longest backoff (a `Retry-After` may ask for longer). */
  readonly cap: Duration.Duration
}

/**
 * The retry policy of one request: jittered exponential backoff capped at `cap`, at most `times`
 * retries, each wait at least the failed attempt's own Retry-After, and only while the failure
 * is retryable. Built per call, so concurrent requests never share a wait.
 */
export const policy = (settings: Settings) =>
  Schedule.exponential(settings.base).pipe(
    Schedule.either(Schedule.spaced(settings.cap)),
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(settings.times)),
    Schedule.zipRight(Schedule.identity<ClientError>()),
    Schedule.modifyDelay((error, delay) => Duration.max(delay, retryAfter(error))),
    Schedule.whileInput(isRetryable)
  )
