/**
 * @event-aggregator/core: idempotent event ingestion as Effect services.
 *
 * @since 0.1.0
 */
export * as Aggregator from "./Aggregator.js"
export * as AggregatorConfig from "./AggregatorConfig.js"
export * as CommitPlan from "./CommitPlan.js"
export * as Event from "./Event.js"
export * as EventJson from "./EventJson.js"
export * as EventStore from "./EventStore.js"
export * as Idempotency from "./Idempotency.js"
export * as MemoryEventStore from "./MemoryEventStore.js"
export * as Page from "./Page.js"
export * as Retention from "./Retention.js"
export * as SqlEventStore from "./SqlEventStore.js"
export * as SqliteEventStore from "./SqliteEventStore.js"
export * as SqlRetention from "./SqlRetention.js"
