import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Event from "../src/Event.js"
import * as EventJson from "../src/EventJson.js"
import { timestampOk } from "@event-aggregator/api/Fields"

const valid = {
  topic: "orders",
  event_id: "o-1",
  timestamp: "2025-01-31T12:00:00Z",
  source: "shop",
  payload: { total: 10 }
}

const limits: Event.Limits = Event.defaultLimits

const issuesOf = (input: ReadonlyArray<unknown>, l: Event.Limits = limits) => {
  const result = Event.validate(input, l)
  assert.isTrue(Either.isLeft(result), "expected the batch to be rejected")
  return Either.isLeft(result) ? result.left.issues : []
}

describe("Event.validate", () => {
  it("accepts valid events, the payload as its JSON text", () => {
    const result = Event.validate([valid, { ...valid, event_id: "o-2", payload: {} }], limits)
    assert.isTrue(Either.isRight(result))
    if (Either.isRight(result)) {
      assert.deepStrictEqual(result.right[0], { ...valid, payload: "{\"total\":10}" })
      assert.strictEqual(result.right[1]!.payload, "{}")
    }
  })

  it("accepts RFC 3339 timestamps with a zone, with fractions, and zone-less ones (read as UTC)", () => {
    for (
      const timestamp of [
        "2025-01-31T12:00:00Z",
        "2025-01-31T12:00:00.123456Z",
        "2025-01-31T12:00:00+05:30",
        "2025-01-31T12:00:00-08:00",
        "2024-02-29T00:00:00Z",
        "2025-01-31T12:00:00.123456",
        "2025-01-31T12:00:00"
      ]
    ) {
      assert.isTrue(Either.isRight(Event.validate([{ ...valid, timestamp }], limits)), timestamp)
    }
  })

  it("rejects timestamps that are not real ISO 8601 date-times", () => {
    for (
      const timestamp of [
        "2025-02-30T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2025-13-01T00:00:00Z",
        "2025-01-31T24:00:00Z",
        "2025-01-31",
        "31/01/2025 12:00",
        "2025-01-31T12:00:00+0530",
        "yesterday",
        ""
      ]
    ) {
      const issues = issuesOf([{ ...valid, timestamp }])
      assert.strictEqual(issues[0]?.path, "timestamp", timestamp)
    }
  })

  it("lists every problem of every event, with index and path", () => {
    const issues = issuesOf([
      valid,
      { ...valid, topic: "", extra: 1 },
      { ...valid, payload: [1, 2] },
      { event_id: "x" },
      "not an object"
    ])
    const at = (index: number) => issues.filter((i) => i.index === index).map((i) => i.path).sort()
    assert.deepStrictEqual(at(0), [])
    assert.deepStrictEqual(at(1), ["extra", "topic"])
    assert.deepStrictEqual(at(2), ["payload"])
    assert.deepStrictEqual(at(3), ["payload", "source", "timestamp", "topic"])
    assert.strictEqual(at(4).length, 1)
    const unknown = issues.find((i) => i.path === "extra")
    assert.include(unknown?.message, "extra")
  })

  it("rejects control characters in topic and event_id, and over-long fields", () => {
    assert.strictEqual(issuesOf([{ ...valid, topic: "a\nb" }])[0]?.path, "topic")
    assert.strictEqual(issuesOf([{ ...valid, event_id: "a\u0000b" }])[0]?.path, "event_id")
    assert.strictEqual(issuesOf([{ ...valid, event_id: "x".repeat(256) }])[0]?.path, "event_id")
    assert.strictEqual(issuesOf([{ ...valid, source: "" }])[0]?.path, "source")
    // 255 characters counted as characters, not UTF-16 units.
    assert.isTrue(Either.isRight(Event.validate([{ ...valid, event_id: "😀".repeat(255) }], limits)))
  })

  it("rejects a payload over the byte limit, counted in UTF-8", () => {
    const small: Event.Limits = { ...limits, maxEventBytes: 100 }
    assert.isTrue(Either.isRight(Event.validate([{ ...valid, payload: { s: "x".repeat(50) } }], small)))
    const issues = issuesOf([{ ...valid, payload: { s: "é".repeat(50) } }], small)
    assert.strictEqual(issues[0]?.path, "payload")
    assert.include(issues[0]?.message, "over the limit of 100")
  })

  it("rejects topic, event_id and source that no store can keep as given: unpaired surrogates, NUL", () => {
    assert.strictEqual(issuesOf([{ ...valid, topic: "a\ud800b" }])[0]?.path, "topic")
    assert.strictEqual(issuesOf([{ ...valid, source: "a\udc00" }])[0]?.path, "source")
    assert.strictEqual(issuesOf([{ ...valid, source: "a\u0000b" }])[0]?.path, "source")
    // Other control characters stay allowed in source, and paired surrogates everywhere.
    assert.isTrue(Either.isRight(Event.validate([{ ...valid, source: "tab\there 😀", event_id: "😀" }], limits)))
  })

  it("a JavaScript payload: only what JSON can hold, nothing silently changed", () => {
    const problem = (payload: unknown) => {
      const issues = issuesOf([{ ...valid, payload }])
      assert.strictEqual(issues.length, 1, JSON.stringify(issues))
      return issues[0]!
    }
    assert.deepStrictEqual(problem({ a: { b: [1, Number.NaN] } }).path, "payload.a.b[1]")
    assert.include(problem({ x: Number.POSITIVE_INFINITY }).message, "Infinity")
    assert.include(problem({ x: undefined }).message, "undefined")
    assert.include(problem({ f: () => 1 }).message, "function")
    assert.include(problem({ when: new Date(0) }).message, "Date")
    assert.include(problem({ m: new Map() }).message, "Map")
    const sparse: Array<number> = []
    sparse[0] = 1
    sparse[2] = 3
    assert.include(problem({ sparse }).message, "undefined")
    assert.deepStrictEqual(problem({ "odd key": [Symbol("s")] }).path, "payload[\"odd key\"][0]")
    const cyclic: Record<string, unknown> = { a: {} }
    ;(cyclic.a as Record<string, unknown>).back = cyclic
    assert.include(problem(cyclic).message, "cycle")
    assert.include(problem([1, 2]).message, "JSON object")
    assert.include(problem("{}").message, "JSON object")
    // BigInts keep every digit; shared (non-cyclic) references are fine.
    const shared = { n: 1 }
    const ok = Either.getOrThrow(Event.validate([{ ...valid, payload: { id: 18446744073709551615n, a: shared, b: shared } }], limits))
    assert.strictEqual(ok[0]!.payload, "{\"id\":18446744073709551615,\"a\":{\"n\":1},\"b\":{\"n\":1}}")
  })

  it("MAX_PAYLOAD_DEPTH: nesting up to the limit passes, one more level is refused with its path", () => {
    const nest = (levels: number): object => {
      let v: object = {}
      for (let i = 1; i < levels; i++) v = { a: v }
      return v
    }
    const small: Event.Limits = { ...limits, maxPayloadDepth: 5 }
    assert.isTrue(Either.isRight(Event.validate([{ ...valid, payload: nest(5) }], small)))
    const issue = issuesOf([{ ...valid, payload: nest(6) }], small)[0]!
    assert.strictEqual(issue.path, "payload.a.a.a.a.a")
    assert.include(issue.message, "deeper than 5")
    // The same from JSON text, even 100,000 levels deep.
    const deep = `{"a":${"[".repeat(100_000)}${"]".repeat(100_000)}}`
    const raw = Either.getOrThrow(EventJson.raw(deep))
    const fromText = issuesOf([{ ...valid, payload: raw }])[0]!
    assert.strictEqual(fromText.path, `payload.a${"[0]".repeat(63)}`)
    assert.include(fromText.message, "deeper than 64")
  })

  it("a payload from JSON text: kept exactly; 1e999 refused with its path; not an object refused", () => {
    const text = `{"id": 9223372036854775807, "s": "\\u00e9"}`
    const ok = Either.getOrThrow(Event.validate([{ ...valid, payload: Either.getOrThrow(EventJson.raw(text)) }], limits))
    assert.strictEqual(ok[0]!.payload, text)
    const over = issuesOf([{ ...valid, payload: Either.getOrThrow(EventJson.raw(`{"a":[1,1e999]}`)) }])[0]!
    assert.strictEqual(over.path, "payload.a[1]")
    assert.include(over.message, "1e999")
    assert.strictEqual(issuesOf([{ ...valid, payload: Either.getOrThrow(EventJson.raw("[1]")) }])[0]?.path, "payload")
  })

  it("a field given twice is refused, naming it (the first value would be lost)", () => {
    const body = `{"topic":"a","event_id":"1","timestamp":"2025-01-31T12:00:00Z","source":"s","topic":"b","payload":{}}`
    const issues = issuesOf([Either.getOrThrow(EventJson.parse(body))])
    assert.deepStrictEqual(issues.map((i) => i.path), ["topic"])
    assert.include(issues[0]!.message, "more than once")
  })

  it("a body with \"events\" twice is refused (only the last array would be seen)", () => {
    const body = Either.getOrThrow(EventJson.parse(`{"events":[${JSON.stringify(valid)}],"events":[]}`))
    const result = Event.eventsOfBody(body)
    assert.isTrue(Either.isLeft(result))
    if (Either.isLeft(result)) assert.strictEqual(result.left.issues[0]?.path, "events")
  })

  it("a payload from text with a raw unpaired surrogate is refused (no store could keep it as given)", () => {
    const raw = Either.getOrThrow(EventJson.raw(`{"x":"a\ud800b"}`))
    const issue = issuesOf([{ ...valid, payload: raw }])[0]!
    assert.strictEqual(issue.path, "payload")
    assert.include(issue.message, "unpaired surrogate")
  })

  it("200,000 repeated member names parse in one pass (a quadratic scan would time the test out)", () => {
    const text = `{${Array.from({ length: 100_000 }, (_, i) => `"k${i}":1,"k${i}":2`).join(",")}}`
    const body = Either.getOrThrow(EventJson.parse(`[${text}]`)) as Array<object>
    assert.strictEqual(issuesOf(body).filter((i) => i.message.includes("more than once")).length, 100_000)
  })

  it("long messages are clipped: a huge wrong value does not come back whole", () => {
    const issues = issuesOf([{ ...valid, topic: Array.from({ length: 10_000 }, (_, i) => i) }])
    assert.isAtMost(issues[0]!.message.length, 300)
  })
})

