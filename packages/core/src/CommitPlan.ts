/**
 * How a commit group becomes rows and outcomes, given what is already stored: the dedup rules
 * every EventStore implementation shares (first copy wins, conflicts never overwrite).
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"
import * as Event from "./Event.js"
import type { Outcome, TopicCounters } from "./EventStore.js"
import { canonicalText } from "./internal/jsonValue.js"

/** A stored copy, as much of it as deciding duplicate vs conflict needs. */
export interface StoredCopy {
  readonly seq: number
  readonly timestamp: string
  readonly source: string
  /** The payload as stored: JSON text. */
  readonly payload: Event.Payload
  readonly hash?: null | undefined
}

/**
 * What is left of a key whose event left retention while the key is still inside its dedup
 * window: the original `seq` and the hash of the stored content (`contentHash`).
 */
export interface KeyRecord {
  readonly seq: number
  readonly hash: string
}

/** What is known of a key already taken: its stored copy, or its key record. */
export type Existing = StoredCopy | KeyRecord

/** Whether `existing` is a key record (its event was pruned). */
export const isKeyRecord = (existing: Existing): existing is KeyRecord => typeof existing.hash === "string"

/**
 * The SHA-256 (hex) of an event's content: timestamp, source and the payload's JSON value (any
 * member order or whitespace, numbers as exact decimals), so it is equal exactly when `sameContent`
 * would call two copies the same.
 */
export const contentHash = (content: { readonly timestamp: string; readonly source: string; readonly payload: string }): string =>
  Crypto.createHash("sha256")
    .update(JSON.stringify([content.timestamp, content.source]))
    .update(canonicalText(content.payload))
    .digest("hex")

/** A row to insert. */
export interface Row {
  readonly seq: number
  readonly topic: string
  readonly event_id: string
  readonly timestamp: string
  readonly source: string
  readonly payload: Event.Payload
}

export interface Plan {
  readonly outcomes: ReadonlyArray<Outcome>
  readonly rows: ReadonlyArray<Row>
  /** Counter changes per topic, in first-seen order. */
  readonly deltas: ReadonlyMap<string, TopicCounters>
  readonly accepted: number
  readonly duplicates: number
  readonly conflicts: number
}

/** The distinct keys of a group, in first-seen order. */
export const distinctKeys = (events: ReadonlyArray<Event.Key>): Array<Event.Key> => {
  const seen = new Set<string>()
  const keys: Array<Event.Key> = []
  for (const e of events) {
    const k = Event.keyString(e)
    if (!seen.has(k)) {
      seen.add(k)
      keys.push({ topic: e.topic, event_id: e.event_id })
    }
  }
  return keys
}

/** Whether a later copy carries the same content as the stored one (payloads as JSON values). */
export const sameContent = (event: Event.Event, stored: Existing): boolean =>
  isKeyRecord(stored)
    ? contentHash(event) === stored.hash
    : event.timestamp === stored.timestamp &&
      event.source === stored.source &&
      Event.samePayload(event.payload, stored.payload)

/**
 * Resolves a group in order: the first copy of a key (stored before, or earlier in the group) wins;
 * new keys get consecutive `seq` values from `firstSeq`. `local` receives the group's keys as it
 * goes (pass the map of a previous group to plan several groups as one sequence).
 */
export const plan = (
  events: ReadonlyArray<Event.Event>,
  lookup: (key: string) => Existing | undefined,
  firstSeq: number,
  local: Map<string, Existing> = new Map()
): Plan => {
  // oxlint-disable-next-line unicorn/no-new-array -- preallocated, filled by index
  const outcomes: Array<Outcome> = new Array(events.length)
  const rows: Array<Row> = []
  const deltas = new Map<string, { unique_processed: number; duplicate_dropped: number; conflicts: number }>()
  let seq = firstSeq
  let duplicates = 0
  let conflicts = 0
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!
    const k = Event.keyString(event)
    let delta = deltas.get(event.topic)
    if (delta === undefined) {
      delta = { unique_processed: 0, duplicate_dropped: 0, conflicts: 0 }
      deltas.set(event.topic, delta)
    }
    const found = local.get(k) ?? lookup(k)
    if (found === undefined) {
      const row: Row = {
        seq: seq++,
        topic: event.topic,
        event_id: event.event_id,
        timestamp: event.timestamp,
        source: event.source,
        payload: event.payload
      }
      rows.push(row)
      local.set(k, row)
      delta.unique_processed++
      outcomes[i] = { status: "accepted", seq: row.seq }
    } else {
      local.set(k, found)
      duplicates++
      delta.duplicate_dropped++
      if (sameContent(event, found)) {
        outcomes[i] = { status: "duplicate", seq: found.seq }
      } else {
        conflicts++
        delta.conflicts++
        outcomes[i] = { status: "conflict", seq: found.seq }
      }
    }
  }
  return { outcomes, rows, deltas, accepted: rows.length, duplicates, conflicts }
}

/** A stored row as the stores keep it: the payload as JSON text (`seq` may come back as text, e.g. BIGINT). */
export interface StoredRow {
  readonly seq: number | string
  readonly topic: string
  readonly event_id: string
  readonly timestamp: string
  readonly source: string
  readonly payload: Event.Payload
  readonly received_at: string
}

/** A stored row as the event it holds. */
export const toStored = (row: StoredRow): Event.StoredEvent => ({
  topic: row.topic,
  event_id: row.event_id,
  timestamp: row.timestamp,
  source: row.source,
  payload: row.payload,
  seq: Number(row.seq),
  received_at: row.received_at
})
