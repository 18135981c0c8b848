/**
 * Cuts a JSON array, or the array under a top-level object's `"events"` member, into the exact
 * texts of its elements, chunk by chunk: only the element being read is held, however large the
 * file. It checks the structure (brackets, strings, commas between elements); each element's own
 * syntax is left to whoever parses it (`EventJson.parse`), so one bad element costs only itself.
 */

/** One result of splitting, in input order. */
export type Piece =
  /** An element's exact text (surrounding whitespace excluded); `line`/`column` of its first character. */
  | { readonly _tag: "Element"; readonly index: number; readonly text: string; readonly line: number; readonly column: number }
  /** An element longer than `maxElement` characters: skipped without holding it. */
  | { readonly _tag: "TooLarge"; readonly index: number; readonly length: number }
  /** The structure is broken here: nothing follows this piece. */
  | { readonly _tag: "Malformed"; readonly reason: string; readonly line: number; readonly column: number }
  /** The input was one object without an `"events"` array (one event, for the caller to parse whole). */
  | { readonly _tag: "NoEvents" }

export interface Splitter {
  /** Feeds the next chunk of text; returns the pieces it completed. */
  readonly push: (chunk: string) => Array<Piece>
  /** Ends the input; returns the last pieces (a `Malformed` if the input stopped early). */
  readonly end: () => Array<Piece>
  /** Whether nothing more can come (after a `Malformed`, or after `end`). */
  readonly done: () => boolean
  /** Where the elements are: a top-level array, or `"events"` of a top-level object (known once seen). */
  readonly container: () => "array" | "events" | undefined
}

const TAB = 9
const LF = 10
const CR = 13
const SPACE = 32
const QUOTE = 34
const COMMA = 44
const COLON = 58
const OPEN_BRACKET = 91
const BACKSLASH = 92
const CLOSE_BRACKET = 93
const OPEN_BRACE = 123
const CLOSE_BRACE = 125
const BOM = 0xfeff

const isWs = (c: number): boolean => c === SPACE || c === LF || c === CR || c === TAB

const enum Mode {
  /** Before the top-level value. */
  Start,
  /** After the array's `[`: `]` or the first element. */
  ArrayFirst,
  /** After a `,` between elements: the next element. */
  ArrayNext,
  /** Inside an element. */
  Element,
  /** After the top-level object's `{`: `}` or the first key. */
  ObjectFirst,
  /** After a `,` between members: the next key. */
  ObjectNextKey,
  /** Inside a member's key. */
  Key,
  /** After a key: `:`. */
  Colon,
  /** After `:`: the member's value. */
  Value,
  /** Inside a member's value that is not the events array (structure checked, text not kept). */
  Skip,
  /** After a member's value: `,` or `}`. */
  ObjectAfter,
  /** After the top-level value: only whitespace. */
  End,
  /** After a `Malformed`: everything is ignored. */
  Done
}

/** Keys longer than this (escapes included) cannot be `"events"`; their text is not kept. */
const MAX_KEY = 64

const describe = (c: number): string =>
  c === LF ? "a line break" : JSON.stringify(String.fromCharCode(c))

