/**
 * A validating JSON scanner that never recurses: it builds plain values, except the values it is
 * told to keep as their exact source text (`RawJson`). Every syntax error names its offset.
 * The core validates events with it, clients read the server's answers with it; `EventJson` is
 * the interface for events (results as `Either`), this module the scanner itself (it throws
 * `JsonSyntaxError`).
 *
 * @since 0.1.0
 */

/** What kind of JSON value a text holds (from its first character). */
export type Kind = "object" | "array" | "string" | "number" | "true" | "false" | "null"

/** A JSON value kept as the exact text it arrived in, with what validation needs to know of it. */
export class RawJson {
  constructor(
    /** The exact source text of the value. */
    readonly text: string,
    readonly kind: Kind,
    /** Containers nested in it, itself included: `1` is 0, `{}` is 1, `{"a":[]}` is 2. */
    readonly depth: number,
    /** Whether a number in it is beyond the range of a double (`1e999`). */
    readonly overflow: boolean
  ) {}

  /** As messages show it: the text, shortened. */
  toString(): string {
    return this.text.length <= 40 ? this.text : `${this.text.slice(0, 37)}...`
  }
}

/** Thrown inside the scanner only; `parse` and `scan` turn it into a result. */
export class JsonSyntaxError {
  constructor(readonly reason: string, readonly offset: number) {}
}

const TAB = 9
const LF = 10
const CR = 13
const SPACE = 32
const QUOTE = 34
const PLUS = 43
const COMMA = 44
const MINUS = 45
const DOT = 46
const SLASH = 47
const ZERO = 48
const ONE = 49
const NINE = 57
const COLON = 58
const UPPER_E = 69
const OPEN_BRACKET = 91
const BACKSLASH = 92
const CLOSE_BRACKET = 93
const LOWER_B = 98
const LOWER_E = 101
const LOWER_F = 102
const LOWER_N = 110
const LOWER_R = 114
const LOWER_T = 116
const LOWER_U = 117
const OPEN_BRACE = 123
const CLOSE_BRACE = 125

/** A double overflows beyond this many integer digits (1.8e308 has 309). */
const OVERFLOW_DIGITS = 309

const isDigit = (c: number): boolean => c >= ZERO && c <= NINE
const isHex = (c: number): boolean => (c >= ZERO && c <= NINE) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)

const fail = (reason: string, offset: number): never => {
  throw new JsonSyntaxError(reason, offset)
}

const describeAt = (text: string, i: number): string =>
  i >= text.length ? "the end of the text" : `${JSON.stringify(text.slice(i, i + 1))}`

const skipWs = (text: string, i: number): number => {
  for (;;) {
    const c = text.charCodeAt(i)
    if (c === SPACE || c === LF || c === CR || c === TAB) i++
    else return i
  }
}

/** Set by `scanString`: whether the last string scanned had an escape. */
let escaped = false
/** Set by `scanNumber`: whether a number beyond the range of a double was seen (reset by callers). */
let overflowed = false

/** Scans the string whose opening quote is at `i`; returns the index after its closing quote. */
const scanString = (text: string, i: number): number => {
  let j = i + 1
  escaped = false
  for (;;) {
    const c = text.charCodeAt(j)
    if (c === QUOTE) return j + 1
    if (c === BACKSLASH) {
      escaped = true
      const e = text.charCodeAt(j + 1)
      if (e === LOWER_U) {
        if (
          !isHex(text.charCodeAt(j + 2)) || !isHex(text.charCodeAt(j + 3)) || !isHex(text.charCodeAt(j + 4)) ||
          !isHex(text.charCodeAt(j + 5))
        ) fail("a \\u escape needs four hex digits", j)
        j += 6
      } else if (
        e === QUOTE || e === BACKSLASH || e === SLASH || e === LOWER_B || e === LOWER_F || e === LOWER_N ||
        e === LOWER_R || e === LOWER_T
      ) {
        j += 2
      } else {
        fail(j + 1 >= text.length ? "unterminated string" : "invalid escape in a string", j)
      }
    } else if (c >= SPACE) {
      j++
    } else {
      // charCodeAt past the end is NaN, which is neither >= SPACE nor a control character.
      fail(j >= text.length ? "unterminated string" : "a control character in a string must be escaped", j)
    }
  }
}

