// Generated bad input of every kind: never a 5xx, always a JSON error with a message, and a
// rejected request changes nothing (counters and stored events); the server stays healthy.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import { freshTopic, quiet, startServer } from "./utils.js"

const RUNS = 400
/** Fixed, so CI sees the same 400 inputs every run; FUZZ_SEED=<n> explores others. */
const SEED = process.env.FUZZ_SEED === undefined ? 20261201 : Number(process.env.FUZZ_SEED)

const good = (topic: string, id: string) => ({
  topic,
  event_id: id,
  timestamp: "2025-01-31T12:00:00Z",
  source: "fuzz",
  payload: { n: 1 }
})

const anyJson = FastCheck.jsonValue({ maxDepth: 3 })

/** A field value that is wrong in some way (or right, now and then). */
const fieldValue = FastCheck.oneof(
  anyJson,
  FastCheck.constantFrom("", " ", "x".repeat(256), "😀".repeat(256), "a\u0000b", "a\nb", "\ud800", "\udfff x"),
  FastCheck.string({ unit: "binary", maxLength: 20 })
)

/** An event with one or more fields wrong, missing or extra; or a payload that cannot be kept. */
const badEvent = FastCheck.tuple(
  FastCheck.constantFrom("topic", "event_id", "timestamp", "source", "payload", "extra"),
  fieldValue,
  FastCheck.boolean(),
  FastCheck.nat()
).map(([field, value, drop, n]) => {
  const e: Record<string, unknown> = good(`fuzz-${n % 5}`, `e${n % 50}`)
  if (drop) delete e[field]
  else e[field] = value
  return JSON.stringify(e)
})

const payloadText = FastCheck.oneof(
  FastCheck.constantFrom("1e999", "-1E400", "[1e999]", "NaN", "Infinity", "-", "01", "1.", ".5", "\"\\x\"", "\"\\u12\""),
  FastCheck.nat({ max: 3000 }).map((n) => `${"{\"a\":".repeat(n)}1${"}".repeat(n)}`),
  FastCheck.nat({ max: 3000 }).map((n) => `{"a":${"[".repeat(n)}${"]".repeat(n)}}`),
  FastCheck.constant(`{"s":"${"x".repeat(300 * 1024)}"}`)
).map((payload) => `{"topic":"fuzz","event_id":"p","timestamp":"2025-01-31T12:00:00Z","source":"s","payload":${payload}}`)

const truncated = FastCheck.tuple(
  FastCheck.array(FastCheck.nat(), { minLength: 1, maxLength: 5 }),
  FastCheck.nat()
).map(([ids, cut]) => {
  const text = JSON.stringify(ids.map((i) => good("fuzz", `t${i}`)))
  return text.slice(0, cut % text.length)
})

const body = FastCheck.oneof(
  anyJson.map((v) => JSON.stringify(v)),
  truncated,
  badEvent,
  payloadText,
  FastCheck.array(badEvent, { minLength: 1, maxLength: 5 }).map((es) => `[${es.join(",")}]`),
  FastCheck.array(FastCheck.oneof(badEvent, FastCheck.string({ maxLength: 30 })), { maxLength: 5 }).map((ls) => ls.join("\n")),
  FastCheck.nat({ max: 200_000 }).map((n) => "[".repeat(n)),
  FastCheck.nat({ max: 100_000 }).map((n) => "[".repeat(n) + "]".repeat(n)),
  FastCheck.tuple(FastCheck.constantFrom("topic", "source", "extra"), FastCheck.nat({ max: 50_000 })).map(([field, n]) =>
    JSON.stringify({ ...good("fuzz", "deep"), [field]: 0 }).replace(`"${field}":0`, `"${field}":${"[".repeat(n)}${"]".repeat(n)}`)
  ),
  FastCheck.nat({ max: 60 }).map((n) => `[${Array.from({ length: n }, (_, i) => JSON.stringify(good("fuzz-many", `m${i}`))).join(",")}]`),
  FastCheck.constant(`{"events":[${JSON.stringify(good("fuzz", "w"))}],"more":1}`),
  FastCheck.constant(`[${"\"x\",".repeat(100_000)}1]`),
  // Over MAX_BATCH (50) and over MAX_BODY_BYTES (512 KiB).
  FastCheck.constant(`[${Array.from({ length: 51 }, (_, i) => JSON.stringify(good("fuzz-over", `o${i}`))).join(",")}]`),
  FastCheck.constant(`[${JSON.stringify({ ...good("fuzz-big", "b"), payload: { s: "x".repeat(600 * 1024) } })}]`)
).map((text): string | Uint8Array => text)

