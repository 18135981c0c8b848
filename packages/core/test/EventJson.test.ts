import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Event from "../src/Event.js"
import * as EventJson from "../src/EventJson.js"
import * as Json from "@event-aggregator/api/Json"
import * as JsonValue from "../src/internal/jsonValue.js"

/** Whether `f` throws, and whether what it threw is a JSON syntax error. */
const outcome = (f: () => unknown): "ok" | "syntax" | "other" => {
  try {
    f()
    return "ok"
  } catch (error) {
    return error instanceof Json.JsonSyntaxError || error instanceof SyntaxError ? "syntax" : "other"
  }
}

/** JSON texts of random values, with random whitespace between tokens. */
const spaced = (text: string, seed: number): string => {
  let out = ""
  let inString = false
  let k = seed
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    out += c
    if (inString && c === "\\") {
      out += text[++i]
      continue
    }
    if (c === "\"") inString = !inString
    if (!inString && ",:[]{}".includes(c)) {
      k = (k * 1103515245 + 12345) % 2147483648
      out += [" ", "\n  ", "", "\t", "\r\n"][k % 5]
    }
  }
  return out
}

const jsonText = FastCheck.tuple(FastCheck.jsonValue({ maxDepth: 4 }), FastCheck.nat()).map(([v, seed]) =>
  spaced(JSON.stringify(v), seed)
)

/** Integers and decimals beyond what a double holds exactly, as JSON number text. */
const bigNumber = FastCheck.oneof(
  FastCheck.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  FastCheck.tuple(FastCheck.bigInt({ min: 0n, max: 10n ** 30n }), FastCheck.nat({ max: 40 })).map(([d, f]) =>
    `${d}.${"0".repeat(f)}1`
  ),
  FastCheck.constantFrom("1e-400", "-0", "0.0", "6.02E+23", "1E308", "123456789012345678901234567890e-5")
)

/** A payload object as text: random members, some of them big numbers, random spacing. */
const payloadText = FastCheck.tuple(
  FastCheck.dictionary(FastCheck.string({ maxLength: 6 }), FastCheck.oneof(jsonText, bigNumber), { maxKeys: 6 }),
  FastCheck.nat()
).map(([members, seed]) =>
  spaced(`{${Object.entries(members).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`, seed).trimEnd()
)

describe("the JSON scanner", () => {
  it.prop("parses every JSON text to what JSON.parse gives", [jsonText], ([text]) => {
    assert.deepStrictEqual(Json.parse(text), JSON.parse(text))
  }, { fastCheck: { numRuns: 1000 } })

  it.prop(
    "refuses exactly the texts JSON.parse refuses, with a syntax error and never anything else",
    [FastCheck.oneof(
      FastCheck.string({ maxLength: 40 }),
      FastCheck.string({ unit: "binary", maxLength: 20 }),
      // Truncated and mutated JSON: the realistic malformed bodies.
      FastCheck.tuple(jsonText, FastCheck.nat(), FastCheck.string({ maxLength: 3 })).map(([t, n, s]) => {
        const at = n % (t.length + 1)
        return t.slice(0, at) + s + t.slice(at + (n % 3))
      }),
      FastCheck.tuple(jsonText, FastCheck.nat()).map(([t, n]) => t.slice(0, n % (t.length + 1)))
    )],
    ([text]) => {
      const ours = outcome(() => Json.parse(text))
      assert.notStrictEqual(ours, "other")
      assert.strictEqual(ours, outcome(() => JSON.parse(text)), JSON.stringify(text))
    },
    { fastCheck: { numRuns: 3000 } }
  )

  it("never recurses: 100,000 levels of nesting scan and parse without a stack overflow", () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000)
    assert.strictEqual(Json.scan(deep).depth, 100_000)
    assert.strictEqual(outcome(() => Json.parse(deep)), "ok")
    const body = `{"topic":"t","payload":${"{\"a\":".repeat(100_000)}1${"}".repeat(100_000)}}`
    const parsed = Either.getOrThrow(EventJson.parse(body)) as { payload: EventJson.RawJson }
    assert.strictEqual(parsed.payload.depth, 100_000)
    assert.strictEqual(outcome(() => Json.parse("[".repeat(100_000))), "syntax")
  })

  it("flags numbers beyond the range of a double, and only those", () => {
    for (const text of ["1e999", "-1E309", "1" + "0".repeat(309), "[1,{\"a\":2e400}]"]) {
      assert.isTrue(Json.scan(text).overflow, text)
    }
    for (const text of ["1e308", "1.7976931348623157e308", "1e-400", "9".repeat(308), "-0", "1" + "0".repeat(300) + ".5"]) {
      assert.isFalse(Json.scan(text).overflow, text)
    }
  })

  it("locates the first value too deep, or the first number that overflows, by path", () => {
    assert.strictEqual(Json.locate(`{"a":{"b":[1,{"c":{}}]}}`, "payload", 4), "payload.a.b[1]")
    assert.strictEqual(Json.locate(`{"a":{"b":[1,{"c":{}}]}}`, "payload", 5), "payload.a.b[1].c")
    assert.strictEqual(Json.locate(`{"x":1,"odd key":[0, 1e999]}`, "payload", undefined), "payload[\"odd key\"][1]")
  })

  it.prop("sameValue: the same value in another spelling is the same; another value is not", [
    FastCheck.jsonValue({ maxDepth: 3 }),
    FastCheck.nat()
  ], ([value, seed]) => {
    const a = JSON.stringify(value)
    // Keys reversed, spacing added, small integers spelled with a fraction and an exponent.
    const respell = (v: unknown): string =>
      Array.isArray(v)
        ? `[${v.map(respell).join(",")}]`
        : typeof v === "object" && v !== null
        ? `{${Object.entries(v).reduceRight<Array<string>>((out, [k, x]) => [...out, `${JSON.stringify(k)}:${respell(x)}`], []).join(",")}}`
        : typeof v === "number" && Number.isInteger(v) && Math.abs(v) < 1e15
        ? `${v}.0e0`
        : JSON.stringify(v)
    const b = spaced(respell(value), seed)
    assert.isTrue(JsonValue.sameValue(a, b), `${a} vs ${b}`)
    assert.isFalse(JsonValue.sameValue(a, JSON.stringify([value])))
  }, { fastCheck: { numRuns: 500 } })

  it("sameValue compares numbers as exact decimals and strings after their escapes", () => {
    assert.isTrue(JsonValue.sameValue(`{"n":1}`, `{"n":1.000}`))
    assert.isTrue(JsonValue.sameValue(`{"n":100}`, `{"n":1e2}`))
    assert.isTrue(JsonValue.sameValue(`{"n":0}`, `{"n":-0.0}`))
    assert.isFalse(JsonValue.sameValue(`{"n":9223372036854775807}`, `{"n":9223372036854775808}`))
    assert.isFalse(JsonValue.sameValue(`{"n":0.1}`, `{"n":0.10000000000000001}`))
    assert.isTrue(JsonValue.sameValue(`{"s":"\\u00e9"}`, `{"s":"é"}`))
    assert.isFalse(JsonValue.sameValue(`{"a":1}`, `{"a":1,"b":null}`))
  })
})

