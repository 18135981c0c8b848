/**
 * Reads events from files, directories and stdin without loading them whole: NDJSON line by line,
 * JSON arrays and `{"events": [...]}` element by element (`Split`). Each record is parsed with
 * `EventJson.parse`, so payloads keep their exact text (int64s, `1.50`, escapes).
 */
import { EventJson } from "@event-aggregator/core"
import * as Either from "effect/Either"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { isUtf8 } from "node:buffer"
import type { Readable } from "node:stream"
import * as Split from "./split.js"

/**
 * One input record: a parsed value with its exact source text, or why it could not be parsed.
 * `where` is `file:line`, `file[index]`, `file:events[index]` or `file`.
 */
export type Record =
  | { readonly where: string; readonly value: unknown; readonly text: string }
  | { readonly where: string; readonly error: string; readonly raw?: string }

const EXTENSIONS = new Set([".ndjson", ".jsonl", ".json"])

/** Files to read, directories expanded to their `*.ndjson`/`*.jsonl`/`*.json` files (sorted). */
export const expand = (inputs: ReadonlyArray<string>): Array<string> => {
  const files: Array<string> = []
  for (const input of inputs) {
    if (input === "-") {
      files.push(input)
      continue
    }
    const stat = Fs.statSync(input)
    if (stat.isDirectory()) {
      for (const name of Fs.readdirSync(input).sort()) {
        if (EXTENSIONS.has(Path.extname(name).toLowerCase())) files.push(Path.join(input, name))
      }
    } else {
      files.push(input)
    }
  }
  return files
}

/** Total bytes of the files (stdin counts 0): the progress bar's total. */
export const totalBytes = (files: ReadonlyArray<string>): number =>
  files.reduce((sum, f) => sum + (f === "-" ? 0 : Fs.statSync(f).size), 0)

/** `EventJson`'s syntax error as "reason at line L, column C" counted in the file, not in the record. */
const positioned = (error: EventJson.JsonSyntaxError, line: number, column: number): string => {
  const reason = error.message.replace(/ at line \d+, column \d+$/, "")
  return error.line === 1
    ? `${reason} at line ${line}, column ${column + error.column - 1}`
    : `${reason} at line ${line + error.line - 1}, column ${error.column}`
}

/**
 * The lines of a byte stream, as bytes without their `\n` (a `\r` before it is the caller's),
 * a chunk's worth at a time: one await per chunk read, not per line.
 */
async function* lineBatches(stream: Readable): AsyncGenerator<Array<Buffer>> {
  let pending: Array<Buffer> = []
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const lines: Array<Buffer> = []
    let start = 0
    for (let nl = chunk.indexOf(LF, start); nl !== -1; nl = chunk.indexOf(LF, start)) {
      const piece = chunk.subarray(start, nl)
      lines.push(pending.length === 0 ? piece : Buffer.concat([...pending, piece]))
      pending = []
      start = nl + 1
    }
    if (start < chunk.length) pending.push(chunk.subarray(start))
    if (lines.length > 0) yield lines
  }
  if (pending.length > 0) yield [Buffer.concat(pending)]
}

const LF = 0x0a
const CR = 0x0d

/** Only JSON's own whitespace makes a line blank (a line of U+00A0 is malformed, not skipped). */
const BLANK = /^[ \t\r]*$/

async function* ndjson(name: string, stream: Readable): AsyncGenerator<Array<Record>> {
  let n = 0
  for await (const batch of lineBatches(stream)) {
    const records: Array<Record> = []
    for (const bytes of batch) {
      n++
      const record = lineRecord(name, n, bytes)
      if (record !== undefined) records.push(record)
    }
    if (records.length > 0) yield records
  }
}

/** The record of line `n`, or undefined for a blank line. */
const lineRecord = (name: string, n: number, bytes: Buffer): Record | undefined => {
  const body = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.subarray(0, bytes.length - 1) : bytes
  if (!isUtf8(body)) {
    // Decoding would replace the bad bytes silently: the record would not be what the file holds.
    return { where: `${name}:${n}`, error: "the line is not valid UTF-8", raw: body.toString("latin1") }
  }
  let line = body.toString("utf8")
  if (n === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1)
  if (BLANK.test(line)) return undefined
  const parsed = EventJson.parse(line)
  return Either.isRight(parsed)
    ? { where: `${name}:${n}`, value: parsed.right, text: line }
    : {
      where: `${name}:${n}`,
      error: `malformed JSON: ${parsed.left.message.replace(/ at line 1, column (\d+)$/, " at column $1")}`,
      raw: line
    }
}

const firstChar = async (file: string): Promise<string | undefined> => {
  const handle = await Fs.promises.open(file, "r")
  try {
    const buffer = Buffer.alloc(4096)
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
    return buffer.subarray(0, bytesRead).toString("utf8").replace(/^\uFEFF/, "").trimStart()[0]
  } finally {
    await handle.close()
  }
}