const bytes = FastCheck.uint8Array({ maxLength: 64 }).map((b): string | Uint8Array => b)

const contentType = FastCheck.oneof(
  FastCheck.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/vnd.example+json",
    "text/plain",
    "multipart/form-data; boundary=x",
    "",
    undefined
  ),
  FastCheck.string({ maxLength: 20 })
)

const query = FastCheck.oneof(
  FastCheck.constant(""),
  FastCheck.constantFrom("ack=queued", "ack=durable", "detail=true", "ack=maybe", "detail=2", "ack=", "ack=queued&detail=true"),
  FastCheck.string({ maxLength: 15 }).map((s) => `ack=${encodeURIComponent(s)}`)
)

/** How many events a body the server accepted holds, counted here with JSON.parse (the count only). */
const eventsIn = (payload: string | Uint8Array, type: string | undefined): number => {
  const text = typeof payload === "string" ? payload : new TextDecoder().decode(payload)
  const media = (type ?? "").split(";")[0]!.trim().toLowerCase()
  if (["application/x-ndjson", "application/ndjson", "application/jsonl"].includes(media)) {
    return text.split("\n").filter((line) => !/^[ \t\r]*$/.test(line)).length
  }
  const body = JSON.parse(text.replace(/^\uFEFF/, ""))
  return Array.isArray(body) ? body.length : Array.isArray(body.events) ? body.events.length : 1
}

interface Counters {
  readonly received: number
  readonly unique_processed: number
  readonly duplicate_dropped: number
  readonly conflicts: number
  readonly pending: number
}

