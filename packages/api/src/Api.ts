/**
 * The HTTP contract: every route, its parameters, responses and errors, with their status codes.
 * Clients derive from it (`HttpApiClient.make(Api)`), and so do `/openapi.json` and `/docs`.
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import * as JSONSchema from "effect/JSONSchema"
import * as Schema from "effect/Schema"
import * as DashboardApi from "./DashboardApi.js"
import * as Schemas from "./Schemas.js"
import { documentAuthAndRetry } from "./internal/openApi.js"

/** The error body of every error response: `{"error": "<Tag>", "message": "...", ...details}`. */
const ApiError = <const Tag extends string, const Fields extends Schema.Struct.Fields = {}>(
  tag: Tag,
  description: string,
  fields?: Fields
) =>
  Schema.Struct({
    error: Schema.Literal(tag),
    message: Schema.String,
    ...(fields ?? ({} as Fields))
  }).annotations({ identifier: tag, description })

export const BadRequest = ApiError("BadRequest", "Malformed JSON or NDJSON, or a bad query parameter")
export const Unauthorized = ApiError("Unauthorized", "Missing or wrong API key")
export const NotFound = ApiError("NotFound", "No such route, or no event with that key")
export const Gone = ApiError(
  "Gone",
  "The event left retention (RETENTION); its key is still remembered (DEDUP_WINDOW), so a re-send is still a duplicate",
  { seq: Schema.Number }
)
export const PayloadTooLarge = ApiError("PayloadTooLarge", "Body over MAX_BODY_BYTES or more than MAX_BATCH events", {
  limit: Schema.Number
})
export const UnsupportedMediaType = ApiError(
  "UnsupportedMediaType",
  "Content-Type is neither application/json nor application/x-ndjson"
)
export const InvalidEvents = ApiError("InvalidEvents", "Some events are invalid; nothing was accepted", {
  issues: Schema.Array(Schemas.Issue)
})
export const QueueFull = ApiError("QueueFull", "The queue is full; retry after Retry-After seconds", {
  capacity: Schema.Number
})
export const ShuttingDown = ApiError("ShuttingDown", "The server is draining for shutdown")
export const StoreUnavailable = ApiError("StoreUnavailable", "The event store failed; nothing of the request was accepted")
export const NotReady = ApiError("NotReady", "Starting or draining")
export const IdempotencyKeyInUse = ApiError(
  "IdempotencyKeyInUse",
  "A request with this Idempotency-Key is still in flight; retry after Retry-After seconds"
)
export const IdempotencyKeyReused = ApiError(
  "IdempotencyKeyReused",
  "This Idempotency-Key was used with another request (body or parameters); nothing was accepted"
)
export const TooManyFollowers = ApiError(
  "TooManyFollowers",
  "MAX_FOLLOWERS streams follow this process's log already; retry after Retry-After seconds or follow another instance",
  { limit: Schema.Number }
)

/** Every error body, as the handlers produce them. */
export type ApiError =
  | typeof BadRequest.Type
  | typeof Unauthorized.Type
  | typeof NotFound.Type
  | typeof Gone.Type
  | typeof PayloadTooLarge.Type
  | typeof UnsupportedMediaType.Type
  | typeof InvalidEvents.Type
  | typeof QueueFull.Type
  | typeof ShuttingDown.Type
  | typeof StoreUnavailable.Type
  | typeof NotReady.Type
  | typeof TooManyFollowers.Type
  | typeof IdempotencyKeyInUse.Type
  | typeof IdempotencyKeyReused.Type

/** The status of each error body: the one place HTTP statuses of errors are assigned. */
export const errorStatus: Record<ApiError["error"], number> = {
  BadRequest: 400,
  Unauthorized: 401,
  NotFound: 404,
  Gone: 410,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  InvalidEvents: 422,
  QueueFull: 503,
  ShuttingDown: 503,
  StoreUnavailable: 503,
  NotReady: 503,
  TooManyFollowers: 503,
  IdempotencyKeyInUse: 409,
  IdempotencyKeyReused: 422
}

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 1