describe("timestamps: the fast check agrees with the regular expression", () => {
  const valid = FastCheck.tuple(
    FastCheck.date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }),
    FastCheck.constantFrom("", ".1", ".123456789", ".1234567890", "."),
    FastCheck.constantFrom("", "Z", "z", "+05:30", "-08:00", "+24:00", "+05:60", "+0530", "UTC", "Zx")
  ).map(([d, fraction, zone]) => `${d.toISOString().slice(0, 19)}${fraction}${zone}`)
  const mutated = FastCheck.tuple(valid, FastCheck.nat(), FastCheck.string({ maxLength: 2, unit: "binary" })).map(([t, at, s]) => {
    const i = at % (t.length + 1)
    return t.slice(0, i) + s + t.slice(i + 1)
  })
  const calendar = FastCheck.tuple(FastCheck.integer({ min: 0, max: 9999 }), FastCheck.integer({ min: 0, max: 13 }), FastCheck.integer({ min: 0, max: 32 }))
    .map(([y, m, d]) => `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}T23:59:59Z`)
  it.prop("timestampOk(s) === (checkTimestamp(s) === undefined)", [FastCheck.oneof(valid, mutated, calendar, FastCheck.string())], ([s]) => {
    assert.strictEqual(timestampOk(s), Event.checkTimestamp(s) === undefined, JSON.stringify(s))
  }, { fastCheck: { numRuns: 5000 } })
})