/** Scans the number starting at `i`; returns the index after it. Sets `overflowed` on overflow. */
const scanNumber = (text: string, i: number): number => {
  let j = i
  if (text.charCodeAt(j) === MINUS) j++
  const c = text.charCodeAt(j)
  if (c === ZERO) {
    j++
  } else if (c >= ONE && c <= NINE) {
    j++
    while (isDigit(text.charCodeAt(j))) j++
  } else {
    fail("expected a digit", j)
  }
  let check = j - i >= OVERFLOW_DIGITS
  if (text.charCodeAt(j) === DOT) {
    j++
    if (!isDigit(text.charCodeAt(j))) fail("expected a digit after the decimal point", j)
    while (isDigit(text.charCodeAt(j))) j++
  }
  const e = text.charCodeAt(j)
  if (e === LOWER_E || e === UPPER_E) {
    j++
    const s = text.charCodeAt(j)
    if (s === PLUS || s === MINUS) j++
    if (!isDigit(text.charCodeAt(j))) fail("expected a digit in the exponent", j)
    while (isDigit(text.charCodeAt(j))) j++
    check = true
  }
  if (check && !Number.isFinite(Number(text.slice(i, j)))) overflowed = true
  return j
}

const scanLiteral = (text: string, i: number, literal: string): number => {
  if (!text.startsWith(literal, i)) fail(`expected a value, found ${describeAt(text, i)}`, i)
  return i + literal.length
}

/** Index of the value after the member name at `i` (a string, then a colon). */
const scanMemberName = (text: string, i: number): number => {
  if (text.charCodeAt(i) !== QUOTE) fail(`expected a member name in double quotes, found ${describeAt(text, i)}`, i)
  i = skipWs(text, scanString(text, i))
  if (text.charCodeAt(i) !== COLON) fail(`expected ':' after a member name, found ${describeAt(text, i)}`, i)
  return skipWs(text, i + 1)
}

const kindAt = (text: string, i: number): Kind => {
  const c = text.charCodeAt(i)
  return c === OPEN_BRACE
    ? "object"
    : c === OPEN_BRACKET
    ? "array"
    : c === QUOTE
    ? "string"
    : c === LOWER_T
    ? "true"
    : c === LOWER_F
    ? "false"
    : c === LOWER_N
    ? "null"
    : "number"
}

/** The open containers of `scanValue` (their closing characters), reused from call to call. */
const openContainers: Array<number> = []
/** Set by `scanValue`: where the value it scanned ends. */
let scannedEnd = 0

/**
 * Scans the value starting at `start` (no whitespace before it) without building it; returns it
 * as a `RawJson` and sets `scannedEnd`. Iterative: any depth, no stack growth; it allocates
 * nothing but its result (it runs once per payload).
 */
const scanValue = (text: string, start: number): RawJson => {
  const stack = openContainers
  stack.length = 0
  let depth = 0
  overflowed = false
  let i = start
  value: for (;;) {
    const c = text.charCodeAt(i)
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      const close = c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET
      stack.push(close)
      if (stack.length > depth) depth = stack.length
      i = skipWs(text, i + 1)
      if (text.charCodeAt(i) === close) {
        stack.pop()
        i++
      } else {
        if (close === CLOSE_BRACE) i = scanMemberName(text, i)
        continue value
      }
    } else if (c === QUOTE) {
      i = scanString(text, i)
    } else if (c === MINUS || isDigit(c)) {
      i = scanNumber(text, i)
    } else if (c === LOWER_T) {
      i = scanLiteral(text, i, "true")
    } else if (c === LOWER_F) {
      i = scanLiteral(text, i, "false")
    } else if (c === LOWER_N) {
      i = scanLiteral(text, i, "null")
    } else {
      fail(`expected a value, found ${describeAt(text, i)}`, i)
    }
    for (;;) {
      const close = stack[stack.length - 1]
      if (close === undefined) {
        scannedEnd = i
        return new RawJson(text.slice(start, i), kindAt(text, start), depth, overflowed)
      }
      i = skipWs(text, i)
      const d = text.charCodeAt(i)
      if (d === COMMA) {
        i = skipWs(text, i + 1)
        if (close === CLOSE_BRACE) i = scanMemberName(text, i)
        continue value
      }
      if (d !== close) {
        fail(`expected ',' or '${close === CLOSE_BRACE ? "}" : "]"}', found ${describeAt(text, i)}`, i)
      }
      stack.pop()
      i++
    }
  }
}

/** Keys that appear more than once in an object built by `parse` (the last value is kept). */
const duplicates = new WeakMap<object, Set<string>>()

/** The member names of `object` that appeared more than once in its text. */
export const duplicateKeys = (object: object): ReadonlyArray<string> | undefined => {
  const keys = duplicates.get(object)
  return keys === undefined ? undefined : Array.from(keys)
}

