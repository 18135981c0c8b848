/** Reading a request body as UTF-8 text, its size limit checked while it arrives. */
import { isUtf8 } from "node:buffer"
import type * as Http from "node:http"
import type { ErrorBody } from "./respond.js"
import { rejectUnread, sendError } from "./respond.js"

export const tooLarge = (limit: number) => ({
  error: "PayloadTooLarge",
  message: `the request body is over the limit of ${limit} bytes (MAX_BODY_BYTES)`,
  limit
}) as const

const notUtf8: ErrorBody = {
  error: "BadRequest",
  message: "the body is not valid UTF-8 (JSON text must be UTF-8)"
}

/**
 * Reads the body of `req` and calls `onText` with it. Over `limit` bytes (declared or streamed)
 * it answers 413 at once, keeps nothing of what was read and discards the rest; bytes that are not
 * UTF-8 get 400 (decoding would replace them silently). A leading byte order mark is skipped.
 */
export const read = (
  req: Http.IncomingMessage,
  res: Http.ServerResponse,
  limit: number,
  onText: (text: string) => void
): void => {
  if (Number(req.headers["content-length"]) > limit) return rejectUnread(req, res, tooLarge(limit))
  const chunks: Array<Buffer> = []
  let size = 0
  let over = false
  req.on("data", (chunk: Buffer) => {
    if (over) return
    size += chunk.length
    if (size > limit) {
      over = true
      chunks.length = 0
      sendError(res, tooLarge(limit), true)
      return
    }
    chunks.push(chunk)
  })
  req.on("error", () => res.destroy())
  req.on("end", () => {
    if (over || res.destroyed) return
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)
    if (!isUtf8(bytes)) return sendError(res, notUtf8)
    const text = bytes.toString("utf8")
    onText(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  })
}
