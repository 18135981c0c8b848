/**
 * What a call of the client can fail with: the server's refusals (one class per answer that
 * means something to the caller), the server being unavailable after every retry, and requests
 * that got no usable answer. Each is a `Schema.TaggedError`, so `_tag` and `instanceof` work in
 * Effect code and in the Promise facade alike.
 *
 * @since 0.1.0
 */
import * as Schemas from "@event-aggregator/api/Schemas"
import * as Schema from "effect/Schema"

/**
 * The server rejected the batch (422): nothing of it was accepted. `issues` lists every problem
 * (`index` is the event's position in what was published). Also raised before sending when a
 * payload given as text is not JSON.
 *
 * @since 0.1.0
 */
export class InvalidEvents extends Schema.TaggedError<InvalidEvents>()("InvalidEvents", {
  message: Schema.String,
  issues: Schema.Array(Schemas.Issue)
}) {}

/**
 * The API key is missing or wrong (401).
 *
 * @since 0.1.0
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  message: Schema.String
}) {}

/**
 * The server could not read the request (400): a bad query parameter (`after`, `limit`, ...) or
 * a body it cannot parse.
 *
 * @since 0.1.0
 */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", {
  message: Schema.String
}) {}

/**
 * The body is over the server's `MAX_BODY_BYTES`, or holds more than `MAX_BATCH` events (413):
 * send smaller batches. `limit` is the limit that was exceeded (absent when the answer did not
 * say, e.g. a proxy's).
 *
 * @since 0.1.0
 */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  message: Schema.String,
  limit: Schema.optional(Schema.Number)
}) {}

/**
 * The server answered 503 (or, while following, a proxy answered 502/504) to every attempt.
 * `error` is the server's reason (`QueueFull`, `ShuttingDown`, `StoreUnavailable`, `NotReady`,
 * `TooManyFollowers`; `ServiceUnavailable`, `BadGateway` or `GatewayTimeout` when the answer had
 * no API error body), `retryAfterMillis` what its last `Retry-After` asked for, `attempts` how
 * many requests were made.
 *
 * @since 0.1.0
 */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", {
  error: Schema.String,
  message: Schema.String,
  status: Schema.Number,
  retryAfterMillis: Schema.Number,
  attempts: Schema.Number
}) {}

/**
 * No answer: the server could not be reached, the connection dropped, or no answer came within
 * the timeout, on every attempt.
 *
 * @since 0.1.0
 */
export class RequestError extends Schema.TaggedError<RequestError>()("RequestError", {
  reason: Schema.Literal("Transport", "Timeout"),
  message: Schema.String,
  attempts: Schema.Number
}) {}

/**
 * An answer the client cannot use: a status the contract does not give for this call (404 for a
 * route: a wrong `baseUrl`?, 500, ...), or a body that is not what the contract says. Never retried.
 *
 * @since 0.1.0
 */
export class ResponseError extends Schema.TaggedError<ResponseError>()("ResponseError", {
  status: Schema.Number,
  message: Schema.String
}) {}

/**
 * Every error of the client.
 *
 * @since 0.1.0
 */
export type ClientError =
  | InvalidEvents
  | Unauthorized
  | BadRequest
  | PayloadTooLarge
  | Unavailable
  | RequestError
  | ResponseError

/**
 * What publishing can fail with.
 *
 * @since 0.1.0
 */
export type PublishError = ClientError

/**
 * What reading (`events`, `get`, `stats`, `follow`) can fail with.
 *
 * @since 0.1.0
 */
export type ReadError = Unauthorized | BadRequest | Unavailable | RequestError | ResponseError

/**
 * Whether another attempt may succeed: the server was unavailable or did not answer. Every other
 * error is the server's final word (or a bug), and is never retried.
 *
 * @since 0.1.0
 */
export const isRetryable = (error: ClientError): error is Unavailable | RequestError =>
  error._tag === "Unavailable" || error._tag === "RequestError"

/**
 * Whether `u` is one of the client's errors.
 *
 * @since 0.1.0
 */
export const isClientError = (u: unknown): u is ClientError =>
  u instanceof InvalidEvents || u instanceof Unauthorized || u instanceof BadRequest || u instanceof PayloadTooLarge ||
  u instanceof Unavailable || u instanceof RequestError || u instanceof ResponseError