export const make = (options: { readonly maxElement: number }): Splitter => {
  let mode = Mode.Start
  let container: "array" | "events" | undefined
  let first = true
  /** Text not yet discarded; `base` is the offset of `buffer[0]` in the whole input. */
  let buffer = ""
  let base = 0
  let line = 1
  let lineStart = 0
  // The value being scanned (an element or a skipped member): open containers, string state.
  let stack = new Uint8Array(64)
  let depth = 0
  let inString = false
  let escape = false
  // What is being kept: an element's or a key's text, from `captureStart` (an offset in the whole input).
  let captureStart = -1
  let captureLine = 0
  let captureColumn = 0
  let dropped = false
  let index = 0
  let isEventsKey = false
  let sawEvents = false
  let out: Array<Piece> = []

  const malformed = (reason: string, offset: number): void => {
    out.push({ _tag: "Malformed", reason, line, column: offset - lineStart + 1 })
    mode = Mode.Done
    buffer = ""
    captureStart = -1
  }

  const beginCapture = (offset: number): void => {
    captureStart = offset
    captureLine = line
    captureColumn = offset - lineStart + 1
    dropped = false
  }

  const beginValue = (): void => {
    depth = 0
    inString = false
    escape = false
  }

  const emitElement = (end: number): void => {
    if (dropped || end - captureStart > options.maxElement) {
      out.push({ _tag: "TooLarge", index, length: end - captureStart })
    } else {
      let stop = end - base
      while (stop > captureStart - base && isWs(buffer.charCodeAt(stop - 1))) stop--
      out.push({
        _tag: "Element",
        index,
        text: buffer.slice(captureStart - base, stop),
        line: captureLine,
        column: captureColumn
      })
    }
    index++
    captureStart = -1
  }

  /**
   * Scans the value at `i` (an element or a skipped member) up to the character that ends it at
   * depth 0 (`,`, `]` or `}`, left unread); returns that index, or `buffer.length` if the chunk
   * ended first. Returns -1 after a `Malformed`.
   */
  const scanValue = (i: number): number => {
    const n = buffer.length
    while (i < n) {
      const c = buffer.charCodeAt(i)
      if (inString) {
        if (escape) escape = false
        else if (c === BACKSLASH) escape = true
        else if (c === QUOTE) inString = false
        else if (c === LF) {
          line++
          lineStart = base + i + 1
        }
        i++
        continue
      }
      if (c === QUOTE) {
        inString = true
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (depth === stack.length) {
          const grown = new Uint8Array(stack.length * 2)
          grown.set(stack)
          stack = grown
        }
        stack[depth++] = c
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (depth === 0) return i
        const open = stack[--depth]
        if ((c === CLOSE_BRACE) !== (open === OPEN_BRACE)) {
          malformed(`${describe(c)} closes ${open === OPEN_BRACE ? "an object" : "an array"}`, base + i)
          return -1
        }
      } else if (c === COMMA) {
        if (depth === 0) return i
      } else if (c === LF) {
        line++
        lineStart = base + i + 1
      }
      i++
    }
    return i
  }

  /** Scans `buffer` from `i`, the first character not scanned yet. */
  const run = (i: number): void => {
    const n = buffer.length
    while (i < n) {
      const c = buffer.charCodeAt(i)
      switch (mode) {
        case Mode.Start: {
          if (first && c === BOM) {
            first = false
            i++
            continue
          }
          first = false
          if (isWs(c)) break
          if (c === OPEN_BRACKET) {
            container = "array"
            mode = Mode.ArrayFirst
          } else if (c === OPEN_BRACE) {
            mode = Mode.ObjectFirst
          } else {
            return malformed("expected a JSON array, an event object or {\"events\": [...]}", base + i)
          }
          break
        }
        case Mode.ArrayFirst:
        case Mode.ArrayNext: {
          if (isWs(c)) break
          if (c === CLOSE_BRACKET && mode === Mode.ArrayFirst) {
            mode = container === "events" ? Mode.ObjectAfter : Mode.End
            break
          }
          // Everything from here to the next `,` or `]` at depth 0 is the element (even nothing,
          // as in `[1,,2]`: an empty element, which its parser refuses).
          beginCapture(base + i)
          beginValue()
          mode = Mode.Element
          continue
        }
        case Mode.Element:
        case Mode.Skip: {
          const stop = scanValue(i)
          if (stop === -1) return
          if (stop === n) {
            i = n
            continue
          }
          const d = buffer.charCodeAt(stop)
          if (mode === Mode.Element) {
            if (d === CLOSE_BRACE) return malformed("expected \",\" or \"]\" after an element", base + stop)
            emitElement(base + stop)
            mode = d === COMMA ? Mode.ArrayNext : container === "events" ? Mode.ObjectAfter : Mode.End
          } else {
            if (d === CLOSE_BRACKET) return malformed("expected \",\" or \"}\" after a value", base + stop)
            mode = d === COMMA ? Mode.ObjectNextKey : Mode.End
          }
          i = stop + 1
          continue
        }
        case Mode.ObjectFirst:
        case Mode.ObjectNextKey: {
          if (isWs(c)) break
          if (c === CLOSE_BRACE && mode === Mode.ObjectFirst) {
            mode = Mode.End
            break
          }
          if (c !== QUOTE) return malformed(`expected a member name, found ${describe(c)}`, base + i)
          beginCapture(base + i)
          escape = false
          mode = Mode.Key
          break
        }
        case Mode.Key: {
          if (escape) {
            escape = false
          } else if (c === BACKSLASH) {
            escape = true
          } else if (c === QUOTE) {
            isEventsKey = false
            if (!dropped) {
              try {
                isEventsKey = JSON.parse(buffer.slice(captureStart - base, i + 1)) === "events"
              } catch {
                return malformed("a member name is not a valid JSON string", captureStart)
              }
            }
            captureStart = -1
            mode = Mode.Colon
          } else if (c < SPACE) {
            return malformed("a control character in a member name must be escaped", base + i)
          }
          break
        }
        case Mode.Colon: {
          if (isWs(c)) break
          if (c !== COLON) return malformed(`expected ":" after a member name, found ${describe(c)}`, base + i)
          mode = Mode.Value
          break
        }
        case Mode.Value: {
          if (isWs(c)) break
          if (isEventsKey && c === OPEN_BRACKET) {
            if (sawEvents) return malformed("\"events\" appears twice", base + i)
            sawEvents = true
            container = "events"
            mode = Mode.ArrayFirst
            break
          }
          beginValue()
          mode = Mode.Skip
          continue
        }
        case Mode.ObjectAfter: {
          if (isWs(c)) break
          if (c === COMMA) mode = Mode.ObjectNextKey
          else if (c === CLOSE_BRACE) mode = Mode.End
          else return malformed(`expected "," or "}" after a value, found ${describe(c)}`, base + i)
          break
        }
        case Mode.End: {
          if (isWs(c)) break
          return malformed(`unexpected ${describe(c)} after the end of the JSON value`, base + i)
        }
        case Mode.Done:
          return
      }
      if (c === LF) {
        line++
        lineStart = base + i + 1
      }
      i++
    }
  }

  /** Discards what was read, except the text being captured (dropped past its limit). */
  const compact = (): void => {
    if (mode === Mode.Done) return
    const end = base + buffer.length
    if (captureStart >= 0 && !dropped) {
      const limit = mode === Mode.Key ? MAX_KEY : options.maxElement
      if (end - captureStart > limit) dropped = true
    }
    const keep = captureStart >= 0 && !dropped ? captureStart : end
    buffer = buffer.slice(keep - base)
    base = keep
  }

  return {
    push: (chunk) => {
      out = []
      if (mode === Mode.Done || chunk.length === 0) return out
      // Scanning resumes where the last chunk ended; what is kept before it is the capture only.
      const from = buffer.length
      buffer += chunk
      run(from)
      compact()
      return out
    },
    end: () => {
      out = []
      if (mode === Mode.Done) return out
      const at = base + buffer.length
      if (mode === Mode.End) {
        if (!sawEvents && container === undefined) out.push({ _tag: "NoEvents" })
      } else if (mode === Mode.Start) {
        malformed("the input is empty", at)
      } else {
        malformed(
          inString ? "unterminated string at the end of the input" : "unexpected end of the input",
          at
        )
      }
      mode = Mode.Done
      return out
    },
    done: () => mode === Mode.Done,
    container: () => container
  }
}
