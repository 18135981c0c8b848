/**
 * Follows `GET /events/stream` with `fetch` (an EventSource cannot send the Authorization header)
 * and eventsource-parser for the wire format. It reconnects after a drop from the last `id:` it
 * saw, so nothing is missed or repeated; `stop()` ends it.
 */
import { createParser } from "eventsource-parser"
import { headers, Unauthorized } from "./api.js"

export interface Follow {
  readonly stop: () => void
}

export const follow = (options: {
  readonly topic: string | undefined
  /** A seq, or "now". */
  readonly after: number | "now"
  readonly onEvent: (data: string, id: number) => void
  readonly onState: (state: "connecting" | "live" | "retrying" | "unauthorized") => void
}): Follow => {
  const abort = new AbortController()
  let after = options.after
  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      options.onState("connecting")
      try {
        const search = new URLSearchParams({ after: String(after) })
        if (options.topic !== undefined && options.topic !== "") search.set("topic", options.topic)
        const response = await fetch(`/events/stream?${search}`, {
          headers: { ...headers(), accept: "text/event-stream" },
          signal: abort.signal
        })
        if (response.status === 401) throw new Unauthorized("the API key is missing or wrong")
        if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status}`)
        options.onState("live")
        const parser = createParser({
          onEvent: (message) => {
            if (message.id === undefined) return
            after = Number(message.id)
            options.onEvent(message.data, after)
          }
        })
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          parser.feed(value)
        }
      } catch (error) {
        if (abort.signal.aborted) return
        if (error instanceof Unauthorized) return options.onState("unauthorized")
      }
      if (abort.signal.aborted) return
      options.onState("retrying")
      await new Promise((resolve) => setTimeout(resolve, 2_000))
    }
  }
  void run()
  return { stop: () => abort.abort() }
}
