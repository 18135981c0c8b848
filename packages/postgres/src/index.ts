/**
 * The PostgreSQL store of event-aggregator.
 *
 * @since 0.1.0
 */
export * as PostgresEventStore from "./PostgresEventStore.js"
