/** A small Server-Sent Events client for the tests: node:http streaming, fields parsed as the SSE spec reads them. */
import * as Effect from "effect/Effect"
import * as Http from "node:http"

export interface Message {
  readonly id: string | undefined
  readonly data: string
}

export interface Follower {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  /** The `seq` (`id:`) of every message, in arrival order. */
  readonly seqs: Array<number>
  /** Every message (only with `keep`). */
  readonly messages: Array<Message>
  readonly comments: Array<string>
  /** The `retry:` field, once seen. */
  readonly retry: () => number | undefined
  /** The id of the last complete message (what an EventSource sends as Last-Event-ID). */
  readonly lastId: () => string | undefined
  /** Lines that held a carriage return: the server's line ends are `\n` only. */
  readonly strayCarriageReturns: () => number
  /** The whole body, for a response that is not a stream (an error). */
  readonly body: () => string
  /** "end" when the response completed, "aborted" when the connection was cut first. */
  readonly ended: Promise<"end" | "aborted">
  /** Cuts the connection (as a client that goes away). */
  readonly destroy: () => void
}

export interface Options {
  readonly headers?: Record<string, string>
  /** Keep every message, not only its seq. */
  readonly keep?: boolean
  /** Called for every message as it completes. */
  readonly onMessage?: (message: Message) => void
}

/** Opens `url` as an event stream; resolves once the response headers arrived. */
export const open = (url: string, options: Options = {}): Promise<Follower> =>
  new Promise((resolve, reject) => {
    const seqs: Array<number> = []
    const messages: Array<Message> = []
    const comments: Array<string> = []
    let retry: number | undefined
    let lastId: string | undefined
    let stray = 0
    let text = ""
    let buffer = ""
    let data: Array<string> = []
    let id: string | undefined
    let endedWith: (how: "end" | "aborted") => void = () => {}
    const ended = new Promise<"end" | "aborted">((done) => (endedWith = done))

    const line = (l: string) => {
      if (l.includes("\r")) stray++
      if (l === "") {
        if (id !== undefined) lastId = id
        if (data.length > 0) {
          const message = { id, data: data.join("\n") }
          if (id !== undefined) seqs.push(Number(id))
          if (options.keep) messages.push(message)
          options.onMessage?.(message)
        }
        data = []
        id = undefined
        return
      }
      if (l.startsWith(":")) return void comments.push(l.slice(1).trim())
      const colon = l.indexOf(":")
      const field = colon === -1 ? l : l.slice(0, colon)
      let value = colon === -1 ? "" : l.slice(colon + 1)
      if (value.startsWith(" ")) value = value.slice(1)
      if (field === "data") data.push(value)
      else if (field === "id") id = value
      else if (field === "retry" && /^\d+$/.test(value)) retry = Number(value)
    }

    const req = Http.get(url, { headers: { accept: "text/event-stream", ...options.headers }, agent: false }, (res) => {
      res.setEncoding("utf8")
      const streaming = (res.headers["content-type"] ?? "").startsWith("text/event-stream")
      res.on("data", (chunk: string) => {
        if (!streaming) return void (text += chunk)
        buffer += chunk
        let newline = buffer.indexOf("\n")
        let start = 0
        while (newline !== -1) {
          line(buffer.slice(start, newline))
          start = newline + 1
          newline = buffer.indexOf("\n", start)
        }
        buffer = buffer.slice(start)
      })
      res.on("end", () => endedWith("end"))
      res.on("aborted", () => endedWith("aborted"))
      res.on("error", () => endedWith("aborted"))
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        seqs,
        messages,
        comments,
        retry: () => retry,
        lastId: () => lastId,
        strayCarriageReturns: () => stray,
        body: () => text,
        ended,
        destroy: () => req.destroy()
      })
    })
    req.on("error", (error) => {
      endedWith("aborted")
      reject(error)
    })
  })

/** `open` as an Effect whose connection is cut when the scope closes. */
export const follow = (url: string, options: Options = {}) =>
  Effect.acquireRelease(Effect.promise(() => open(url, options)), (f) => Effect.sync(() => f.destroy()))

/** Waits until `check` gives true, polling every 10 ms; dies naming `what` after `timeoutMillis`. */
export const until = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, timeoutMillis = 30_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMillis
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for: ${what}`)
      yield* Effect.sleep("10 millis")
    }
  })

/** `until` for a condition the test holds. */
export const eventually = (what: string, done: () => boolean, timeoutMillis = 30_000) =>
  until(what, Effect.sync(done), timeoutMillis)
