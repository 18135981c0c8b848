import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
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