const eventJsonSchema = JSONSchema.fromAST(Schemas.Event.ast, {
  definitions: {},
  topLevelReferenceStrategy: "skip"
})

/**
 * `POST /publish` JSON body: one event, an array of events, or `{"events": [...]}`. Validated all
 * or nothing, every problem listed.
 */
export const PublishBody = Schema.Unknown.annotations({
  identifier: "PublishBody",
  description: "One event, an array of events, or {\"events\": [...]}",
  jsonSchema: {
    oneOf: [
      eventJsonSchema,
      { type: "array", items: eventJsonSchema },
      {
        type: "object",
        required: ["events"],
        properties: { events: { type: "array", items: eventJsonSchema } },
        additionalProperties: false
      }
    ]
  } as object
})

/** `POST /publish` NDJSON body: one event per line (also `application/ndjson`, `application/jsonl`). */
export const PublishLines = HttpApiSchema.Text({ contentType: "application/x-ndjson" }).annotations({
  identifier: "PublishLines",
  description: "One event object per line; blank lines are ignored"
})

export const PublishParams = Schema.Struct({
  ack: Schema.optional(Schema.String.annotations({
    description: "durable (default: respond after commit) or queued (respond 202 once queued)",
    jsonSchema: { enum: ["durable", "queued"] }
  })),
  detail: Schema.optional(Schema.String.annotations({
    description: "true to list each event's outcome and seq",
    jsonSchema: { enum: ["true", "false"] }
  }))
})

/** How long a stored `Idempotency-Key` response is kept by default (`IDEMPOTENCY_TTL`). */
export const DEFAULT_IDEMPOTENCY_TTL = "24h"

export const PublishHeaders = Schema.Struct({
  "idempotency-key": Schema.optional(Schema.String.annotations({
    description: "Idempotency-Key (draft-ietf-httpapi-idempotency-key-header), 1 to 255 characters, with ack=durable " +
      "only: the response is stored with the key and a fingerprint of the request, in the transaction that commits " +
      `the events, for IDEMPOTENCY_TTL (default ${DEFAULT_IDEMPOTENCY_TTL}; per API key when one is set). The same ` +
      "key with the same request replays the stored response byte for byte, with Idempotent-Replayed: true, counting " +
      "nothing again; with another request it answers 422; while the first is in flight, 409 with Retry-After."
  }))
})

export const Result = Schema.Struct({
  index: Schema.Number,
  status: Schema.Literal("accepted", "duplicate", "conflict"),
  seq: Schema.Number
}).annotations({ identifier: "Result" })

export const PublishResult = Schema.Struct({
  received: Schema.Number,
  accepted: Schema.Number,
  duplicates: Schema.Number,
  conflicts: Schema.Number,
  results: Schema.optional(Schema.Array(Result))
}).annotations({ identifier: "PublishResult", description: "Committed (ack=durable)" })

export const Queued = Schema.Struct({
  received: Schema.Number,
  queued: Schema.Number
}).annotations({ identifier: "Queued", description: "In the queue, not yet committed (ack=queued)" })

/** The longest `GET /events?wait=`, in seconds. */
export const MAX_WAIT_SECONDS = 60

/** `GET /events` query, as text: the handler reads it with `Page.RequestFromQuery`. */
export const EventsParams = Schema.Struct({
  topic: Schema.optional(Schema.String.annotations({ description: "only this topic" })),
  after: Schema.optional(Schema.String.annotations({
    description: "a seq; events after it (default 0)",
    jsonSchema: { type: "integer", minimum: 0 }
  })),
  limit: Schema.optional(Schema.String.annotations({
    description: `1–${Schemas.MAX_LIMIT} (default ${Schemas.DEFAULT_LIMIT})`,
    jsonSchema: { type: "integer", minimum: 1, maximum: Schemas.MAX_LIMIT }
  })),
  wait: Schema.optional(Schema.String.annotations({
    description: `long-poll: when nothing follows \`after\`, wait up to this many seconds (0–${MAX_WAIT_SECONDS}, default 0) ` +
      "for an event to commit, then answer the page; an empty page when the time runs out",
    jsonSchema: { type: "integer", minimum: 0, maximum: MAX_WAIT_SECONDS }
  }))
})

