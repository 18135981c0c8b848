/**
 * The CLI's side of `@event-aggregator/client`: one client per `--url`, and its errors as the one
 * line the CLI prints (`Unauthorized: missing or wrong API key`).
 */
import { Client, type ClientError } from "@event-aggregator/client"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"

/** The server refused, could not be reached after every retry, or the command was misused. */
export class RemoteError extends Data.TaggedError("RemoteError")<{ readonly message: string }> {}

/** A client error as one line: the server's reason and message, or what kept the answer away. */
export const describe = (error: ClientError.ClientError): string => {
  switch (error._tag) {
    case "Unavailable":
      return `${error.error}: ${error.message}${error.attempts > 1 ? ` (gave up after ${error.attempts} attempts)` : ""}`
    case "RequestError":
      return `${error.message}${error.attempts > 1 ? ` (gave up after ${error.attempts} attempts)` : ""}`
    case "ResponseError":
      return error.message
    default:
      return `${error._tag}: ${error.message}`
  }
}

/** The same effect, its client errors as `RemoteError`s. */
export const remote = <A, R>(effect: Effect.Effect<A, ClientError.ClientError, R>): Effect.Effect<A, RemoteError, R> =>
  Effect.mapError(effect, (error) => new RemoteError({ message: describe(error) }))

/**
 * A client of `url`. `attempts`: tries per request before giving up (writers retry longer than
 * readers); each retry after a network error or a 503 waits at least that answer's Retry-After.
 */
export const make = (
  url: string,
  apiKey: Option.Option<Redacted.Redacted<string>>,
  attempts: number
): Effect.Effect<Client.Service, RemoteError, HttpClient.HttpClient> =>
  Either.match(Client.checkBaseUrl(url), {
    onLeft: () =>
      Effect.fail(new RemoteError({ message: `--url must be an absolute http or https URL, got ${JSON.stringify(url)}` })),
    onRight: (baseUrl) =>
      Client.make({
        baseUrl,
        ...(Option.isSome(apiKey) ? { apiKey: apiKey.value } : {}),
        retry: { times: attempts - 1 }
      })
  })

/** A reconnection of `events --follow`, as the line printed on stderr. */
export const reconnecting = (r: Client.Reconnect): string =>
  `${describe(r.error)}; reconnecting in ${(Duration.toMillis(r.delay) / 1000).toFixed(1)}s, ${
    typeof r.after === "number" ? `after seq ${r.after}` : "from now"
  }`
