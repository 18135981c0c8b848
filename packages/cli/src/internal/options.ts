/** Flags shared by several commands; each falls back to the same environment variable as the server. */
import { AggregatorConfig } from "@event-aggregator/core"
import * as Options from "@effect/cli/Options"
import { ServerConfig, StoreConfig } from "@event-aggregator/server"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"

export const db = Options.text("db").pipe(
  Options.withDescription("SQLite file (default: $DEDUP_DB_PATH or data/dedup.sqlite)"),
  Options.withFallbackConfig(AggregatorConfig.dbPath)
)

export const store = Options.choice("store", StoreConfig.kinds).pipe(
  Options.withDescription("event store (default: $EVENT_STORE or sqlite)"),
  Options.optional
)

export const databaseUrl = Options.redacted("database-url").pipe(
  Options.withDescription("PostgreSQL URL for --store postgres (default: $DATABASE_URL)"),
  Options.optional
)

/** Where a local command reads and writes: `--db` for SQLite, or the store chosen by flag or environment. */
export const local = { db, store, databaseUrl }

export interface Local {
  readonly db: string
  readonly store: Option.Option<StoreConfig.Kind>
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
}

/** The store flags given, as settings over the environment's. */
export const storeOverrides = (f: Pick<Local, "store" | "databaseUrl">): Partial<StoreConfig.Settings> => ({
  ...(Option.isSome(f.store) ? { kind: f.store.value } : {}),
  ...(Option.isSome(f.databaseUrl) ? { databaseUrl: f.databaseUrl } : {})
})

export const url = Options.text("url").pipe(
  Options.withDescription("a running server, e.g. http://localhost:8080 (instead of a local --db)"),
  Options.optional
)

export const apiKey = Options.redacted("api-key").pipe(
  Options.withDescription("sent as Authorization: Bearer <key> (default: $API_KEY)"),
  Options.optional,
  Options.withFallbackConfig(ServerConfig.apiKey)
)

export const json = Options.boolean("json").pipe(Options.withDescription("print JSON instead of a table"))

export type ApiKey = Option.Option<Redacted.Redacted<string>>
