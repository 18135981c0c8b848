/** A client of a running server, derived from the server's `HttpApi`; 503s and network errors are retried. */
import { Api } from "@event-aggregator/server"
import * as HttpApiClient from "@effect/platform/HttpApiClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"

/** The server refused or could not be reached after every retry. */
export class RemoteError extends Data.TaggedError("RemoteError")<{ readonly message: string }> {}


const describe = (error: unknown): { readonly retryable: boolean; readonly message: string } => {
  const e = error as { readonly error?: string; readonly message?: string; readonly _tag?: string; readonly reason?: string }
  if (typeof e.error === "string") {
    const retryable = e.error === "QueueFull" || e.error === "ShuttingDown" || e.error === "StoreUnavailable"
    return { retryable, message: `${e.error}: ${e.message ?? ""}` }
  }
  if (e._tag === "RequestError") return { retryable: true, message: `cannot reach the server: ${e.message ?? e.reason}` }
  return { retryable: false, message: e.message ?? String(error) }
}

/**
 * Retries `effect` on 503 (waiting at least the server's Retry-After) and on network errors, with
 * exponential backoff; safe because publishing is idempotent.
 */
const withRetries = <A, E, R>(effect: Effect.Effect<A, E, R>, retryAfter: Ref.Ref<number>, attempts: number) => {
  const attempt = (n: number): Effect.Effect<A, RemoteError, R> =>
    Effect.catchAll(effect, (error) => {
      const { message, retryable } = describe(error)
      if (!retryable || n + 1 >= attempts) return Effect.fail(new RemoteError({ message }))
      return Ref.getAndSet(retryAfter, 0).pipe(
        Effect.flatMap((seconds) => Effect.sleep(Duration.millis(Math.max(seconds * 1000, Math.min(100 * 2 ** n, 5000))))),
        Effect.zipRight(attempt(n + 1))
      )
    })
  return attempt(0)
}

/** `attempts`: tries per call before giving up (writers retry longer than readers). */
export const make = (baseUrl: string, apiKey: Option.Option<Redacted.Redacted<string>>, attempts = 10) =>
  Effect.gen(function*() {
    const retryAfter = yield* Ref.make(0)
    const client = yield* HttpApiClient.make(Api.Api, {
      baseUrl,
      transformClient: (c) =>
        c.pipe(
          HttpClient.mapRequest((request) =>
            Option.isSome(apiKey) ? HttpClientRequest.bearerToken(request, apiKey.value) : request
          ),
          HttpClient.tap((response) =>
            response.status === 503
              ? Ref.set(retryAfter, Number(response.headers["retry-after"] ?? "1") || 1)
              : Effect.void
          )
        )
    })
    return {
      publish: (events: ReadonlyArray<unknown>, detail = false) =>
        withRetries(client.events.publish({
          payload: events,
          // Always durable: a count is only known once committed, whatever the server's ACK_MODE.
          urlParams: detail ? { ack: "durable", detail: "true" } : { ack: "durable" }
        }), retryAfter, attempts),
      stats: withRetries(client.events.stats(), retryAfter, attempts),
      events: (params: { readonly topic?: string | undefined; readonly after: number; readonly limit: number }) =>
        withRetries(
          client.events.list({
            urlParams: {
              ...(params.topic === undefined ? {} : { topic: params.topic }),
              after: String(params.after),
              limit: String(params.limit)
            }
          }),
          retryAfter,
          attempts
        )
    }
  })