describe("EventJson", () => {
  const envelope = (payload: string, i: number) =>
    `{"topic":"t","event_id":"${i}","timestamp":"2025-01-31T12:00:00Z","source":"s","payload":${payload}}`

  it.prop("keeps every payload of a body as its exact text, in every body shape", [
    FastCheck.array(payloadText, { minLength: 1, maxLength: 5 }),
    FastCheck.constantFrom("one", "array", "wrapped")
  ], ([payloads, shape]) => {
    const events = payloads.map(envelope)
    const body = shape === "one" ? events[0]! : shape === "array" ? ` [ ${events.join(" ,\n")} ] ` : `{"events":[${events.join(",")}]}`
    const list = Either.getOrThrow(Either.flatMap(EventJson.parse(body), Event.eventsOfBody))
    const expected = shape === "one" ? payloads.slice(0, 1) : payloads
    assert.deepStrictEqual(list.map((e) => (e as { payload: EventJson.RawJson }).payload.text), expected)
    const validated = Either.getOrThrow(Event.validate(list, Event.defaultLimits))
    assert.deepStrictEqual(validated.map((e) => e.payload), expected)
  }, { fastCheck: { numRuns: 300 } })

  it("writes a stored event with its payload spliced in, and reads it back exactly", () => {
    const payload = Event.Payload.make(`{"id": 18446744073709551615, "s": "\\u00e9"}`)
    const stored: Event.StoredEvent = {
      topic: "t\"q",
      event_id: "1",
      timestamp: "2025-01-31T12:00:00Z",
      source: "s",
      payload,
      seq: 7,
      received_at: "2026-01-01T00:00:00.000Z"
    }
    const text = EventJson.stringifyPage({ events: [stored], next_after: null })
    assert.deepStrictEqual(JSON.parse(text).events[0].topic, "t\"q")
    const back = Either.getOrThrow(EventJson.parse(text)) as { events: Array<{ payload: EventJson.RawJson; seq: number }> }
    assert.strictEqual(back.events[0]!.payload.text, payload)
    assert.strictEqual(back.events[0]!.seq, 7)
  })

  it("a syntax error names its line and column", () => {
    const error = Either.getLeft(EventJson.parse(`[\n  {"a": 1,}\n]`))
    assert.isTrue(error._tag === "Some")
    if (error._tag === "Some") {
      assert.strictEqual(error.value.line, 2)
      assert.strictEqual(error.value.column, 11)
      assert.include(error.value.message, "line 2, column 11")
    }
  })
})