describe("fuzzing the HTTP API", () => {
  it.scopedLive(`POST /publish: ${RUNS} generated bodies, content types and parameters, never a 5xx, rejections change nothing`, () =>
    Effect.gen(function*() {
      const { url } = yield* startServer({ server: { maxBodyBytes: 512 * 1024, maxBatch: 50 } })
      const getJson = async <A>(path: string): Promise<A> => (await fetch(`${url}${path}`)).json() as Promise<A>
      const stats = async (): Promise<Counters> => {
        const s = await getJson<Counters>("/stats")
        return {
          received: s.received,
          unique_processed: s.unique_processed,
          duplicate_dropped: s.duplicate_dropped,
          conflicts: s.conflicts,
          pending: s.pending
        }
      }
      const lastSeq = async () => {
        const page = await getJson<{ events: Array<{ seq: number }> }>(`/events?after=0&limit=1`)
        let after = page.events.length === 0 ? 0 : page.events[0]!.seq
        for (;;) {
          const next = await getJson<{ events: Array<{ seq: number }>; next_after: number | null }>(`/events?after=${after}&limit=10000`)
          if (next.events.length > 0) after = next.events[next.events.length - 1]!.seq
          if (next.next_after === null) return after
        }
      }
      const settled = async () => {
        let s = await stats()
        while (s.pending > 0) s = await stats()
        return s
      }
      let statuses: Record<number, number> = {}
      yield* Effect.promise(async () => {
        let before = await settled()
        let seq = await lastSeq()
        await FastCheck.assert(
          FastCheck.asyncProperty(FastCheck.oneof(body, bytes), contentType, query, async (payload, type, q) => {
            const headers: Record<string, string> = type === undefined ? {} : { "content-type": type }
            const response = await fetch(`${url}/publish${q === "" ? "" : `?${q}`}`, { method: "POST", headers, body: payload })
            const text = await response.text()
            statuses[response.status] = (statuses[response.status] ?? 0) + 1
            assert.isBelow(response.status, 500, text.slice(0, 300))
            const reply = JSON.parse(text)
            if (response.status >= 400) {
              assert.isString(reply.error)
              assert.isString(reply.message)
              assert.isAbove(reply.message.length, 0)
              if (response.status === 503) assert.isNotNull(response.headers.get("retry-after"))
              const after = await stats()
              assert.deepStrictEqual(after, before, `a ${response.status} changed the counters`)
              const page = await getJson<{ events: Array<unknown> }>(`/events?after=${seq}&limit=1`)
              assert.strictEqual(page.events.length, 0, `a ${response.status} stored an event`)
            } else {
              // Against what the test itself counts in the body, not against the server's own reply.
              const sent = eventsIn(payload, type)
              assert.strictEqual(reply.received, sent)
              const after = await settled()
              assert.strictEqual(after.received - before.received, sent)
              assert.strictEqual(
                after.unique_processed + after.duplicate_dropped - before.unique_processed - before.duplicate_dropped,
                sent
              )
              before = after
              seq = await lastSeq()
            }
          }),
          { numRuns: RUNS, seed: SEED }
        )
      })
      // Still healthy, still taking events.
      yield* Effect.promise(async () => {
        assert.strictEqual((await fetch(`${url}/health`)).status, 200)
        assert.strictEqual((await fetch(`${url}/ready`)).status, 200)
        const ok = await fetch(`${url}/publish`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(good(freshTopic(), "after-fuzz"))
        })
        assert.strictEqual(ok.status, 200)
      })
      // The generators reach every kind of answer (else they would test little).
      for (const status of [200, 400, 413, 415, 422]) assert.isAbove(statuses[status] ?? 0, 0, `no ${status} in ${JSON.stringify(statuses)}`)
    }).pipe(Effect.provide(quiet)), { timeout: 120_000 })

  it.scopedLive("GET routes: generated paths and query strings, never a 5xx, always a JSON error body", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const segment = FastCheck.oneof(
        FastCheck.string({ maxLength: 12 }).map(encodeURIComponent),
        FastCheck.constantFrom("%", "%E0%A4%A", "%ZZ", "%00", "%2F", "..", "%F0%9F%98", "a%20b", "😀")
      )
      const path = FastCheck.oneof(
        FastCheck.tuple(segment, segment).map(([t, e]) => `/events/${t}/${e}`),
        FastCheck.tuple(segment, segment, segment).map(([a, b, c]) => `/events/${a}/${b}/${c}`),
        FastCheck.tuple(
          FastCheck.constantFrom("after", "limit", "topic", "wait", "x"),
          FastCheck.oneof(segment, FastCheck.constantFrom("-1", "0", "1e3", "10001", "99999999999999999999", "1.5", ""))
        ).map(([k, v]) => `/events?${k}=${v}&limit=${v}`),
        segment.map((s) => `/${s}`),
        FastCheck.constantFrom("/stats?x=%", "/ready?%", "/metrics", "/openapi.json", "/docs", "/")
      )
      yield* Effect.promise(() =>
        FastCheck.assert(
          FastCheck.asyncProperty(path, FastCheck.constantFrom("GET", "DELETE", "PUT", "HEAD"), async (p, method) => {
            const response = await fetch(`${url}${p}`, { method })
            const text = await response.text()
            assert.isBelow(response.status, 500, `${method} ${p}: ${text.slice(0, 200)}`)
            if (response.status >= 400 && method !== "HEAD") {
              const reply = JSON.parse(text)
              assert.isString(reply.error, `${method} ${p}: ${text.slice(0, 200)}`)
              assert.isString(reply.message)
            }
          }),
          { numRuns: 300, seed: SEED }
        )
      )
    }).pipe(Effect.provide(quiet)), { timeout: 120_000 })
})
