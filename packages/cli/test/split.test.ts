// The JSON splitter behind `ingest` of .json files: exact element texts across any chunking,
// and malformed input reported, never thrown, never at the cost of an earlier valid element.
import { EventJson } from "@event-aggregator/core"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Split from "../src/internal/split.js"

const splitChunks = (chunks: ReadonlyArray<string>, maxElement = 1 << 20) => {
  const splitter = Split.make({ maxElement })
  const pieces: Array<Split.Piece> = []
  for (const chunk of chunks) pieces.push(...splitter.push(chunk))
  pieces.push(...splitter.end())
  return { pieces, container: splitter.container() }
}

/** `text` cut at the given points (any order, duplicates allowed). */
const cut = (text: string, points: ReadonlyArray<number>): Array<string> => {
  const at = [...new Set(points.map((p) => p % (text.length + 1)))].sort((a, b) => a - b)
  const chunks: Array<string> = []
  let from = 0
  for (const p of at) {
    chunks.push(text.slice(from, p))
    from = p
  }
  chunks.push(text.slice(from))
  return chunks
}

const texts = (pieces: ReadonlyArray<Split.Piece>) =>
  pieces.flatMap((p) => (p._tag === "Element" ? [p.text] : []))

// Generators of JSON *text* (not values), so every expected element text is known exactly.
const ws = FastCheck.stringMatching(/^[ \t\n\r]{0,3}$/)
const jsonString = FastCheck.tuple(
  FastCheck.array(FastCheck.constantFrom("a", "é", "😀", "\"", "\\", "[", "]", "{", "}", ",", ":", "\n", "\u2028", "\u0001"), {
    maxLength: 8
  }),
  FastCheck.boolean()
).map(([chars, unicodeEscapes]) => {
  const s = JSON.stringify(chars.join(""))
  // Also the escapes JSON.stringify never writes: \u00e9, \/.
  return unicodeEscapes ? s.replace(/é/g, "\\u00e9").replace(/a/g, "\\/") : s
})
const jsonNumber = FastCheck.constantFrom(
  "0",
  "-0",
  "1.50",
  "9223372036854775807",
  "-9223372036854775808",
  "123456789012345678901234567890",
  "1e400",
  "1E-7",
  "2.5e+3"
)
const scalar = FastCheck.oneof(jsonString, jsonNumber, FastCheck.constantFrom("true", "false", "null"))
const { value: jsonValue } = FastCheck.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: FastCheck.oneof({ maxDepth: 4, depthIdentifier: "json" }, scalar, tie("array"), tie("object")),
  array: FastCheck.tuple(FastCheck.array(FastCheck.tuple(ws, tie("value"), ws), { maxLength: 4 }), ws).map(([items, w]) =>
    items.length === 0 ? `[${w}]` : `[${items.map(([a, v, b]) => `${a}${v}${b}`).join(",")}]`
  ),
  object: FastCheck.tuple(
    FastCheck.array(FastCheck.tuple(ws, jsonString, ws, ws, tie("value"), ws), { maxLength: 4 }),
    ws
  ).map(([members, w]) =>
    members.length === 0 ? `{${w}}` : `{${members.map(([a, k, b, c, v, d]) => `${a}${k}${b}:${c}${v}${d}`).join(",")}}`
  )
}))
const eventLike = FastCheck.tuple(jsonString, jsonString, jsonValue, ws).map(([topic, id, payload, w]) =>
  `{${w}"topic":${topic},"event_id":${id},"timestamp":"2025-01-31T12:00:00Z",${w}"source":"s","payload":{"v":${payload}}}`
)
const element = FastCheck.oneof({ arbitrary: eventLike, weight: 3 }, { arbitrary: jsonValue, weight: 1 })
const elements = FastCheck.array(FastCheck.tuple(ws, element, ws), { maxLength: 8 })

/** The array's text, and the offset of the delimiter (`,` or `]`) that ends each element. */
const arrayText = (items: ReadonlyArray<readonly [string, string, string]>, outer: string) => {
  let text = `${outer}[`
  const ends: Array<number> = []
  if (items.length === 0) text += outer
  items.forEach(([a, e, b], i) => {
    text += `${a}${e}${b}`
    ends.push(text.length)
    if (i < items.length - 1) text += ","
  })
  return { text: `${text}]${outer}`, ends }
}