interface Frame {
  array: Array<unknown> | undefined
  object: Record<string, unknown> | undefined
  key: string
}

const setMember = (object: Record<string, unknown>, key: string, value: unknown): void => {
  // A plain lookup first: undefined for every new key (JSON values are never undefined), so the
  // own-property check runs only for repeated keys and names Object.prototype has.
  if (object[key] !== undefined && Object.prototype.hasOwnProperty.call(object, key)) {
    const seen = duplicates.get(object)
    if (seen === undefined) duplicates.set(object, new Set([key]))
    else seen.add(key)
  }
  if (key === "__proto__") {
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true })
  } else {
    object[key] = value
  }
}

/** What `parse` builds and what it keeps as text. */
export interface ParseOptions {
  /** Members with this name, in objects at most `rawDepth` containers deep, are kept as `RawJson`. */
  readonly rawMember?: string
  readonly rawDepth?: number
  /** Containers deeper than this are kept as `RawJson` instead of being built. */
  readonly buildDepth?: number
  /** What a number becomes, from its text (default: `Number`). */
  readonly number?: (text: string) => unknown
}

/**
 * Parses a whole JSON text (like `JSON.parse`, with the same grammar). Members named
 * `options.rawMember` near the top are kept as their exact text; duplicate member names are
 * recorded (`duplicateKeys`). Throws `JsonSyntaxError`.
 */
export const parse = (text: string, options: ParseOptions = {}): unknown => {
  const rawMember = options.rawMember
  const rawDepth = options.rawDepth ?? 0
  const buildDepth = options.buildDepth ?? Number.POSITIVE_INFINITY
  const number = options.number ?? Number
  // The open containers: frames[0 .. open - 1]. Frame objects are reused by depth, so a body of
  // many events allocates a frame per level, not per event.
  const frames: Array<Frame> = []
  let open = 0
  const push = (array: Array<unknown> | undefined, object: Record<string, unknown> | undefined): Frame => {
    let frame = frames[open]
    if (frame === undefined) {
      frame = { array, object, key: "" }
      frames.push(frame)
    } else {
      frame.array = array
      frame.object = object
    }
    open++
    return frame
  }
  let i = skipWs(text, 0)
  let result: unknown
  value: for (;;) {
    const c = text.charCodeAt(i)
    const parent = open === 0 ? undefined : frames[open - 1]
    let v: unknown
    if (
      (parent !== undefined && parent.object !== undefined && parent.key === rawMember && open <= rawDepth) ||
      (open >= buildDepth && (c === OPEN_BRACE || c === OPEN_BRACKET))
    ) {
      v = scanValue(text, i)
      i = scannedEnd
    } else if (c === OPEN_BRACE) {
      const object: Record<string, unknown> = {}
      i = skipWs(text, i + 1)
      if (text.charCodeAt(i) === CLOSE_BRACE) {
        i++
        v = object
      } else {
        i = readKey(text, i, push(undefined, object))
        continue value
      }
    } else if (c === OPEN_BRACKET) {
      const array: Array<unknown> = []
      i = skipWs(text, i + 1)
      if (text.charCodeAt(i) === CLOSE_BRACKET) {
        i++
        v = array
      } else {
        push(array, undefined)
        continue value
      }
    } else if (c === QUOTE) {
      const end = scanString(text, i)
      v = escaped ? JSON.parse(text.slice(i, end)) : text.slice(i + 1, end - 1)
      i = end
    } else if (c === MINUS || isDigit(c)) {
      const end = scanNumber(text, i)
      v = number(text.slice(i, end))
      i = end
    } else if (c === LOWER_T) {
      i = scanLiteral(text, i, "true")
      v = true
    } else if (c === LOWER_F) {
      i = scanLiteral(text, i, "false")
      v = false
    } else if (c === LOWER_N) {
      i = scanLiteral(text, i, "null")
      v = null
    } else {
      fail(`expected a value, found ${describeAt(text, i)}`, i)
    }
    for (;;) {
      if (open === 0) {
        result = v
        break value
      }
      const top = frames[open - 1]!
      if (top.array !== undefined) top.array.push(v)
      else setMember(top.object!, top.key, v)
      i = skipWs(text, i)
      const d = text.charCodeAt(i)
      if (d === COMMA) {
        i = skipWs(text, i + 1)
        if (top.object !== undefined) i = readKey(text, i, top)
        continue value
      }
      const close = top.array !== undefined ? CLOSE_BRACKET : CLOSE_BRACE
      if (d !== close) fail(`expected ',' or '${close === CLOSE_BRACE ? "}" : "]"}', found ${describeAt(text, i)}`, i)
      i++
      open--
      v = top.array ?? top.object
    }
  }
  i = skipWs(text, i)
  if (i < text.length) fail(`unexpected ${describeAt(text, i)} after the JSON value`, i)
  return result
}

