// `events --follow`, through the built bin: a local store (SQLite), and a fake of the server's
// event stream (node:http, written with the same Sse encoder the server uses). Every step waits
// for what it needs (lines printed, requests seen), never for a time.
import { afterAll, afterEach, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Sse from "@effect/experimental/Sse"
import * as Duration from "effect/Duration"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { cli, killRunning, spawnCli } from "./utils.js"

let dir: string
beforeAll(() => {
  dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-follow-"))
})
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
afterEach(killRunning)

interface StreamRequest {
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: Http.IncomingHttpHeaders
  /** `performance.now()` when it arrived. */
  readonly at: number
}

interface FakeStream {
  readonly url: string
  readonly requests: Array<StreamRequest>
  /** Resolves once `n` requests have arrived. */
  readonly seen: (n: number) => Promise<void>
  readonly close: () => Promise<void>
}

/** A fake of `GET /events/stream` on 127.0.0.1 (`port`, or any): `answer` handles the nth request (from 0). */
const fakeStream = (answer: (request: StreamRequest, res: Http.ServerResponse, n: number) => void, port = 0) =>
  new Promise<FakeStream>((resolve) => {
    const requests: Array<StreamRequest> = []
    const waiting: Array<() => void> = []
    const server = Http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://localhost")
      const request = { path: url.pathname, query: url.searchParams, headers: req.headers, at: performance.now() }
      requests.push(request)
      answer(request, res, requests.length - 1)
      for (const wake of waiting.splice(0)) wake()
    })
    server.listen(port, "127.0.0.1", () => {
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        requests,
        seen: (n) =>
          new Promise<void>((done) => {
            const check = () => (requests.length >= n ? done() : waiting.push(check))
            check()
          }),
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

const withStream = async <A>(fake: Promise<FakeStream>, f: (fake: FakeStream) => Promise<A>) => {
  const server = await fake
  try {
    return await f(server)
  } finally {
    await server.close()
  }
}

/** The head of a stream as the contract says: 200, text/event-stream, `retry: 2000` first. */
const open = (res: Http.ServerResponse) => {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
  res.write(Sse.encoder.write(new Sse.Retry({ duration: Duration.millis(2000), lastEventId: undefined })))
}

const message = (seq: number, data: string) => Sse.encoder.write({ _tag: "Event", event: "message", id: String(seq), data })

/** A stored event as the server writes it (and as `EventJson.stringifyStored` prints it). */
const storedText = (seq: number, payload: string, topic = "orders") =>
  `{"topic":"${topic}","event_id":"e${seq}","timestamp":"2025-01-31T12:00:00Z","source":"shop","payload":${payload},"seq":${seq},"received_at":"2025-01-31T12:00:01.000Z"}`

const refuse = (res: Http.ServerResponse, status: number, error: string, message: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify({ error, message }))
}

describe("events --follow --url (a fake event stream)", () => {
  it("--json prints each event as one line, payloads byte for byte, data over several lines and split anywhere; the default start is now", async () => {
    // int64s, digits JSON.parse would change, escapes of every kind
    const exact = String.raw`{"id":9223372036854775807,"price":1.50,"s":"caf\u00e9 \"q\" \/ \ud83d\ude00 \\","big":123456789012345678901234567890,"e":1E+2,"z":-0}`
    // published over several lines: its line breaks are whitespace between tokens
    const multiLine = "{\n  \"a\": [1,\n    2],\n  \"t\": \"x\\ny\"\n}"
    const unicode = "{\"名前\":\"テスト\",\"emoji\":\"😀\"}"
    await withStream(
      fakeStream((_, res) => {
        open(res)
        res.write(": keep-alive\n\n")
        res.write(message(1, storedText(1, exact)))
        // Fields in another order, the JSON itself over several lines: `data` spans several `data:` lines.
        res.write(message(
          2,
          `{\n  "seq": 2,\n  "received_at": "2025-01-31T12:00:01.000Z",\n  "payload": ${multiLine},\n  "topic": "orders", "event_id": "e2",\n  "timestamp": "2025-01-31T12:00:00Z", "source": "shop"\n}`
        ))
        // Written a few bytes at a time: chunks end inside lines and inside UTF-8 characters.
        const bytes = Buffer.from(message(3, storedText(3, unicode)))
        for (let i = 0; i < bytes.length; i += 5) res.write(bytes.subarray(i, i + 5))
      }),
      async (fake) => {
        const follower = spawnCli(["events", "--follow", "--url", fake.url, "--json"])
        await follower.lines(3)
        const r = await follower.stop("SIGINT")
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(r.stderr, "")
        assert.strictEqual(
          r.stdout,
          `${storedText(1, exact)}\n${storedText(2, multiLine.replace(/\n/g, " "))}\n${storedText(3, unicode)}\n`
        )
        assert.strictEqual(fake.requests.length, 1)
        const [request] = fake.requests
        assert.strictEqual(request!.path, "/events/stream")
        assert.strictEqual(request!.query.get("after"), "now", "without --after, follow starts at now")
        assert.isFalse(request!.query.has("topic"))
        assert.strictEqual(request!.headers.accept, "text/event-stream")
        assert.isUndefined(request!.headers["last-event-id"])
      }
    )
  })

  it("a dropped connection and a stream the server ends are resumed with Last-Event-ID = the last seq printed: nothing twice, nothing skipped", async () => {
    // The fake honours the contract: Last-Event-ID, when sent, beats `after`.
    const from = (request: StreamRequest) => Number(request.headers["last-event-id"] ?? request.query.get("after"))
    const send = (res: Http.ServerResponse, after: number, to: number) => {
      for (let seq = after + 1; seq <= to; seq++) res.write(message(seq, storedText(seq, `{"n":${seq}}`)))
    }
    const responses: Array<Http.ServerResponse> = []
    await withStream(
      fakeStream((request, res, n) => {
        responses.push(res)
        open(res)
        send(res, from(request), [3, 5, 6][n] ?? 0)
        // Half of event 4: never printed, since the connection is cut before its end.
        if (n === 0) res.write("id: 4\ndata: {\"topic\":\"orders\",")
      }),
      async (fake) => {
        const follower = spawnCli(["events", "-f", "--url", fake.url, "--topic", "orders", "--after", "0"])
        // Each cut once the events sent before it are printed (bytes a socket received before
        // it was reset may never be read).
        await follower.lines(2 + 3)
        responses[0]!.socket?.destroy()
        await follower.lines(2 + 5)
        responses[1]!.end() // a server shutting down ends its streams
        await follower.lines(2 + 6)
        await fake.seen(3)
        const r = await follower.stop("SIGTERM")
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(
          r.stdout,
          [
            "seq  topic   event_id  timestamp             source  payload",
            "---  ------  --------  --------------------  ------  -------",
            ...[1, 2, 3, 4, 5, 6].map((n) => `${n}    orders  e${n}        2025-01-31T12:00:00Z  shop    {"n":${n}}`)
          ].join("\n") + "\n"
        )
        assert.deepStrictEqual(fake.requests.map((q) => q.headers["last-event-id"]), [undefined, "3", "5"])
        for (const q of fake.requests) {
          assert.strictEqual(q.query.get("topic"), "orders")
          assert.strictEqual(q.query.get("after"), "0")
        }
        const notices = r.stderr.trim().split("\n")
        assert.strictEqual(notices.length, 2, r.stderr)
        assert.match(notices[0]!, /^event-aggregator: the connection dropped .*; reconnecting in \d+\.\ds, after seq 3$/)
        assert.match(notices[1]!, /^event-aggregator: the server ended the stream; reconnecting in \d+\.\ds, after seq 5$/)
        // The server's `retry: 2000` is the least wait before connecting again.
        assert.isAtLeast(fake.requests[1]!.at - fake.requests[0]!.at, 1990)
      }
    )
  })

  it("a 503 is waited out for its Retry-After, then the stream resumes from --after", async () => {
    await withStream(
      fakeStream((_, res, n) => {
        if (n === 0) {
          return refuse(res, 503, "TooManyFollowers", "this process has 2 followers already (MAX_FOLLOWERS)", { "retry-after": "1" })
        }
        open(res)
        res.write(message(8, storedText(8, "{\"n\":8}")))
      }),
      async (fake) => {
        const follower = spawnCli(["events", "--follow", "--url", fake.url, "--after", "7", "--json"])
        await follower.lines(1)
        const r = await follower.stop("SIGINT")
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(r.stdout, `${storedText(8, "{\"n\":8}")}\n`)
        assert.match(
          r.stderr,
          /^event-aggregator: TooManyFollowers: this process has 2 followers already \(MAX_FOLLOWERS\); reconnecting in \d+\.\ds, after seq 7\n$/
        )
        assert.strictEqual(fake.requests.length, 2)
        assert.isAtLeast(fake.requests[1]!.at - fake.requests[0]!.at, 990, "waited Retry-After")
        assert.strictEqual(fake.requests[1]!.headers["last-event-id"], "7")
      }
    )
  })

  it("a server that cannot be reached yet is tried again until it answers", async () => {
    // A port nobody listens on, until the fake starts on it.
    const port = await new Promise<number>((resolve) => {
      const probe = Http.createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as AddressInfo
        probe.close(() => resolve(port))
      })
    })
    const follower = spawnCli(["events", "--follow", "--url", `http://127.0.0.1:${port}`, "--after", "0", "--json"])
    await follower.until((_, stderr) => stderr.includes("cannot reach the server"))
    await withStream(
      fakeStream((_, res) => {
        open(res)
        res.write(message(1, storedText(1, "{}")))
      }, port),
      async () => {
        await follower.lines(1)
        const r = await follower.stop("SIGINT")
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(r.stdout, `${storedText(1, "{}")}\n`)
        assert.match(r.stderr, /^(event-aggregator: cannot reach the server: .*; reconnecting in \d+\.\ds, after seq 0\n)+$/)
      }
    )
  })

  it("a 401 or a 400 ends it at once with the server's message", async () => {
    await withStream(
      fakeStream((request, res) =>
        request.headers.authorization === "Bearer right"
          ? refuse(res, 400, "BadRequest", "after must be an integer of 0 or more, or now")
          : refuse(res, 401, "Unauthorized", "missing or wrong API key")
      ),
      async (fake) => {
        const unauthorized = await cli(["events", "--follow", "--url", fake.url, "--api-key", "wrong"])
        assert.strictEqual(unauthorized.code, 1)
        assert.strictEqual(unauthorized.stdout, "")
        assert.strictEqual(unauthorized.stderr, "event-aggregator: Unauthorized: missing or wrong API key\n")
        assert.strictEqual(fake.requests.length, 1, "a 401 is asked once")
        assert.strictEqual(fake.requests[0]!.headers.authorization, "Bearer wrong")

        const bad = await cli(["events", "--follow", "--url", fake.url, "--api-key", "right", "--after", "3"])
        assert.strictEqual(bad.code, 1)
        assert.strictEqual(bad.stderr, "event-aggregator: BadRequest: after must be an integer of 0 or more, or now\n")
        assert.strictEqual(fake.requests.length, 2, "a 400 is asked once")
      }
    )
  })
})

