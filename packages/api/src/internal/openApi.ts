/** What the generated OpenAPI document cannot say by itself: the bearer key, Retry-After on every 503 and 409, Idempotent-Replayed. */
type JsonObject = Record<string, unknown>
const isObject = (u: unknown): u is JsonObject => typeof u === "object" && u !== null

/** Marks every operation as needing the bearer key (but `/health` and `/ready`) and every 503 as carrying `Retry-After`. */
export const documentAuthAndRetry = (spec: JsonObject): JsonObject => {
  for (const [path, operations] of Object.entries(isObject(spec.paths) ? spec.paths : {})) {
    for (const operation of Object.values(isObject(operations) ? operations : {})) {
      if (!isObject(operation)) continue
      if (path === "/health" || path === "/ready") operation.security = []
      for (const status of ["503", "409"]) {
        const retry = isObject(operation.responses) ? operation.responses[status] : undefined
        if (isObject(retry)) {
          retry.headers = {
            "Retry-After": { description: "Seconds to wait before retrying", schema: { type: "integer", minimum: 0 } }
          }
        }
      }
      const ok = path === "/publish" && isObject(operation.responses) ? operation.responses["200"] : undefined
      if (isObject(ok)) {
        ok.headers = {
          "Idempotent-Replayed": {
            description: "true when this is the stored response of an earlier request with the same Idempotency-Key",
            schema: { type: "string", enum: ["true"] }
          }
        }
      }
    }
  }
  const components = isObject(spec.components) ? spec.components : {}
  return {
    ...spec,
    components: {
      ...components,
      securitySchemes: {
        ...(isObject(components.securitySchemes) ? components.securitySchemes : {}),
        bearer: { type: "http", scheme: "bearer", description: "API_KEY, when the server has one" }
      }
    },
    security: [{ bearer: [] }]
  }
}
