/**
 * The page's HTTP client: every request carries the API key from `sessionStorage` in the
 * `Authorization` header (never in a URL). Types come from the server's `Api` schemas.
 */
import type * as Api from "@event-aggregator/api/Api"
import type * as DashboardApi from "@event-aggregator/api/DashboardApi"
import type * as Schemas from "@event-aggregator/api/Schemas"
import * as Json from "@event-aggregator/api/Json"

export type Overview = DashboardApi.Overview
export type TopicRow = DashboardApi.TopicRow
export type Stats = Schemas.Stats
/** A stored event as the server sends it, with its payload as the exact JSON text stored. */
export type StoredEvent = Omit<typeof Api.StoredEventJson.Type, "payload"> & { readonly payload: string }
export type Page = { readonly events: ReadonlyArray<StoredEvent>; readonly next_after: number | null }
type ErrorBody = { readonly error: string; readonly message: string }

const KEY = "event-aggregator-api-key"

export const apiKey = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (key: string) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY)
}

/** The server refused the key (or none was given): the page asks for it. */
export class Unauthorized extends Error {}

/** Another error answer, with the API's message. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly body: ErrorBody | undefined) {
    super(body?.message ?? `HTTP ${status}`)
  }
}

export const headers = (): Record<string, string> => {
  const key = apiKey.get()
  return key === null ? {} : { authorization: `Bearer ${key}` }
}

const send = async (path: string, signal?: AbortSignal): Promise<Response> => {
  const response = await fetch(path, { headers: headers(), signal: signal ?? null })
  if (response.status === 401) throw new Unauthorized("the API key is missing or wrong")
  return response
}

const text = async (path: string, signal?: AbortSignal): Promise<{ status: number; text: string }> => {
  const response = await send(path, signal)
  const body = await response.text()
  if (!response.ok && response.status !== 404) {
    let parsed: ErrorBody | undefined
    try {
      parsed = JSON.parse(body) as ErrorBody
    } catch {
      parsed = undefined
    }
    throw new ApiError(response.status, parsed)
  }
  return { status: response.status, text: body }
}

const query = (params: Record<string, string | number | undefined>): string => {
  const search = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") search.set(k, String(v))
  const s = search.toString()
  return s === "" ? "" : `?${s}`
}

/**
 * Parses a response holding stored events with the project's lossless scanner, keeping each
 * payload as the exact text the server sent (a browser's `JSON.parse` would round integers past
 * 2^53).
 */
const withRawPayloads = <T extends { readonly events: ReadonlyArray<unknown> }>(body: string): T => {
  const parsed = Json.parse(body, { rawMember: "payload", rawDepth: 3 }) as { events: Array<Record<string, unknown>> }
  for (const e of parsed.events) e["payload"] = (e["payload"] as Json.RawJson).text
  return parsed as unknown as T
}

export const overview = async (since: number | undefined, signal?: AbortSignal): Promise<Overview> =>
  JSON.parse((await text(`/dashboard/overview${query({ since })}`, signal)).text) as Overview

export const topics = async (signal?: AbortSignal): Promise<ReadonlyArray<TopicRow>> =>
  (JSON.parse((await text("/dashboard/topics", signal)).text) as DashboardApi.Topics).topics

export const page = async (options: { topic: string | undefined; after: number; limit: number }, signal?: AbortSignal): Promise<Page> =>
  withRawPayloads<Page>((await text(`/events${query(options)}`, signal)).text)

/** One stored event by key; undefined when there is none. */
export const event = async (topic: string, eventId: string, signal?: AbortSignal): Promise<StoredEvent | undefined> => {
  const reply = await text(`/events/${encodeURIComponent(topic)}/${encodeURIComponent(eventId)}`, signal)
  if (reply.status === 404) return undefined
  return withRawPayloads<{ events: ReadonlyArray<StoredEvent> }>(`{"events":[${reply.text}]}`).events[0]
}

/** One event as an SSE message carries it. */
export const eventFromMessage = (data: string): StoredEvent =>
  withRawPayloads<{ events: ReadonlyArray<StoredEvent> }>(`{"events":[${data}]}`).events[0]!