describe("Event.validate: the fast path agrees with the schema", () => {
  // An oracle written apart from validate's fast path: the wire shape as a Schema, plus the size rule.
  const Wire = Schema.Struct({
    topic: Event.Topic,
    event_id: Event.EventId,
    timestamp: Event.Timestamp,
    source: Event.Source,
    payload: Schema.Record({ key: Schema.String, value: Schema.Unknown })
  }).annotations({ parseOptions: { onExcessProperty: "error" } })
  const decode = Schema.decodeUnknownEither(Wire)
  const text = FastCheck.oneof(
    FastCheck.constantFrom("", "a", "x".repeat(255), "x".repeat(256), "é".repeat(200), "😀".repeat(255), "😀".repeat(256), "a\u0001b", "tab\there", "del\u007f", "c1\u0085", " spaced "),
    FastCheck.string({ maxLength: 20 }),
    FastCheck.integer(),
    FastCheck.constant(null)
  )
  const timestamp = FastCheck.oneof(
    FastCheck.constantFrom("2025-01-31T12:00:00Z", "2025-02-29T00:00:00Z", "2024-02-29T23:59:59.123+05:30", "2025-01-31T12:00:00", "2025-13-01T00:00:00Z", "2025-01-31 12:00:00Z", "2025-01-31T24:00:00Z", "2025-01-31T12:00:00+24:00", "yesterday"),
    FastCheck.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    FastCheck.integer()
  )
  const payload = FastCheck.oneof(
    FastCheck.constantFrom({}, [], null, "text", { big: "x".repeat(300) }),
    FastCheck.dictionary(FastCheck.string({ maxLength: 5 }), FastCheck.jsonValue({ maxDepth: 2 }))
  )
  // Mostly valid fields, so that one bad field decides, with edge values of every rule.
  const mostly = <A, B>(good: FastCheck.Arbitrary<A>, any: FastCheck.Arbitrary<B>) =>
    FastCheck.oneof({ arbitrary: good, weight: 4 }, { arbitrary: any, weight: 1 })
  const goodText = FastCheck.oneof(
    FastCheck.constantFrom("a", "x".repeat(255), "é".repeat(255), "😀".repeat(255), "Ωmega-1"),
    // oxlint-disable-next-line no-control-regex -- generating text without control characters
    FastCheck.string({ minLength: 1, maxLength: 30 }).filter((s) => !/[\u0000-\u001f\u007f-\u009f]/.test(s))
  )
  const candidate = FastCheck.record(
    {
      topic: mostly(goodText, text),
      event_id: mostly(goodText, text),
      timestamp: mostly(FastCheck.constant("2025-01-31T12:00:00Z"), timestamp),
      source: mostly(goodText, text),
      payload: mostly(FastCheck.constant({ a: 1 }), payload),
      extra: FastCheck.jsonValue({ maxDepth: 1 })
    },
    { requiredKeys: ["topic", "event_id", "timestamp", "source", "payload"] }
  ).chain((r) => FastCheck.oneof(
    { arbitrary: FastCheck.constant(Object.fromEntries(Object.entries(r).filter(([k]) => k !== "extra"))), weight: 4 },
    { arbitrary: FastCheck.constant(r), weight: 1 },
    { arbitrary: FastCheck.constant(Object.fromEntries(Object.entries(r).filter(([k]) => k !== "source"))), weight: 1 }
  ))

  it.prop("accepts exactly what the schema and the payload limit accept", [FastCheck.oneof(candidate, FastCheck.jsonValue())], ([u]) => {
    const maxEventBytes = 256
    const bySchema = Either.isRight(decode(u)) &&
      Buffer.byteLength(JSON.stringify((u as { payload: unknown }).payload)) <= maxEventBytes
    const result = Event.validate([u], { maxEventBytes, maxPayloadDepth: 64 })
    assert.strictEqual(Either.isRight(result), bySchema, JSON.stringify(u))
    // A rejection always explains itself with a real problem, never the fallback.
    if (Either.isLeft(result)) assert.isTrue(result.left.issues.every((i) => i.message !== "invalid event"))
  }, { fastCheck: { numRuns: 2000 } })
})
