/**
 * A payload's JSON text, or what is wrong with it: from text already scanned (`RawJson`), or from a
 * JavaScript value (library callers), which is checked for what JSON can hold before it is written.
 */
import * as Predicate from "effect/Predicate"
import { locate, RawJson } from "@event-aggregator/api/Json"

/** The largest `MAX_PAYLOAD_DEPTH` accepted. */
export const MAX_PAYLOAD_DEPTH_LIMIT = 1000

export interface Limits {
  readonly maxEventBytes: number
  readonly maxPayloadDepth: number
}

export interface Problem {
  readonly path: string
  readonly message: string
}

const utf8Bytes = (text: string, limit: number): number =>
  // UTF-8 takes at most 3 bytes per UTF-16 unit: skip the exact count when it cannot matter.
  text.length * 3 <= limit ? text.length : Buffer.byteLength(text, "utf8")

const tooLarge = (bytes: number, limits: Limits): Problem => ({
  path: "payload",
  message: `payload is ${bytes} bytes serialized, over the limit of ${limits.maxEventBytes}`
})

const tooDeep = (path: string, limits: Limits): Problem => ({
  path,
  message: `payload is nested deeper than ${limits.maxPayloadDepth} levels (MAX_PAYLOAD_DEPTH)`
})

const maxDepthOf = (limits: Limits): number => Math.min(limits.maxPayloadDepth, MAX_PAYLOAD_DEPTH_LIMIT)

/** The payload's text, or what is wrong with it, for a payload that arrived as JSON text. */
const rawPayload = (raw: RawJson, limits: Limits): string | Problem => {
  if (raw.kind !== "object") return { path: "payload", message: "payload must be a JSON object" }
  // The size first: locating a problem below reads the text again, so it only runs on a bounded one.
  const bytes = utf8Bytes(raw.text, limits.maxEventBytes)
  if (bytes > limits.maxEventBytes) return tooLarge(bytes, limits)
  if (raw.depth > maxDepthOf(limits)) return tooDeep(locate(raw.text, "payload", maxDepthOf(limits) + 1), limits)
  if (raw.overflow) {
    const path = locate(raw.text, "payload", undefined)
    return { path, message: `${path} is a number beyond the range of a double (such as 1e999); it cannot be kept` }
  }
  // Text from a body is valid UTF-8 already; text from a library caller may hold a lone surrogate,
  // which no store can keep as given.
  if (!raw.text.isWellFormed()) {
    return { path: "payload", message: "payload must be valid Unicode (it has an unpaired surrogate)" }
  }
  return raw.text
}

const isPlainObject = (u: object): boolean => {
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

const describeValue = (u: unknown): string =>
  u === undefined
    ? "undefined"
    : typeof u === "number"
    ? String(u)
    : typeof u === "function"
    ? "a function"
    : typeof u === "symbol"
    ? "a symbol"
    : `a ${(u as { constructor?: { name?: string } }).constructor?.name ?? "non-plain object"}`

interface Node {
  readonly value: object
  readonly depth: number
  readonly parent: Node | undefined
  readonly key: string | number
}

const pathOf = (node: Node | undefined, key?: string | number): string => {
  const keys: Array<string | number> = key === undefined ? [] : [key]
  for (let n = node; n !== undefined && n.parent !== undefined; n = n.parent) keys.push(n.key)
  let path = "payload"
  for (let i = keys.length - 1; i >= 0; i--) {
    const k = keys[i]!
    path = typeof k === "number" ? `${path}[${k}]` : /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`
  }
  return path
}

/** BigInts are written with every digit (JSON.stringify refuses them). Depth is bounded by the caller's check. */
const stringifyWithBigInts = (u: unknown): string => {
  if (typeof u === "bigint") return u.toString()
  if (typeof u !== "object" || u === null) return JSON.stringify(u)
  if (Array.isArray(u)) return `[${u.map(stringifyWithBigInts).join(",")}]`
  return `{${Object.keys(u).map((k) => `${JSON.stringify(k)}:${stringifyWithBigInts((u as Record<string, unknown>)[k])}`).join(",")}}`
}

/**
 * The JSON text of a payload given as a JavaScript value, or what is wrong with it. Only what
 * JSON can hold is accepted, so nothing is silently changed by serializing: `undefined`,
 * functions, `NaN`, `Infinity`, Dates, Maps, class instances and cycles are refused; a BigInt is
 * written with every digit. (A number already rounded by JavaScript is stored as JavaScript holds it.)
 */
const valuePayload = (payload: unknown, limits: Limits): string | Problem => {
  if (!Predicate.isRecord(payload) || !isPlainObject(payload)) return { path: "payload", message: "payload must be a JSON object" }
  const maxDepth = maxDepthOf(limits)
  const stack: Array<Node> = [{ value: payload, depth: 1, parent: undefined, key: "" }]
  let bigints = false
  while (stack.length > 0) {
    const node = stack.pop()!
    const entries: Array<[string | number, unknown]> = Array.isArray(node.value)
      ? Array.from(node.value, (v, i) => [i, v])
      : Object.keys(node.value).map((k) => [k, (node.value as Record<string, unknown>)[k]])
    for (const [key, v] of entries) {
      if (v === null || typeof v === "string" || typeof v === "boolean") continue
      if (typeof v === "number") {
        if (!Number.isFinite(v)) return { path: pathOf(node, key), message: `${pathOf(node, key)} is ${v}, which JSON cannot hold` }
        continue
      }
      if (typeof v === "bigint") {
        bigints = true
        continue
      }
      if (typeof v !== "object" || !(Array.isArray(v) || isPlainObject(v))) {
        return { path: pathOf(node, key), message: `${pathOf(node, key)} is ${describeValue(v)}, not a JSON value` }
      }
      if (node.depth + 1 > maxDepth) {
        for (let n: Node | undefined = node; n !== undefined; n = n.parent) {
          if (n.value === v) return { path: pathOf(node, key), message: `${pathOf(node, key)} refers back to a containing object (a cycle)` }
        }
        return tooDeep(pathOf(node, key), limits)
      }
      stack.push({ value: v, depth: node.depth + 1, parent: node, key })
    }
  }
  const text = bigints ? stringifyWithBigInts(payload) : JSON.stringify(payload)
  const bytes = utf8Bytes(text, limits.maxEventBytes)
  return bytes > limits.maxEventBytes ? tooLarge(bytes, limits) : text
}

/** The payload's JSON text, or its problem. */
export const payloadOf = (u: unknown, limits: Limits): string | Problem =>
  u instanceof RawJson ? rawPayload(u, limits) : valuePayload(u, limits)

