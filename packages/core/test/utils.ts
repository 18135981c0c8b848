/** Test helpers: temp directories, event builders, a reference model of dedup. */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Aggregator from "../src/Aggregator.js"
import * as Event from "../src/Event.js"
import type * as EventStore from "../src/EventStore.js"

/** A fresh temp directory, removed when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Builds `layer`, runs `f` with its aggregator, and closes it (a graceful shutdown). */
export const using = <A, E, E2>(
  layer: Layer.Layer<Aggregator.Aggregator, E2>,
  f: (aggregator: Aggregator.Aggregator["Type"]) => Effect.Effect<A, E>
) => Effect.scoped(Effect.flatMap(Layer.build(layer), (ctx) => Effect.flatMap(Effect.provide(Aggregator.Aggregator, ctx), f)))

let counter = 0
/** A topic no other test of the process uses. */
export const freshTopic = (prefix = "t"): string => `${prefix}-${process.pid}-${Date.now()}-${counter++}`

export const event = (
  topic: string,
  event_id: string,
  payload: Record<string, unknown> = {},
  fields: Partial<Pick<Event.Event, "timestamp" | "source">> = {}
): Event.Event => ({
  topic,
  event_id,
  timestamp: fields.timestamp ?? "2025-01-31T12:00:00Z",
  source: fields.source ?? "test",
  payload: Event.Payload.make(JSON.stringify(payload))
})

/** An event whose payload is the given JSON text, exactly. */
export const eventWithText = (topic: string, event_id: string, payload: string): Event.Event => ({
  topic,
  event_id,
  timestamp: "2025-01-31T12:00:00Z",
  source: "test",
  payload: Event.Payload.make(payload)
})

/** The reference semantics: first copy wins; later copies are duplicates, conflicts if different. */
export const model = (groups: ReadonlyArray<ReadonlyArray<Event.Event>>) => {
  const first = new Map<string, Event.Event>()
  const order = new Map<string, Array<string>>()
  const statuses: Array<Array<EventStore.Outcome["status"]>> = []
  const perTopic = new Map<string, { unique_processed: number; duplicate_dropped: number; conflicts: number }>()
  for (const group of groups) {
    const s: Array<EventStore.Outcome["status"]> = []
    for (const e of group) {
      const k = JSON.stringify([e.topic, e.event_id])
      const c = perTopic.get(e.topic) ?? { unique_processed: 0, duplicate_dropped: 0, conflicts: 0 }
      perTopic.set(e.topic, c)
      const stored = first.get(k)
      if (stored === undefined) {
        first.set(k, e)
        order.set(e.topic, [...(order.get(e.topic) ?? []), e.event_id])
        c.unique_processed++
        s.push("accepted")
      } else {
        c.duplicate_dropped++
        const same = stored.timestamp === e.timestamp && stored.source === e.source &&
          Event.samePayload(stored.payload, e.payload)
        if (!same) c.conflicts++
        s.push(same ? "duplicate" : "conflict")
      }
    }
    statuses.push(s)
  }
  return { first, order, statuses, perTopic }
}
