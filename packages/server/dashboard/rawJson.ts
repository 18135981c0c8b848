/**
 * JSON text without parsing it into numbers: the payloads of stored events as the exact text the
 * server sent (a browser's `JSON.parse` rounds integers past 2^53), and that text indented for
 * reading with every token kept as is.
 */

const WS = new Set([" ", "\t", "\n", "\r"])

const skipWs = (text: string, i: number): number => {
  while (i < text.length && WS.has(text[i]!)) i++
  return i
}

/** The end (exclusive) of the string starting at `i` (its opening quote). */
const stringEnd = (text: string, i: number): number => {
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j]
    if (c === "\\") j++
    else if (c === "\"") return j + 1
  }
  throw new SyntaxError("unterminated string")
}

/** The end (exclusive) of the value starting at `i`. */
const valueEnd = (text: string, i: number): number => {
  const c = text[i]
  if (c === "\"") return stringEnd(text, i)
  if (c === "{" || c === "[") {
    let depth = 0
    for (let j = i; j < text.length; j++) {
      const d = text[j]
      if (d === "\"") j = stringEnd(text, j) - 1
      else if (d === "{" || d === "[") depth++
      else if (d === "}" || d === "]") {
        depth--
        if (depth === 0) return j + 1
      }
    }
    throw new SyntaxError("unterminated value")
  }
  let j = i
  while (j < text.length && !",}] \t\n\r".includes(text[j]!)) j++
  return j
}

/** The `payload` text of each object of the `events` array of a `{"events": [...]}` body, in order. */
export const rawPayloads = (body: string): Array<string> => {
  const out: Array<string> = []
  let i = skipWs(body, 0)
  if (body[i] !== "{") return out
  i = skipWs(body, i + 1)
  while (i < body.length && body[i] !== "}") {
    const keyEnd = stringEnd(body, i)
    const key = body.slice(i + 1, keyEnd - 1)
    i = skipWs(body, skipWs(body, keyEnd) + 1) // past the colon
    if (key === "events" && body[i] === "[") {
      i = skipWs(body, i + 1)
      while (body[i] === "{") {
        i = skipWs(body, i + 1)
        let payload = "null"
        while (body[i] !== "}") {
          const memberEnd = stringEnd(body, i)
          const name = body.slice(i + 1, memberEnd - 1)
          const start = skipWs(body, skipWs(body, memberEnd) + 1)
          const end = valueEnd(body, start)
          if (name === "payload") payload = body.slice(start, end)
          i = skipWs(body, end)
          if (body[i] === ",") i = skipWs(body, i + 1)
        }
        out.push(payload)
        i = skipWs(body, i + 1)
        if (body[i] === ",") i = skipWs(body, i + 1)
      }
      i = skipWs(body, i + 1) // past "]"
    } else {
      i = skipWs(body, valueEnd(body, i))
    }
    if (body[i] === ",") i = skipWs(body, i + 1)
  }
  return out
}

/** `text` indented by two spaces a level; strings, numbers and literals stay exactly as written. */
export const indent = (text: string): string => {
  let out = ""
  let depth = 0
  const newline = () => "\n" + "  ".repeat(depth)
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (WS.has(c)) continue
    if (c === "\"") {
      const end = stringEnd(text, i)
      out += text.slice(i, end)
      i = end - 1
    } else if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]"
      const next = skipWs(text, i + 1)
      if (text[next] === close) {
        out += c + close
        i = next
      } else {
        depth++
        out += c + newline()
      }
    } else if (c === "}" || c === "]") {
      depth--
      out += newline() + c
    } else if (c === ",") out += "," + newline()
    else if (c === ":") out += ": "
    else out += c
  }
  return out
}
