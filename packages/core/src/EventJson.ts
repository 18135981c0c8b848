/**
 * Events as JSON text, without altering payloads: reading a request body or a page (each
 * `payload` kept as the exact text it arrived in) and writing stored events (the stored payload
 * text spliced in as is). It lives in `@event-aggregator/api`, where clients read the server's
 * answers with the same scanner; re-exported here so the core's users find it beside `Event`.
 *
 * @since 0.1.0
 */
export * from "@event-aggregator/api/EventJson"
