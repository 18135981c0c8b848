/**
 * The Promise facade, for code that does not use Effect (Node 20+ and browsers: it only needs
 * `fetch`): `const client = createClient({ url })`, then `publish`, `events`, `get`, `stats`,
 * `follow` (an async iterable), `close`. Rejections are the client's tagged errors
 * (`err._tag === "InvalidEvents"`, `"Unavailable"`, ...; `instanceof` works too).
 *
 * @since 0.1.0
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Client from "./Client.js"
import type { RequestError, Unavailable } from "./ClientError.js"

export {
  BadRequest,
  InvalidEvents,
  PayloadTooLarge,
  RequestError,
  ResponseError,
  Unauthorized,
  Unavailable
} from "./ClientError.js"

export type {
  EventInput,
  EventsOptions,
  Page,
  Published,
  PublishInput,
  PublishOptions,
  Queued,
  Stats,
  StoredEvent
} from "./Client.js"

/** @since 0.1.0 */
export interface CreateOptions {
  /** The server, e.g. `http://localhost:8080`. */
  readonly url: string
  /** Sent as `Authorization: Bearer <key>`. */
  readonly apiKey?: string | undefined
  /** Per attempt (default 30000). */
  readonly timeoutMs?: number | undefined
  /** Retries per request after a network error, a timeout or a 503 (default 5; 0: none). */
  readonly retries?: number | undefined
}

/**
 * Why `follow` connects again, how long it waits first (ms), and after which seq it resumes.
 *
 * @since 0.1.0
 */
export interface Reconnect {
  readonly error: Unavailable | RequestError
  readonly delayMs: number
  readonly after: number | "now"
}

/** @since 0.1.0 */
export interface FollowOptions {
  /** Only this topic. */
  readonly topic?: string | undefined
  /** A seq (events after it; default 0, the whole log) or `"now"`. */
  readonly after?: number | "now" | undefined
  /** Called before each reconnection. */
  readonly onReconnect?: ((reconnect: Reconnect) => void) | undefined
}

/**
 * The events of `follow`: `for await (const e of client.follow())`. Leaving the loop (`break`,
 * `return`, a throw) or calling `return()` closes the connection, and a pending `next()`
 * resolves as done. One iteration per `follow()` call.
 *
 * @since 0.1.0
 */
export interface Following extends AsyncIterable<Client.StoredEvent> {
  readonly next: () => Promise<IteratorResult<Client.StoredEvent, undefined>>
  readonly return: () => Promise<IteratorResult<Client.StoredEvent, undefined>>
}

/** @since 0.1.0 */
export interface EventAggregatorClient {
  /**
   * Publishes one event, a list, or a body's JSON text, all or nothing; resolves once committed
   * (`ack: "queued"`: once queued). A payload may be a value or its JSON text (kept exactly: the
   * way to send integers beyond 2^53). Rejects with `InvalidEvents` listing every problem.
   */
  readonly publish: {
    (events: Client.PublishInput, options?: Client.PublishOptions & { readonly ack?: "durable" | undefined }): Promise<
      Client.Published
    >
    (events: Client.PublishInput, options: Client.PublishOptions & { readonly ack: "queued" }): Promise<Client.Queued>
    (events: Client.PublishInput, options?: Client.PublishOptions): Promise<Client.Published | Client.Queued>
  }
  /** A page of stored events in commit order; each `payload` is the JSON text as stored. */
  readonly events: (options?: Client.EventsOptions) => Promise<Client.Page>
  /** The stored copy of a key, or undefined. */
  readonly get: (topic: string, eventId: string) => Promise<Client.StoredEvent | undefined>
  readonly stats: () => Promise<Client.Stats>
  /**
   * Every event after `after`, stored ones first, then each as it commits, reconnecting (from the
   * last event given out) when the connection drops, until the loop is left. A refusal (401,
   * 400) rejects the pending `next()`.
   */
  readonly follow: (options?: FollowOptions) => Following
  /** Closes every open `follow`; calls after it reject with `InvalidArgument`. */
  readonly close: () => Promise<void>
}

/**
 * A misuse of the facade, not an answer of the server: a bad option to `createClient`, or a call
 * after `close()`.
 *
 * @since 0.1.0
 */
