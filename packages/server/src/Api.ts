/**
 * The HTTP contract, from `@event-aggregator/api` (where it lives, so that clients need not
 * install the server): kept here so `@event-aggregator/server/Api` still resolves.
 *
 * @since 0.1.0
 */
export * from "@event-aggregator/api/Api"
