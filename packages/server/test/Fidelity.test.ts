// Payloads come back exactly as they were published; what cannot be kept is refused with its path.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { event, freshTopic, getJson, publish, quiet, startServer } from "./utils.js"

const text = (url: string) => Effect.promise(() => fetch(url).then((r) => r.text()))

const envelope = (topic: string, id: string, payload: string) =>
  `{"topic":${JSON.stringify(topic)},"event_id":"${id}","timestamp":"2025-01-31T12:00:00Z","source":"py","payload":${payload}}`

const payloads = [
  `{"n": 9223372036854775807}`,
  `{"id":18446744073709551615,"neg":-9223372036854775808}`,
  `{"big":123456789012345678901234567890.000000000000000000001,"e":6.02E+23,"tiny":1e-400,"z":-0.0}`,
  `{"s":"caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\/ é✓😀","nested":{"list":[ 1 ,2.50, null ,true ],"o":{}}}`,
  `{\n  "pretty": [\n    1,\n    2\n  ]\n}`
]

describe("payload fidelity over HTTP", () => {
  it.scopedLive("JSON and NDJSON payloads come back byte for byte from GET /events and GET /events/{topic}/{id}", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      const body = `[${payloads.map((p, i) => envelope(topic, `j${i}`, p)).join(",")}]`
      assert.strictEqual((yield* publish(url, body)).body.accepted, payloads.length)
      const lines = payloads.filter((p) => !p.includes("\n")).map((p, i) => envelope(topic, `n${i}`, p)).join("\n")
      assert.strictEqual((yield* publish(url, lines, { contentType: "application/x-ndjson" })).status, 200)

      const page = yield* text(`${url}/events?topic=${topic}`)
      for (const p of payloads) assert.include(page, `"payload":${p},`)
      assert.strictEqual(JSON.parse(page).events.length, payloads.length * 2 - 1)
      for (let i = 0; i < payloads.length; i++) {
        const one = yield* text(`${url}/events/${topic}/j${i}`)
        assert.include(one, `"payload":${payloads[i]},`)
      }
      // The same event re-sent with the payload spelled differently is a duplicate, not a conflict;
      // one digit off in an int64 is a conflict (JSON.parse would have made them equal).
      const again = yield* publish(url, `[${envelope(topic, "j0", `{"n":9223372036854775807.0}`)},${envelope(topic, "j0", `{"n": 9223372036854775806}`)}]`, {
        query: "detail=true"
      })
      assert.deepStrictEqual(again.body.results.map((r: { status: string }) => r.status), ["duplicate", "conflict"])
    }).pipe(Effect.provide(quiet)))

  it.scopedLive("what cannot be kept is refused with a 4xx naming the problem, and nothing is stored", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const topic = freshTopic()
      const refused = async (body: string | Uint8Array, status: number, path?: string) => {
        const r = await fetch(`${url}/publish`, { method: "POST", headers: { "content-type": "application/json" }, body })
        const json = await r.json() as { error: string; message: string; issues?: Array<{ path: string; message: string }> }
        assert.strictEqual(r.status, status, JSON.stringify(json).slice(0, 300))
        assert.isAbove(json.message.length, 0)
        if (path !== undefined) assert.strictEqual(json.issues?.[0]?.path, path, JSON.stringify(json.issues).slice(0, 300))
        return json
      }
      yield* Effect.promise(async () => {
        await refused(envelope(topic, "1", `{"x": 1e999}`), 422, "payload.x")
        await refused(envelope(topic, "2", `{"a": [1, -2E+400]}`), 422, "payload.a[1]")
        await refused(envelope(topic, "3", `{"x": NaN}`), 400)
        const deep = (n: number) => `${"{\"a\":".repeat(n)}1${"}".repeat(n)}`
        const tooDeep = await refused(envelope(topic, "4", deep(5000)), 422, `payload${".a".repeat(64)}`)
        assert.include(tooDeep.issues![0]!.message, "MAX_PAYLOAD_DEPTH")
        await refused(`[${"[".repeat(100_000)}${"]".repeat(100_000)}]`, 422)
        await refused(envelope(topic, "5", `{"x": 1}`).replace(`"source":"py"`, `"source":"py","source":"js"`), 422, "source")
        await refused(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 400)
      })
      assert.strictEqual((yield* getJson(url, `/events?topic=${topic}`)).body.events.length, 0)
      const stats = (yield* getJson(url, "/stats")).body
      assert.deepStrictEqual([stats.received, stats.unique_processed], [0, 0])
      // A byte order mark before the JSON is allowed; a deep payload at the limit is accepted.
      const bom = yield* publish(url, `\uFEFF${envelope(topic, "bom", `{"a":${"[".repeat(62)}${"]".repeat(62)}}`)}`)
      assert.strictEqual(bom.status, 200, JSON.stringify(bom.body))
    }).pipe(Effect.provide(quiet)))

  it.scopedLive("MAX_PAYLOAD_DEPTH and MAX_EVENT_BYTES are the server's settings", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer({ aggregator: { maxPayloadDepth: 3, maxEventBytes: 64 } })
      const topic = freshTopic()
      assert.strictEqual((yield* publish(url, event(topic, "ok", { a: { b: 1 } }))).status, 200)
      const deep = yield* publish(url, event(topic, "deep", { a: { b: { c: {} } } }))
      assert.strictEqual(deep.status, 422)
      assert.strictEqual(deep.body.issues[0].path, "payload.a.b.c")
      const big = yield* publish(url, event(topic, "big", { s: "x".repeat(100) }))
      assert.strictEqual(big.status, 422)
      assert.include(big.body.issues[0].message, "over the limit of 64")
    }).pipe(Effect.provide(quiet)))
})
