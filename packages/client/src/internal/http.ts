/**
 * Answers and failures of one attempt, as the client's errors: the server's error bodies
 * (`{"error": "<Tag>", "message": "...", ...}`) by status, and failures to get an answer.
 */
import * as Schemas from "@event-aggregator/api/Schemas"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import {
  BadRequest,
  type ClientError,
  InvalidEvents,
  PayloadTooLarge,
  type ReadError,
  RequestError,
  ResponseError,
  Unauthorized,
  Unavailable
} from "../ClientError.js"
import { retryAfterOf } from "./retry.js"

/** An error body of the API. */
export interface ErrorBody {
  readonly error: string
  readonly message: string
  readonly [key: string]: unknown
}

const errorBodyOf = (text: string): ErrorBody | undefined => {
  try {
    const body: unknown = JSON.parse(text)
    return Predicate.isRecord(body) && typeof body.error === "string" && typeof body.message === "string"
      ? { ...body, error: body.error, message: body.message }
      : undefined
  } catch {
    return undefined
  }
}

/** The API error body of an answer, if it has one. */
export const errorBody = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<ErrorBody | undefined> =>
  Effect.map(Effect.orElseSucceed(response.text, () => ""), errorBodyOf)

const decodeIssues = Schema.decodeUnknownEither(Schema.Array(Schemas.Issue))

/** The name of a 5xx answer that had no API error body. */
const statusName: Record<number, string> = { 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout" }

/**
 * What an answer the call does not take as success means: 401, 400, 413, 422 and 503 by the
 * contract (`retryable`: 502 and 504 too, while following); every other status is unexpected.
 */
export const refusalOf = (
  response: HttpClientResponse.HttpClientResponse,
  body: ErrorBody | undefined,
  retryable: ReadonlySet<number> = only503
): ClientError => {
  const status = response.status
  const message = body?.message ?? `the server answered ${status} to ${response.request.method} ${response.request.url}`
  if (retryable.has(status)) {
    return new Unavailable({
      error: body?.error ?? statusName[status] ?? `HTTP ${status}`,
      message,
      status,
      retryAfterMillis: Duration.toMillis(retryAfterOf(response.headers["retry-after"], Date.now())),
      attempts: 1
    })
  }
  switch (status) {
    case 400:
      return new BadRequest({ message })
    case 401:
      return new Unauthorized({ message })
    case 413:
      return new PayloadTooLarge(typeof body?.limit === "number" ? { message, limit: body.limit } : { message })
    case 422: {
      const issues = decodeIssues(body?.issues)
      if (Either.isRight(issues)) return new InvalidEvents({ message, issues: issues.right })
    }
  }
  return new ResponseError({ status, message: body === undefined ? message : `${body.error}: ${body.message}` })
}

/** `refusalOf` the answer, its body read. */
export const refusal = (
  response: HttpClientResponse.HttpClientResponse,
  retryable: ReadonlySet<number> = only503
): Effect.Effect<ClientError> => Effect.map(errorBody(response), (body) => refusalOf(response, body, retryable))

const only503: ReadonlySet<number> = new Set([503])

/** A failure to get an answer at all: retryable (network errors) or a defect (an invalid URL is a bug). */
export const noAnswer = (error: HttpClientError.HttpClientError): Effect.Effect<never, RequestError> => {
  if (error._tag === "RequestError") {
    return error.reason === "Transport"
      ? Effect.fail(new RequestError({ reason: "Transport", message: `cannot reach the server: ${describe(error)}`, attempts: 1 }))
      : Effect.die(error)
  }
  // The body could not be read to its end: the connection dropped.
  return Effect.fail(new RequestError({ reason: "Transport", message: `the connection dropped (${describe(error)})`, attempts: 1 }))
}

/** An HTTP client error's message, with its cause's (fetch says only "fetch failed"). */
export const describe = (error: HttpClientError.HttpClientError): string => {
  const cause = error.cause
  const detail = Predicate.hasProperty(cause, "cause") && Predicate.hasProperty(cause.cause, "message")
    ? String(cause.cause.message)
    : Predicate.hasProperty(cause, "message")
    ? String(cause.message)
    : undefined
  return detail === undefined || error.message.includes(detail) ? error.message : `${error.message}: ${detail}`
}

/** The ClientError of an answer the contract describes but the client cannot read. */
export const unreadable = (status: number, problem: string) =>
  new ResponseError({ status, message: `unexpected answer from the server: ${problem}` })

/** A read's error: a publishing refusal (413, 422) cannot answer a read, so it is unexpected. */
export const asReadError = (error: ClientError): ReadError =>
  error._tag === "InvalidEvents" || error._tag === "PayloadTooLarge"
    ? new ResponseError({ status: error._tag === "InvalidEvents" ? 422 : 413, message: `${error._tag}: ${error.message}` })
    : error