/**
 * Files up to this size holding one object without an `"events"` array are parsed whole (one
 * event); no record longer than this is held either (a longer one is reported and skipped).
 */
const WHOLE_OBJECT_LIMIT = 64 * 1024 * 1024

const parseWhole = async (file: string): Promise<Record> => {
  const bytes = await Fs.promises.readFile(file)
  if (!isUtf8(bytes)) return { where: file, error: "the file is not valid UTF-8; not read" }
  const text = bytes.toString("utf8").replace(/^\uFEFF/, "")
  const parsed = EventJson.parse(text)
  return Either.isRight(parsed)
    ? { where: file, value: parsed.right, text }
    : { where: file, error: `malformed JSON: ${parsed.left.message}` }
}

async function* json(file: string, onBytes: (n: number) => void): AsyncGenerator<Array<Record>> {
  const first = await firstChar(file)
  if (first !== "[" && first !== "{") {
    yield [{ where: file, error: "expected a JSON array, an event object or {\"events\": [...]}" }]
    return
  }
  const splitter = Split.make({ maxElement: WHOLE_OBJECT_LIMIT })
  // Strict: bytes that are not UTF-8 stop the file rather than being replaced silently.
  const decoder = new TextDecoder("utf-8", { fatal: true })
  let offset = 0
  const notUtf8 = (where: string): Record => ({
    where: file,
    error: `the file is not valid UTF-8 ${where}; the rest of the file was not read`
  })
  const stream = Fs.createReadStream(file, { highWaterMark: 256 * 1024 })
  const at = (index: number) => `${splitter.container() === "events" ? `${file}:events` : file}[${index}]`
  const records = (pieces: ReadonlyArray<Split.Piece>): Array<Record> =>
    pieces.flatMap((piece): Array<Record> => {
      switch (piece._tag) {
        case "Element": {
          const where = at(piece.index)
          const parsed = EventJson.parse(piece.text)
          return [
            Either.isRight(parsed)
              ? { where, value: parsed.right, text: piece.text }
              : { where, error: `malformed JSON: ${positioned(parsed.left, piece.line, piece.column)}`, raw: piece.text }
          ]
        }
        case "TooLarge":
          return [{ where: at(piece.index), error: `record is ${piece.length} characters long, over the ${WHOLE_OBJECT_LIMIT} this reader holds; not read` }]
        case "Malformed":
          return [{
            where: file,
            error: `malformed JSON: ${piece.reason} at line ${piece.line}, column ${piece.column}; the rest of the file was not read`
          }]
        case "NoEvents":
          return []
      }
    })
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      onBytes(chunk.length)
      let text: string
      try {
        text = decoder.decode(chunk, { stream: true })
      } catch {
        yield [notUtf8(`in bytes ${offset}-${offset + chunk.length}`)]
        return
      }
      offset += chunk.length
      const batch = records(splitter.push(text))
      if (batch.length > 0) yield batch
      if (splitter.done()) return
    }
  } finally {
    stream.destroy()
  }
  let tail: string
  try {
    tail = decoder.decode()
  } catch {
    yield [notUtf8("at its end")]
    return
  }
  const last = [...splitter.push(tail), ...splitter.end()]
  const rest = records(last)
  if (rest.length > 0) yield rest
  if (last.some((piece) => piece._tag === "NoEvents")) {
    yield [
      Fs.statSync(file).size <= WHOLE_OBJECT_LIMIT
        ? await parseWhole(file)
        : { where: file, error: `one object of over ${WHOLE_OBJECT_LIMIT} bytes without an "events" array; not read` }
    ]
  }
}

/** Batches of records regrouped into arrays of at least `size` (the last may be smaller). */
export async function* chunks<A>(source: AsyncIterable<ReadonlyArray<A>>, size: number): AsyncGenerator<Array<A>> {
  let chunk: Array<A> = []
  for await (const batch of source) {
    for (const item of batch) chunk.push(item)
    if (chunk.length >= size) {
      yield chunk
      chunk = []
    }
  }
  if (chunk.length > 0) yield chunk
}

/** Every record of every input, in order, in batches (one per chunk read). `onBytes` reports progress. */
export async function* read(files: ReadonlyArray<string>, onBytes: (n: number) => void): AsyncGenerator<Array<Record>> {
  for (const file of files) {
    if (file === "-") {
      yield* ndjson("stdin", process.stdin)
    } else if (Path.extname(file).toLowerCase() === ".json") {
      yield* json(file, onBytes)
    } else {
      const stream = Fs.createReadStream(file)
      stream.on("data", (chunk) => onBytes(chunk.length))
      yield* ndjson(file, stream)
    }
  }
}