export class InvalidArgument extends TypeError {
  readonly _tag = "InvalidArgument"
}

const settingsOf = (options: CreateOptions): Either.Either<Client.Options, string> => {
  if (typeof options !== "object" || options === null) return Either.left("createClient needs { url }")
  const url = Client.checkBaseUrl(options.url)
  if (Either.isLeft(url)) return Either.left(url.left.replace("baseUrl", "url"))
  const { retries, timeoutMs } = options
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    return Either.left(`timeoutMs must be a number of milliseconds above 0, got ${String(timeoutMs)}`)
  }
  if (retries !== undefined && !(Number.isSafeInteger(retries) && retries >= 0)) {
    return Either.left(`retries must be an integer of 0 or more, got ${String(retries)}`)
  }
  return Either.right({
    baseUrl: url.right,
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    ...(timeoutMs === undefined ? {} : { timeout: Duration.millis(timeoutMs) }),
    ...(retries === undefined ? {} : { retry: { times: retries } })
  })
}

/**
 * A client of the server at `options.url`. Nothing is sent until the first call; throws
 * `InvalidArgument` when an option is wrong.
 *
 * @since 0.1.0
 */
export const createClient = (options: CreateOptions): EventAggregatorClient => {
  const settings = settingsOf(options)
  if (Either.isLeft(settings)) throw new InvalidArgument(settings.left)
  const runtime = ManagedRuntime.make(Client.layer(settings.right).pipe(Layer.provide(FetchHttpClient.layer)))
  let closed = false
  const isClosed = () => new InvalidArgument("the client is closed")
  // Rejects with the error itself (runPromise would reject with a FiberFailure, _tag undefined).
  const run = <A, E>(effect: Effect.Effect<A, E, Client.EventAggregatorClient>): Promise<A> =>
    closed
      ? Promise.reject(isClosed())
      : runtime.runPromiseExit(effect).then((exit) =>
        Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause))
      )
  const open = new Set<Following>()

  const publish = (events: Client.PublishInput, publishOptions?: Client.PublishOptions) =>
    run(Effect.flatMap(Client.EventAggregatorClient, (client) => client.publish(events, publishOptions)))

  return {
    publish: publish as EventAggregatorClient["publish"],
    events: (query) => run(Effect.flatMap(Client.EventAggregatorClient, (client) => client.events(query))),
    get: (topic, event_id) =>
      run(Effect.flatMap(Client.EventAggregatorClient, (client) => client.get({ topic, event_id }))).then(
        Option.getOrUndefined
      ),
    stats: () => run(Effect.flatMap(Client.EventAggregatorClient, (client) => client.stats)),
    follow: (followOptions = {}) => {
      const { onReconnect, ...rest } = followOptions
      const stream = Stream.unwrap(Effect.map(Client.EventAggregatorClient, (client) =>
        client.follow({
          ...rest,
          ...(onReconnect === undefined ? {} : {
            onReconnect: (r: Client.Reconnect) =>
              Effect.sync(() => onReconnect({ error: r.error, delayMs: Duration.toMillis(r.delay), after: r.after }))
          })
        })))
      const done: IteratorReturnResult<undefined> = { done: true, value: undefined }
      let inner: Promise<AsyncIterator<Client.StoredEvent>> | undefined
      let ended = false
      let end: () => void = () => {}
      const returned = new Promise<IteratorReturnResult<undefined>>((resolve) => {
        end = () => resolve(done)
      })
      const following: Following = {
        [Symbol.asyncIterator]: () => following,
        next: () => {
          if (ended) return Promise.resolve(done)
          if (closed) return Promise.reject(isClosed())
          inner ??= runtime.runtime().then((rt) => Stream.toAsyncIterableRuntime(stream, rt)[Symbol.asyncIterator]())
          // A next() pending when return() is called resolves as done (the inner one never would).
          return Promise.race([inner.then((i) => i.next()), returned])
        },
        return: async () => {
          if (ended) return done
          ended = true
          open.delete(following)
          end()
          if (inner !== undefined) await (await inner).return?.()
          return done
        }
      }
      open.add(following)
      return following
    },
    close: async () => {
      if (closed) return
      closed = true
      await Promise.all(Array.from(open, (f) => f.return()))
      await runtime.dispose()
    }
  }
}
