/** Writing JSON answers on a node:http response: every 503 carries Retry-After, errors have the API's shape. */
import type * as Http from "node:http"
import * as Api from "../Api.js"

/** An error body: one of the API's, or the 500 a bug produces. */
export type ErrorBody = Api.ApiError | { readonly error: "InternalError"; readonly message: string }

/** Sends `body` as JSON with `status`; `close` asks the client to close the connection after it. */
export const sendJson = (res: Http.ServerResponse, status: number, body: unknown, close = false): void =>
  sendJsonText(res, status, JSON.stringify(body), close)

/** Sends JSON text as it is (a stored response is replayed byte for byte), with `extra` headers. */
export const sendJsonText = (
  res: Http.ServerResponse,
  status: number,
  text: string,
  close = false,
  extra?: Http.OutgoingHttpHeaders
): void => {
  if (res.headersSent || res.destroyed) return
  const headers: Http.OutgoingHttpHeaders = {
    ...extra,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text)
  }
  if (status === 503 || status === 409) headers["retry-after"] = String(Api.RETRY_AFTER_SECONDS)
  if (close) headers["connection"] = "close"
  res.writeHead(status, headers)
  res.end(text)
}

/** Sends an error body with the status the API assigns to it. */
export const sendError = (res: Http.ServerResponse, body: ErrorBody, close = false): void =>
  sendJson(res, body.error === "InternalError" ? 500 : Api.errorStatus[body.error], body, close)

/**
 * Answers an error before the body was read: the client may still be sending, so the connection
 * closes after the answer and the rest of the body is discarded unbuffered.
 */
export const rejectUnread = (req: Http.IncomingMessage, res: Http.ServerResponse, body: ErrorBody): void => {
  sendError(res, body, true)
  req.resume()
}
