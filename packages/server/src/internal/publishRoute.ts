/**
 * The lean `POST /publish` path: node:http reads the body (limits checked while reading), the same
 * core rules validate it, and one Effect program per request calls the `Aggregator` on the
 * server's runtime. Measured ~5× the requests per second of the same route through `HttpApi`.
 */
import { Aggregator } from "@event-aggregator/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Http from "node:http"
import { ServerConfig } from "../ServerConfig.js"
import * as Body from "./body.js"
import { Listener } from "./listener.js"
import * as Publish from "./publish.js"
import * as IdempotencyKey from "./idempotencyKey.js"
import { type ErrorBody, rejectUnread, sendError, sendJson, sendJsonText } from "./respond.js"

/** The header of a replayed response. */
const REPLAYED = { "idempotent-replayed": "true" } as const

/** Attaches the path to the listener while the aggregator runs. */
export const layer: Layer.Layer<never, never, Listener | Aggregator.Aggregator | ServerConfig> = Layer.scopedDiscard(
  Effect.gen(function*() {
    const state = yield* Listener
    const settings = yield* ServerConfig
    const aggregator = yield* Aggregator.Aggregator
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const apiKeys = Option.isSome(settings.apiKey)

    yield* Effect.acquireRelease(
      Effect.sync(() => {
        state.publish = (req, res) => {
          if (state.draining) {
            return rejectUnread(req, res, { error: "ShuttingDown", message: "the server is draining for shutdown; publish elsewhere or retry" })
          }
          const contentType = req.headers["content-type"]
          const kind = Publish.bodyKind(contentType)
          if (kind === undefined) return rejectUnread(req, res, Publish.unsupportedMediaType(contentType))
          const url = req.url ?? ""
          const q = url.indexOf("?")
          const search = new URLSearchParams(q === -1 ? "" : url.slice(q + 1))
          const repeated = ["ack", "detail"].find((name) => search.getAll(name).length > 1)
          if (repeated !== undefined) {
            return rejectUnread(req, res, { error: "BadRequest", message: `${repeated} is given more than once` })
          }
          const params = Publish.parseParams(search.get("ack"), search.get("detail"), settings.ackMode)
          if (Either.isLeft(params)) return rejectUnread(req, res, params.left)
          const key = IdempotencyKey.header(req)
          if (key !== undefined) {
            const checked = IdempotencyKey.check(key, params.right)
            if (Either.isLeft(checked)) return rejectUnread(req, res, checked.left)
            return Body.read(req, res, settings.maxBodyBytes, (text) => {
              const request = IdempotencyKey.request(req, key, apiKeys, kind, params.right, text)
              const list = Effect.suspend(() => Publish.parseBody(kind, text, settings.maxBatch))
              answer(res, Publish.runKeyed(aggregator, request, list), (outcome) =>
                sendJsonText(res, outcome.status, outcome.body, state.draining, outcome.replayed ? REPLAYED : undefined))
            })
          }
          Body.read(req, res, settings.maxBodyBytes, (text) => {
            // Parsing runs inside the program too: a bug that throws is a logged 500, never a crash.
            const program = Effect.flatMap(
              Effect.suspend(() => Publish.parseBody(kind, text, settings.maxBatch)),
              (list) => Publish.run(aggregator, list, params.right)
            )
            answer(res, program, (response) => sendJson(res, response.status, response.body, state.draining))
          })
        }

        /** Runs a request's program: its value sent by `send`, its failure as an error body, a defect as a logged 500. */
        const answer = <A>(
          res: Http.ServerResponse,
          program: Effect.Effect<A, Publish.PublishError | ErrorBody>,
          send: (value: A) => void
        ) =>
          runFork(program).addObserver((exit) => {
            if (Exit.isSuccess(exit)) return send(exit.value)
            const failure = Cause.failureOption(exit.cause)
            if (Option.isSome(failure)) return sendError(res, failure.value, state.draining)
            // A defect is a bug: log it with its cause, answer 500 without details.
            runFork(Effect.logError("POST /publish failed", exit.cause))
            sendError(res, { error: "InternalError", message: "internal error; nothing is known to be accepted" }, true)
          })
      }),
      () => Effect.sync(() => (state.publish = undefined))
    )
  })
)