describe("Split", () => {
  it.prop(
    "a JSON array cut in any chunks gives exactly its element texts",
    { items: elements, outer: ws, points: FastCheck.array(FastCheck.nat(), { maxLength: 12 }) },
    ({ items, outer, points }) => {
      const { text } = arrayText(items, outer)
      const { container, pieces } = splitChunks(cut(text, points))
      assert.deepStrictEqual(pieces.map((p) => p._tag), items.map(() => "Element"), text)
      assert.deepStrictEqual(texts(pieces), items.map(([, e]) => e))
      assert.strictEqual(container, "array")
      for (const t of texts(pieces)) assert.isTrue(Either.isRight(EventJson.parse(t)), t)
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "{\"events\": [...]} with other members around it gives the events' texts",
    {
      items: elements,
      before: FastCheck.array(FastCheck.tuple(jsonString, jsonValue), { maxLength: 2 }),
      after: FastCheck.array(FastCheck.tuple(jsonString, jsonValue), { maxLength: 2 }),
      points: FastCheck.array(FastCheck.nat(), { maxLength: 12 })
    },
    ({ after, before, items, points }) => {
      const members = (list: ReadonlyArray<readonly [string, string]>) =>
        list.filter(([k]) => JSON.parse(k) !== "events").map(([k, v]) => `${k}: ${v}`)
      const text = `{${[...members(before), `"events": ${arrayText(items, "").text}`, ...members(after)].join(",\n")}}`
      const { container, pieces } = splitChunks(cut(text, points))
      assert.deepStrictEqual(texts(pieces), items.map(([, e]) => e), text)
      assert.strictEqual(pieces.length, items.length)
      assert.strictEqual(container, "events")
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop(
    "malformed input gives an error, never a throw, and every element before the damage",
    {
      items: elements.filter((l) => l.length > 0),
      edit: FastCheck.constantFrom("delete", "insert", "truncate"),
      position: FastCheck.nat(),
      char: FastCheck.constantFrom("[", "]", "{", "}", "\"", "\\", ",", ":", "a", "1", " ", "\n"),
      points: FastCheck.array(FastCheck.nat(), { maxLength: 12 })
    },
    ({ char, edit, items, points, position }) => {
      const { ends, text } = arrayText(items, "")
      const p = position % text.length
      const damaged = edit === "delete"
        ? text.slice(0, p) + text.slice(p + 1)
        : edit === "insert"
        ? text.slice(0, p) + char + text.slice(p)
        : text.slice(0, p)
      const { pieces } = splitChunks(cut(damaged, points))

      // Elements whose closing delimiter lies before the damage come out untouched, first.
      const intact = ends.filter((end) => end < p).length
      assert.deepStrictEqual(
        pieces.slice(0, intact).map((x) => (x._tag === "Element" ? x.text : x._tag)),
        items.slice(0, intact).map(([, e]) => e),
        damaged
      )
      const malformedAt = pieces.findIndex((x) => x._tag === "Malformed")
      assert.isTrue(malformedAt === -1 || malformedAt === pieces.length - 1, "nothing follows Malformed")

      const failed = pieces.some((x) =>
        x._tag === "Malformed" || x._tag === "TooLarge" || (x._tag === "Element" && Either.isLeft(EventJson.parse(x.text)))
      )
      let valid: unknown
      try {
        valid = JSON.parse(damaged)
      } catch {
        assert.isTrue(failed, `malformed but no error: ${damaged}`)
        return
      }
      if (Array.isArray(valid)) {
        assert.isFalse(failed, `valid but refused: ${damaged}`)
        assert.strictEqual(texts(pieces).length, valid.length)
      }
    },
    { fastCheck: { numRuns: 1000 } }
  )

  it("a malformed element costs only itself; the structure error stops with its position", () => {
    const text = "[\n  {\"a\": tru},\n  {\"b\": 1},\n  {\"c\": 2]\n]"
    const { pieces } = splitChunks(cut(text, [3, 17, 18]))
    assert.deepStrictEqual(pieces, [
      { _tag: "Element", index: 0, text: "{\"a\": tru}", line: 2, column: 3 },
      { _tag: "Element", index: 1, text: "{\"b\": 1}", line: 3, column: 3 },
      { _tag: "Malformed", reason: "\"]\" closes an object", line: 4, column: 10 }
    ])
  })

  it("an element over the limit is skipped without being held, and the next one still comes", () => {
    const big = `{"payload": "${"x".repeat(5000)}"}`
    const text = `[${big}, {"small": 1}]`
    const chunks = cut(text, Array.from({ length: 60 }, (_, i) => i * 100))
    const { pieces } = splitChunks(chunks, 1000)
    assert.deepStrictEqual(pieces, [
      { _tag: "TooLarge", index: 0, length: big.length },
      { _tag: "Element", index: 1, text: "{\"small\": 1}", line: 1, column: big.length + 4 }
    ])
  })

  it("one event object (no \"events\" array) is left to the caller; an empty array gives nothing", () => {
    assert.deepStrictEqual(splitChunks(["{\"topic\": \"a\", \"events\": 3}"]).pieces, [{ _tag: "NoEvents" }])
    assert.deepStrictEqual(splitChunks(["\uFEFF[ ]\n"]).pieces, [])
    assert.deepStrictEqual(splitChunks(["{\"events\":[]}"]), { pieces: [], container: "events" })
  })

  it("broken structure is reported where it is", () => {
    const reason = (text: string) => splitChunks([text]).pieces.map((p) => (p._tag === "Malformed" ? p.reason : p._tag))
    assert.deepStrictEqual(reason("[1, 2"), ["Element", "unexpected end of the input"])
    assert.deepStrictEqual(reason("[\"a, 2]"), ["unterminated string at the end of the input"])
    assert.deepStrictEqual(reason("[1] x"), ["Element", "unexpected \"x\" after the end of the JSON value"])
    assert.deepStrictEqual(reason("{\"events\": [1], \"events\": [2]}"), ["Element", "\"events\" appears twice"])
    assert.deepStrictEqual(reason("{\"events\" [1]}"), ["expected \":\" after a member name, found \"[\""])
    assert.deepStrictEqual(reason("nope"), ["expected a JSON array, an event object or {\"events\": [...]}"])
    assert.deepStrictEqual(reason(""), ["the input is empty"])
  })
})
