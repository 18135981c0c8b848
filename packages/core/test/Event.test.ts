import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Event from "../src/Event.js"

const valid = {
  topic: "orders",
  event_id: "o-1",
  timestamp: "2025-01-31T12:00:00Z",
  source: "shop",
  payload: { total: 10 }
}

const limits: Event.Limits = { maxEventBytes: Event.DEFAULT_MAX_EVENT_BYTES }

const issuesOf = (input: ReadonlyArray<unknown>, l: Event.Limits = limits) => {
  const result = Event.validate(input, l)
  assert.isTrue(Either.isLeft(result), "expected the batch to be rejected")
  return Either.isLeft(result) ? result.left.issues : []
}

describe("Event.validate", () => {
  it("accepts valid events unchanged", () => {
    const result = Event.validate([valid, { ...valid, event_id: "o-2", payload: {} }], limits)
    assert.isTrue(Either.isRight(result))
    if (Either.isRight(result)) assert.deepStrictEqual(result.right[0], valid)
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
    const small: Event.Limits = { maxEventBytes: 100 }
    assert.isTrue(Either.isRight(Event.validate([{ ...valid, payload: { s: "x".repeat(50) } }], small)))
    const issues = issuesOf([{ ...valid, payload: { s: "é".repeat(50) } }], small)
    assert.strictEqual(issues[0]?.path, "payload")
    assert.include(issues[0]?.message, "over the limit of 100")
  })

  it("payloadEquals compares JSON values, ignoring key order only", () => {
    assert.isTrue(Event.payloadEquals({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }))
    assert.isFalse(Event.payloadEquals({ a: [1, 2] }, { a: [2, 1] }))
    assert.isFalse(Event.payloadEquals({ a: 1 }, { a: 1, b: undefined as unknown as number }))
    assert.isFalse(Event.payloadEquals({ a: null }, { a: {} }))
  })
})

describe("Event.isValid (the fast path of validate)", () => {
  const decode = Schema.decodeUnknownEither(Event.Event)
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
    assert.strictEqual(Event.isValid(u, maxEventBytes), bySchema, JSON.stringify(u))
    assert.strictEqual(Either.isRight(Event.validate([u], { maxEventBytes })), bySchema)
  }, { fastCheck: { numRuns: 2000 } })
})
