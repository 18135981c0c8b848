import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { createHash } from "node:crypto"
import * as EventStoreSuite from "../../core/test/EventStoreSuite.js"
import { PostgresEventStore } from "../src/index.js"
import { available, dropSchemas, ensureSchema, freshSchema, urlFor } from "./utils.js"

const reachable = await available()
const schema = reachable ? await freshSchema() : "unused"
afterAll(dropSchemas)

const storeIn = (name: string) =>
  Layer.unwrapEffect(Effect.promise(() => ensureSchema(name)).pipe(
    Effect.as(PostgresEventStore.layerWith({ url: urlFor(name) }))
  ))

describe.skipIf(!reachable)("PostgreSQL", () => {
  EventStoreSuite.suite({
    name: "postgres",
    layer: PostgresEventStore.layerWith({ url: urlFor(schema) }),
    // The suite reopens "the same file": here, the same schema, named after it.
    reopenable: (file) => storeIn(`ea_reopen_${createHash("sha1").update(file).digest("hex").slice(0, 12)}`)
  })

  describe("PostgresEventStore", () => {
    it.effect("a wrong URL or an unreachable server fails to open with a StoreError", () =>
      Effect.gen(function*() {
        for (const url of ["postgres://127.0.0.1:1/test", "postgres://127.0.0.1:5432/no_such_database_here"]) {
          const exit = yield* Effect.exit(Effect.scoped(Layer.build(PostgresEventStore.layerWith({ url: Redacted.make(url) }))))
          assert.isTrue(Exit.isFailure(exit), url)
          if (Exit.isFailure(exit)) {
            const text = String(exit.cause)
            assert.include(text, "StoreError")
          }
        }
      }), { timeout: 30_000 })
  })
})
