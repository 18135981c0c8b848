/** The API key check: `Authorization: Bearer <key>` on every route but `/health` and `/ready`. */
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { timingSafeEqual } from "node:crypto"
import type * as Http from "node:http"

/** Routes open without the key: liveness and readiness probes carry no credentials. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(["/health", "/ready"])

// The scheme name is case-insensitive (RFC 7235); the key is not.
const bearer = (header: string | undefined): Buffer | undefined =>
  header !== undefined && /^bearer /i.test(header) ? Buffer.from(header.slice(7).trim()) : undefined

/** Whether a request may use `path`: always without a key, else with the key (compared in constant time). */
export const make = (apiKey: Option.Option<Redacted.Redacted<string>>) => {
  const key = Option.map(apiKey, (k) => Buffer.from(Redacted.value(k)))
  return (req: Http.IncomingMessage, path: string): boolean => {
    if (Option.isNone(key) || OPEN_PATHS.has(path)) return true
    const given = bearer(req.headers.authorization)
    return given !== undefined && given.length === key.value.length && timingSafeEqual(given, key.value)
  }
}

/** The 401 body. */
export const unauthorized = {
  error: "Unauthorized",
  message: "missing or wrong API key (Authorization: Bearer <key>)"
} as const
