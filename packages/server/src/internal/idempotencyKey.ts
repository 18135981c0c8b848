/**
 * `Idempotency-Key` on `POST /publish`: the header read and checked, the request it names (scoped
 * to the API key it came with, fingerprinted with everything that decides its response), and the
 * core's answer as HTTP. The rules are the core's (`Idempotency`, `Aggregator.publishIdempotent`).
 */
import { Idempotency } from "@event-aggregator/core"
import * as Either from "effect/Either"
import type * as Http from "node:http"
import type * as Api from "../Api.js"
import type * as Publish from "./publish.js"

/** The header's value, if the request has one. */
export const header = (req: Http.IncomingMessage): string | undefined => {
  const value = req.headers["idempotency-key"]
  return Array.isArray(value) ? value.join(", ") : value
}

const badRequest = (message: string): typeof Api.BadRequest.Type => ({ error: "BadRequest", message })

/** Checks a key and its parameters: 1 to 255 characters, and a durable ack (the record is written by the commit). */
export const check = (key: string, params: Publish.Params): Either.Either<string, typeof Api.BadRequest.Type> => {
  const problem = Idempotency.checkKey(key)
  if (problem !== undefined) return Either.left(badRequest(problem))
  if (params.ack !== "durable") {
    return Either.left(badRequest("Idempotency-Key needs ack=durable: its response is stored when the events commit"))
  }
  return Either.right(key)
}

/** The API key a request came with (checked already), hashed: keys are scoped per API key. */
const scopeOf = (req: Http.IncomingMessage, apiKeys: boolean): string => {
  if (!apiKeys) return ""
  const authorization = req.headers.authorization ?? ""
  return Idempotency.fingerprint([authorization.slice(7).trim()])
}

/** The request a key names: body kind, `detail` and body text decide its response, so all three are fingerprinted. */
export const request = (
  req: Http.IncomingMessage,
  key: string,
  apiKeys: boolean,
  kind: Publish.BodyKind,
  params: Publish.Params,
  text: string
): Idempotency.Request => ({
  scope: scopeOf(req, apiKeys),
  key,
  fingerprint: Idempotency.fingerprint([kind, params.detail ? "detail" : "summary", text]),
  detail: params.detail
})

/** The core's refusals as error bodies. */
export const fromError = (
  error: Idempotency.KeyInUse | Idempotency.KeyReused
): typeof Api.IdempotencyKeyInUse.Type | typeof Api.IdempotencyKeyReused.Type =>
  error._tag === "IdempotencyKeyInUse"
    ? { error: "IdempotencyKeyInUse", message: error.message }
    : { error: "IdempotencyKeyReused", message: error.message }