/** `GET /events/stream` query, as text: the handler reads it with the server's cursor schema. */
export const StreamParams = Schema.Struct({
  topic: Schema.optional(Schema.String.annotations({ description: "only this topic" })),
  after: Schema.optional(Schema.String.annotations({
    description: "a seq (events after it; default 0) or `now` (only events that commit from now on); " +
      "a Last-Event-ID header takes its place",
    jsonSchema: { oneOf: [{ type: "integer", minimum: 0 }, { type: "string", enum: ["now"] }] }
  }))
})

/** `GET /events/stream` headers: a reconnecting EventSource sends the last `id:` it saw. */
export const StreamHeaders = Schema.Struct({
  "last-event-id": Schema.optional(Schema.String.annotations({
    description: "the seq of the last event received; the stream resumes after it (instead of `after`)",
    jsonSchema: { type: "integer", minimum: 0 }
  }))
})

/** The body of `GET /events/stream`: Server-Sent Events, one message per event. */
export const EventStream = HttpApiSchema.Text({ contentType: "text/event-stream" }).annotations({
  identifier: "EventStream",
  description: "Server-Sent Events: `retry: 2000`, then per event `id: <seq>` and `data: <the stored event as JSON>`; " +
    "a `: keep-alive` comment every 15 s while idle; first an `event: pruned` with `{\"pruned_before\": n}` when the cursor " +
    "lies before events retention removed (the stream continues from the oldest stored one). Ends at shutdown: reconnect with Last-Event-ID."
})

/** A payload on the wire: the JSON object, exactly as published (every digit of every number). */
const PayloadJson = Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
  description: "any JSON object, returned exactly as it was published"
})

/** A stored event as the server writes it. */
export const StoredEventJson = Schema.Struct({
  ...Schemas.StoredEvent.fields,
  payload: PayloadJson
}).annotations({ identifier: "StoredEvent" })

/** A page as the server writes it. */
export const PageJson = Schema.Struct({
  events: Schema.Array(StoredEventJson),
  next_after: Schema.NullOr(Schema.Number),
  pruned_before: Schema.optional(Schemas.PrunedBefore)
}).annotations({ identifier: "Page" })

export const EventPath = Schema.Struct({
  topic: Schema.String,
  event_id: Schema.String
})

export const Health = Schema.Struct({ status: Schema.Literal("ok") })

/** The body of `/health`: the process lives (answered from the first moment it listens). */
export const healthy: typeof Health.Type = { status: "ok" }
export const Ready = Schema.Struct({ status: Schema.Literal("ready") })

const publish = HttpApiEndpoint.post("publish", "/publish")
  .setPayload(Schema.Union(PublishBody, PublishLines))
  .setUrlParams(PublishParams)
  .setHeaders(PublishHeaders)
  .addSuccess(PublishResult)
  .addSuccess(Queued, { status: 202 })
  .addError(BadRequest, { status: 400 })
  .addError(PayloadTooLarge, { status: 413 })
  .addError(UnsupportedMediaType, { status: 415 })
  .addError(InvalidEvents, { status: 422 })
  .addError(IdempotencyKeyReused, { status: 422 })
  .addError(IdempotencyKeyInUse, { status: 409 })
  .addError(QueueFull, { status: 503 })
  .addError(ShuttingDown, { status: 503 })
  .addError(StoreUnavailable, { status: 503 })
  .addError(NotReady, { status: 503 })
  .annotate(OpenApi.Summary, "Publish events (idempotent by topic + event_id)")

/**
 * The reading routes of the `events` group: what the `HttpApi` app serves. `POST /publish` is
 * answered by the server's lean node:http path and is declared in `EventsApi`.
 *
 * @since 0.1.0
 */
