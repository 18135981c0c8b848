/**
 * Reads events from files, directories and stdin without loading them whole: NDJSON line by line,
 * JSON arrays and `{"events": [...]}` element by element (stream-json).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Readline from "node:readline"
import type { Readable } from "node:stream"
import chain from "stream-chain"
import { parser } from "stream-json"
import { pick } from "stream-json/filters/pick.js"
import { streamArray } from "stream-json/streamers/stream-array.js"

/** One input record: a parsed value, or why it could not be parsed; `where` is `file:line`. */
export type Record =
  | { readonly where: string; readonly value: unknown }
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

async function* ndjson(name: string, stream: Readable): AsyncGenerator<Record> {
  const lines = Readline.createInterface({ input: stream, crlfDelay: Infinity })
  let n = 0
  for await (const line of lines) {
    n++
    if (line.trim().length === 0) continue
    try {
      yield { where: `${name}:${n}`, value: JSON.parse(line) }
    } catch (error) {
      yield { where: `${name}:${n}`, error: `malformed JSON: ${(error as Error).message}`, raw: line }
    }
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

/** Files up to this size holding one object are parsed whole (one event, or `{"events": [...]}`). */
const WHOLE_OBJECT_LIMIT = 64 * 1024 * 1024

async function* json(file: string, onBytes: (n: number) => void): AsyncGenerator<Record> {
  const first = await firstChar(file)
  if (first === "{" && Fs.statSync(file).size <= WHOLE_OBJECT_LIMIT) {
    const text = await Fs.promises.readFile(file, "utf8")
    onBytes(Buffer.byteLength(text))
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch (error) {
      yield { where: file, error: `malformed JSON: ${(error as Error).message}` }
      return
    }
    const events = (body as { readonly events?: unknown }).events
    if (Array.isArray(events)) {
      for (let i = 0; i < events.length; i++) yield { where: `${file}:events[${i}]`, value: events[i] }
    } else {
      yield { where: file, value: body }
    }
    return
  }
  if (first !== "[" && first !== "{") {
    yield { where: file, error: "expected a JSON array, an event object or {\"events\": [...]}" }
    return
  }
  const source = Fs.createReadStream(file)
  source.on("data", (chunk) => onBytes(chunk.length))
  const pipeline = chain([
    source,
    parser(),
    ...(first === "{" ? [pick({ filter: "events" })] : []),
    streamArray()
  ])
  const prefix = first === "{" ? `${file}:events` : file
  try {
    for await (const item of pipeline as AsyncIterable<{ readonly key: number; readonly value: unknown }>) {
      yield { where: `${prefix}[${item.key}]`, value: item.value }
    }
  } catch (error) {
    yield { where: file, error: `malformed JSON: ${(error as Error).message}; the rest of the file was not read` }
  }
}

/** The records of `source` in arrays of up to `size`: one await per array, not per record. */
export async function* chunks<A>(source: AsyncIterable<A>, size: number): AsyncGenerator<Array<A>> {
  let chunk: Array<A> = []
  for await (const item of source) {
    chunk.push(item)
    if (chunk.length >= size) {
      yield chunk
      chunk = []
    }
  }
  if (chunk.length > 0) yield chunk
}

/** Every record of every input, in order. `onBytes` reports progress through the files. */
export async function* read(files: ReadonlyArray<string>, onBytes: (n: number) => void): AsyncGenerator<Record> {
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
