/** A payload's JSON text indented for reading, every token (strings, numbers, literals) kept as is. */

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