export class EventsReadApi extends HttpApiGroup.make("events")
  .add(
    HttpApiEndpoint.get("list", "/events")
      .setUrlParams(EventsParams)
      .addSuccess(PageJson)
      .addError(BadRequest, { status: 400 })
      .addError(StoreUnavailable, { status: 503 })
      .addError(TooManyFollowers, { status: 503 })
      .annotate(OpenApi.Summary, "Unique events in commit order (ascending seq), optionally of one topic")
  )
  .add(
    HttpApiEndpoint.get("stream", "/events/stream")
      .setUrlParams(StreamParams)
      .setHeaders(StreamHeaders)
      .addSuccess(EventStream)
      .addError(BadRequest, { status: 400 })
      .addError(StoreUnavailable, { status: 503 })
      .addError(TooManyFollowers, { status: 503 })
      .addError(ShuttingDown, { status: 503 })
      .annotate(OpenApi.Summary, "Follow the log as Server-Sent Events: stored events first, then each as it commits")
  )
  .add(
    HttpApiEndpoint.get("get", "/events/:topic/:event_id")
      .setPath(EventPath)
      .addSuccess(StoredEventJson)
      .addError(NotFound, { status: 404 })
      .addError(Gone, { status: 410 })
      .addError(StoreUnavailable, { status: 503 })
      .annotate(OpenApi.Summary, "The stored copy of one key (URL-encode both parts); 410 when it left retention while its key is remembered")
  )
  .add(
    HttpApiEndpoint.get("stats", "/stats")
      .addSuccess(Schemas.Stats)
      .annotate(OpenApi.Summary, "Counters; received == unique_processed + duplicate_dropped + pending")
  )
  .addError(Unauthorized, { status: 401 })
{}

/**
 * The whole `events` group, `POST /publish` included: what clients and the OpenAPI document see.
 *
 * @since 0.1.0
 */
export class EventsApi extends EventsReadApi.add(publish) {}

/** @since 0.1.0 */
export class OpsApi extends HttpApiGroup.make("ops", { topLevel: true })
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Health))
  .add(HttpApiEndpoint.get("ready", "/ready").addSuccess(Ready).addError(NotReady, { status: 503 }))
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" }))
      .addError(Unauthorized, { status: 401 })
      .annotate(OpenApi.Summary, "Prometheus text format")
  )
{}

/** @since 0.1.0 */
export class DashboardGroup extends HttpApiGroup.make("dashboard")
  .add(
    HttpApiEndpoint.get("overview", "/dashboard/overview")
      .setUrlParams(DashboardApi.OverviewParams)
      .addSuccess(DashboardApi.Overview)
      .addError(BadRequest, { status: 400 })
      .annotate(OpenApi.Summary, "The dashboard's overview: totals, state, commit figures, a history of one point a second")
  )
  .add(
    HttpApiEndpoint.get("topics", "/dashboard/topics")
      .addSuccess(DashboardApi.Topics)
      .addError(StoreUnavailable, { status: 503 })
      .annotate(OpenApi.Summary, "Every topic's counters and the time of its newest event")
  )
  .addError(Unauthorized, { status: 401 })
{}

/**
 * The whole contract: every route, `POST /publish` included. Clients derive from it
 * (`HttpApiClient.make(Api)`), and so do `/openapi.json` and `/docs`.
 *
 * @since 0.1.0
 */
export class Api extends HttpApi.make("event-aggregator")
  .add(EventsApi)
  .add(OpsApi)
  .add(DashboardGroup)
  .addError(NotFound, { status: 404 })
  .annotate(OpenApi.Title, "event-aggregator")
  .annotate(OpenApi.Description, "Idempotent event ingestion: each (topic, event_id) is stored and counted once.")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(OpenApi.Transform, documentAuthAndRetry)
{}

/**
 * What the `HttpApi` app serves: the contract without `POST /publish`, which the server's lean
 * node:http path answers (measured ~5× faster than the `HttpApi` handler).
 *
 * @since 0.1.0
 */
export class ServedApi extends HttpApi.make("event-aggregator")
  .add(EventsReadApi)
  .add(OpsApi)
  .add(DashboardGroup)
  .addError(NotFound, { status: 404 })
{}