describe("events --follow (a local store)", () => {
  const event = (topic: string, id: string, payload: string) =>
    `{"topic": "${topic}", "event_id": "${id}", "timestamp": "2025-01-31T12:00:00Z", "source": "follow-test", "payload": ${payload}}`

  /** A SQLite file holding `lines` (NDJSON), written by `ingest` as another process. */
  const ingest = async (db: string, name: string, lines: ReadonlyArray<string>) => {
    const file = Path.join(dir, `${name}.ndjson`)
    Fs.writeFileSync(file, `${lines.join("\n")}\n`)
    const r = await cli(["ingest", "--db", db, "--quiet", file])
    assert.strictEqual(r.code, 0, r.stderr)
  }

  it("--after N prints the stored events after N, exactly as events does, and exits 0 on SIGINT and SIGTERM", async () => {
    const db = Path.join(dir, "stored.sqlite")
    await ingest(db, "stored", [
      event("a", "1", "{\"i\":1}"),
      event("a", "2", String.raw`{"id":9223372036854775807,"s":"caf\u00e9 \"q\""}`),
      event("b", "3", "{\"i\":3, \"big\": 123456789012345678901234567890}"),
      event("a", "4", "{\"i\":4}"),
      event("a", "5", "{\"i\":5}")
    ])
    const listed = await cli(["events", "--db", db, "--after", "2", "--json"])
    assert.strictEqual(listed.code, 0, listed.stderr)

    const json = spawnCli(["events", "--follow", "--db", db, "--after", "2", "--json"])
    await json.lines(3)
    const r = await json.stop("SIGINT")
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(r.stderr, "")
    const lines = r.stdout.split("\n")
    assert.strictEqual(lines.pop(), "", "every line ends")
    assert.strictEqual(lines.length, 3)
    // Each line is one event exactly as `events --json` prints it in its page.
    assert.strictEqual(`{"events":[${lines.join(",")}],"next_after":null}\n`, listed.stdout)
    assert.include(lines[0], "\"payload\":{\"i\":3, \"big\": 123456789012345678901234567890}")

    const table = spawnCli(["events", "-f", "--db", db, "--topic", "a", "--after", "1"])
    await table.lines(2 + 3)
    const t = await table.stop("SIGTERM")
    assert.strictEqual(t.code, 0, t.stderr)
    assert.strictEqual(t.stderr, "")
    const page = await cli(["events", "--db", db, "--topic", "a", "--after", "1"])
    assert.strictEqual(t.stdout, page.stdout.replace("(end of log)\n", ""))
  })

  it("follows from now what another process commits to the SQLite file: no stored event, no gap, no repeat", async () => {
    const db = Path.join(dir, "shared.sqlite")
    await ingest(db, "before", Array.from({ length: 5 }, (_, i) => event("t", `old-${i}`, "{}")))
    const follower = spawnCli(["events", "--follow", "--db", db, "--json"])
    // Readiness probe: commit one event at a time until the follower prints one; from then on it
    // has its cursor, and every later commit must appear.
    for (let k = 0; k < 50 && follower.stdout() === ""; k++) await ingest(db, `probe-${k}`, [event("probe", String(k), "{}")])
    await follower.lines(1)
    await ingest(db, "after", [
      event("t", "new-1", String.raw`{"id":9223372036854775807,"e":"\ud83d\ude00"}`),
      event("t", "new-2", "{}"),
      event("t", "new-3", "{\"n\":[1,2,3]}")
    ])
    await follower.until((out) => out.includes("\"event_id\":\"new-3\""))
    const r = await follower.stop("SIGINT")
    assert.strictEqual(r.code, 0, r.stderr)
    const printed = r.stdout.trim().split("\n")
    const seqs = printed.map((l) => Number(/"seq":(\d+)/.exec(l)![1]))
    assert.isAbove(seqs[0]!, 5, "the events stored before it started are not printed")
    seqs.forEach((s, i) => assert.strictEqual(s, seqs[0]! + i, "consecutive: no gap, no repeat"))
    assert.deepStrictEqual(printed.slice(-3).map((l) => /"event_id":"([^"]+)"/.exec(l)![1]), ["new-1", "new-2", "new-3"])
    assert.include(printed.at(-3), String.raw`"payload":{"id":9223372036854775807,"e":"\ud83d\ude00"}`)
  })

  it("refuses --limit with --follow, and --after now without it, in one line", async () => {
    const db = Path.join(dir, "refusals.sqlite")
    const limit = await cli(["events", "--follow", "--db", db, "--limit", "5"])
    assert.strictEqual(limit.code, 1)
    assert.strictEqual(
      limit.stderr,
      "event-aggregator: --limit does not apply with --follow, which prints every event until interrupted (for a fixed count: | head -n N)\n"
    )
    const now = await cli(["events", "--db", db, "--after", "now"])
    assert.strictEqual(now.code, 1)
    assert.strictEqual(now.stderr, "event-aggregator: --after now needs --follow (without it, events lists what is stored)\n")
    const bad = await cli(["events", "--follow", "--db", db, "--after", "soon"])
    assert.strictEqual(bad.stderr, "event-aggregator: --after must be an integer of 0 or more, or now, got \"soon\"\n")
  })
})