/**
 * Member names every event has, by length: returned as these constants rather than new slices,
 * so the property stores that follow use strings V8 has already internalized (measured: building
 * the event objects was ~30% of the scanner's time with sliced names).
 */
const KNOWN_KEYS: ReadonlyArray<ReadonlyArray<string>> = (() => {
  const byLength: Array<Array<string>> = []
  for (const key of ["topic", "event_id", "timestamp", "source", "payload", "events", "seq", "received_at", "next_after"]) {
    ;(byLength[key.length] ??= []).push(key)
  }
  return byLength
})()

const keyAt = (text: string, start: number, end: number): string => {
  const known = KNOWN_KEYS[end - start]
  if (known !== undefined) for (const key of known) if (text.startsWith(key, start)) return key
  return text.slice(start, end)
}

const readKey = (text: string, i: number, frame: Frame): number => {
  if (text.charCodeAt(i) !== QUOTE) fail(`expected a member name in double quotes, found ${describeAt(text, i)}`, i)
  const end = scanString(text, i)
  frame.key = escaped ? JSON.parse(text.slice(i, end)) : keyAt(text, i + 1, end - 1)
  i = skipWs(text, end)
  if (text.charCodeAt(i) !== COLON) fail(`expected ':' after a member name, found ${describeAt(text, i)}`, i)
  return skipWs(text, i + 1)
}

/** A whole text that must be exactly one JSON value, kept as text. Throws `JsonSyntaxError`. */
export const scan = (text: string): RawJson => {
  const start = skipWs(text, 0)
  const raw = scanValue(text, start)
  const end = scannedEnd
  const rest = skipWs(text, end)
  if (rest < text.length) fail(`unexpected ${describeAt(text, rest)} after the JSON value`, rest)
  return start === 0 && end === text.length ? raw : new RawJson(text.slice(start, end), raw.kind, raw.depth, raw.overflow)
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/

const member = (path: string, key: string | number): string =>
  typeof key === "number" ? `${path}[${key}]` : IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`

/**
 * The path (`payload.a[0].b`) of the first value in a valid JSON `text` that is `depth`
 * containers deep, or of the first number beyond the range of a double (`depth` undefined);
 * `root` when there is none. It scans the text once, holding only the path (never deeper than
 * `depth`, or than the text's own nesting), and stops at the first hit.
 */
export const locate = (text: string, root: string, depth: number | undefined): string => {
  const closes: Array<number> = []
  // segments[k]: the key or index of the value being read inside the k-th open container.
  const segments: Array<string | number> = []
  const here = () => segments.reduce<string>(member, root)
  const readKey = (at: number): number => {
    const end = scanString(text, at)
    segments[segments.length - 1] = JSON.parse(text.slice(at, end))
    return skipWs(text, skipWs(text, end) + 1)
  }
  let i = skipWs(text, 0)
  for (;;) {
    const c = text.charCodeAt(i)
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth !== undefined && closes.length + 1 >= depth) return here()
      const close = c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET
      i = skipWs(text, i + 1)
      if (text.charCodeAt(i) === close) {
        i++
      } else {
        closes.push(close)
        segments.push(0)
        if (close === CLOSE_BRACE) i = readKey(i)
        continue
      }
    } else if (c === QUOTE) {
      i = scanString(text, i)
    } else if (c === MINUS || isDigit(c)) {
      overflowed = false
      i = scanNumber(text, i)
      if (depth === undefined && overflowed) return here()
    } else if (i >= text.length) {
      return root
    } else {
      i = scanLiteral(text, i, c === LOWER_T ? "true" : c === LOWER_F ? "false" : "null")
    }
    for (;;) {
      const close = closes[closes.length - 1]
      if (close === undefined) return root
      i = skipWs(text, i)
      if (text.charCodeAt(i) === COMMA) {
        i = skipWs(text, i + 1)
        if (close === CLOSE_BRACE) i = readKey(i)
        else segments[segments.length - 1] = (segments[segments.length - 1] as number) + 1
        break
      }
      closes.pop()
      segments.pop()
      i++
    }
  }
}
