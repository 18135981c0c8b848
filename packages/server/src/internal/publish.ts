/** POST /publish as plain translation: request body and query in, aggregator call, response body out. */
import { Aggregator, Event, EventJson, EventStore, type Idempotency } from "@event-aggregator/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Api from "../Api.js"
import * as IdempotencyKey from "./idempotencyKey.js"

export interface Params {
  readonly ack: "durable" | "queued"
  readonly detail: boolean
}

export type Response =
  | { readonly status: 200; readonly body: typeof Api.PublishResult.Type }
  | { readonly status: 202; readonly body: typeof Api.Queued.Type }

/** Every error body `POST /publish` can answer with. */
export type PublishError =
  | typeof Api.BadRequest.Type
  | typeof Api.PayloadTooLarge.Type
  | typeof Api.UnsupportedMediaType.Type
  | typeof Api.InvalidEvents.Type
  | typeof Api.QueueFull.Type
  | typeof Api.ShuttingDown.Type
  | typeof Api.StoreUnavailable.Type

const badRequest = (message: string): typeof Api.BadRequest.Type => ({ error: "BadRequest", message })

/** Reads `ack` and `detail`; `ack` defaults to the server's `ACK_MODE`. */
export const parseParams = (
  ack: string | null | undefined,
  detail: string | null | undefined,
  defaultAck: Params["ack"]
): Either.Either<Params, typeof Api.BadRequest.Type> => {
  if (ack != null && ack !== "durable" && ack !== "queued") {
    return Either.left(badRequest(`ack must be durable or queued, got ${JSON.stringify(ack)}`))
  }
  if (detail != null && detail !== "true" && detail !== "false" && detail !== "1" && detail !== "0") {
    return Either.left(badRequest(`detail must be true or false, got ${JSON.stringify(detail)}`))
  }
  return Either.right({ ack: ack ?? defaultAck, detail: detail === "true" || detail === "1" })
}

export type BodyKind = "json" | "ndjson"

/** Only JSON's own whitespace makes an NDJSON line blank (a line of U+00A0 is malformed, not skipped). */
const BLANK = /^[ \t\r]*$/

const NDJSON_TYPES = new Set(["application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"])

/** The body kind of a Content-Type header, or undefined when unsupported. */
export const bodyKind = (contentType: string | undefined): BodyKind | undefined => {
  if (contentType === undefined) return undefined
  const semi = contentType.indexOf(";")
  const media = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
  if (media === "application/json" || (media.startsWith("application/") && media.endsWith("+json"))) return "json"
  if (NDJSON_TYPES.has(media)) return "ndjson"
  return undefined
}

export const unsupportedMediaType = (contentType: string | undefined): typeof Api.UnsupportedMediaType.Type => ({
  error: "UnsupportedMediaType",
  message: `Content-Type must be application/json or application/x-ndjson, got ${
    contentType === undefined ? "none" : JSON.stringify(contentType)
  }`
})

/**
 * Parses a body into the list of (not yet validated) events, every shape of SPEC.md. Payloads stay
 * the exact text they arrived in (`EventJson.parse`), so nothing of them can change on the way.
 */
export const parseBody = (
  kind: BodyKind,
  text: string,
  maxBatch: number
): Either.Either<ReadonlyArray<unknown>, PublishError> => {
  if (kind === "json") {
    const body = EventJson.parse(text)
    if (Either.isLeft(body)) return Either.left(badRequest(`malformed JSON: ${body.left.message}`))
    const list = shape(body.right)
    return Either.isRight(list) && list.right.length > maxBatch ? Either.left(tooManyEvents(maxBatch)) : list
  }
  const items: Array<unknown> = []
  let start = 0
  for (let line = 1; start <= text.length; line++) {
    const end = text.indexOf("\n", start)
    const stop = end === -1 ? text.length : end
    const content = text.slice(start, stop)
    start = stop + 1
    if (BLANK.test(content)) continue
    const item = EventJson.parse(content)
    if (Either.isLeft(item)) {
      return Either.left(badRequest(`malformed JSON on line ${line}, column ${item.left.column}: ${item.left.reason}`))
    }
    items.push(item.right)
    if (items.length > maxBatch) return Either.left(tooManyEvents(maxBatch))
  }
  return Either.right(items)
}

export const tooManyEvents = (limit: number): typeof Api.PayloadTooLarge.Type => ({
  error: "PayloadTooLarge",
  message: `more than ${limit} events in one request (MAX_BATCH)`,
  limit
})

/** One event, an array of events, or `{"events": [...]}` (the core's rule), as an error body. */
export const shape = (body: unknown): Either.Either<ReadonlyArray<unknown>, typeof Api.InvalidEvents.Type> =>
  Either.mapLeft(Event.eventsOfBody(body), (e) => ({ error: "InvalidEvents", message: e.message, issues: e.issues }))

/** The core's failures as error bodies. */
export const fromCoreError = (
  error: Aggregator.QueueFull | Aggregator.BatchTooLarge | Aggregator.ShuttingDown | EventStore.StoreError | { readonly _tag: "InvalidEvents"; readonly message: string; readonly issues: ReadonlyArray<{ index: number; path: string; message: string }> }
): PublishError => {
  switch (error._tag) {
    case "InvalidEvents":
      return { error: "InvalidEvents", message: error.message, issues: error.issues }
    case "QueueFull":
      return { error: "QueueFull", message: error.message, capacity: error.capacity }
    case "BatchTooLarge":
      return { error: "PayloadTooLarge", message: error.message, limit: error.capacity }
    case "ShuttingDown":
      return { error: "ShuttingDown", message: error.message }
    case "StoreError":
      return { error: "StoreUnavailable", message: `${error.message}; nothing of the request was accepted` }
  }
}

/**
 * A durable publish under an `Idempotency-Key`: parsing and validating run only when the key has
 * no stored response; the answer is the response text (stored, or replayed byte for byte).
 */
export const runKeyed = (
  aggregator: Aggregator.Aggregator["Type"],
  request: Idempotency.Request,
  list: Effect.Effect<ReadonlyArray<unknown>, PublishError>
): Effect.Effect<Idempotency.Outcome, PublishError | KeyError> =>
  aggregator.publishIdempotent(
    request,
    Effect.flatMap(list, (items) => Effect.mapError(aggregator.validate(items), fromCoreError))
  ).pipe(
    Effect.mapError((error) =>
      typeof error === "object" && "error" in error
        ? error
        : error._tag === "IdempotencyKeyInUse" || error._tag === "IdempotencyKeyReused"
        ? IdempotencyKey.fromError(error)
        : fromCoreError(error)
    )
  )

type KeyError = typeof Api.IdempotencyKeyInUse.Type | typeof Api.IdempotencyKeyReused.Type

/** Validates (all or nothing) and publishes with the requested ack. */
export const run = (
  aggregator: Aggregator.Aggregator["Type"],
  list: ReadonlyArray<unknown>,
  params: Params
): Effect.Effect<Response, PublishError> =>
  aggregator.validate(list).pipe(
    Effect.flatMap((events): Effect.Effect<Response, Aggregator.QueueFull | Aggregator.BatchTooLarge | Aggregator.ShuttingDown | EventStore.StoreError> => {
      if (params.ack === "queued") {
        return Effect.as(aggregator.enqueue(events), {
          status: 202,
          body: { received: events.length, queued: events.length }
        })
      }
      return Effect.map(aggregator.publish(events), (outcomes) => ({
        status: 200,
        body: Aggregator.result(outcomes, params.detail)
      }))
    }),
    Effect.mapError(fromCoreError)
  )
