/** JSON values read from text, compared as values. */
import { parse } from "@event-aggregator/api/Json"

/** A number as an exact decimal (`sign digits e exponent`, digits without leading or trailing zeros). */
class DecimalNumber {
  constructor(readonly canonical: string) {}
}

const decimal = (text: string): DecimalNumber => {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text)
  if (m === null) return new DecimalNumber(text)
  const fraction = m[3] ?? ""
  let digits = `${m[2]}${fraction}`.replace(/^0+/, "")
  if (digits.length === 0) return new DecimalNumber("0")
  const significant = digits.replace(/0+$/, "")
  const exponent = BigInt(m[4] ?? "0") - BigInt(fraction.length) + BigInt(digits.length - significant.length)
  digits = significant
  return new DecimalNumber(`${m[1]}${digits}e${exponent}`)
}

const equalValues = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (a instanceof DecimalNumber) return b instanceof DecimalNumber && a.canonical === b.canonical
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!equalValues(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false
    if (!equalValues((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false
  }
  return true
}

/**
 * Whether two JSON texts hold the same value: any whitespace and key order, escapes decoded,
 * numbers compared as exact decimals (`1.0` equals `1`, `9223372036854775807` does not equal
 * `9223372036854775808`); a repeated member name counts with its last value, as `JSON.parse` reads it.
 */
export const sameValue = (a: string, b: string): boolean => {
  if (a === b) return true
  try {
    return equalValues(parse(a, { number: decimal }), parse(b, { number: decimal }))
  } catch {
    return false
  }
}

const canonical = (value: unknown): string => {
  if (value instanceof DecimalNumber) return value.canonical
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`
  if (typeof value === "object" && value !== null) {
    const keys = Object.keys(value).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(",")}}`
  }
  return JSON.stringify(value)
}

/**
 * One text per JSON value: members sorted, no whitespace, escapes decoded, numbers as exact
 * decimals, so two texts `sameValue` calls equal have the same canonical text. A text that does not
 * parse is its own canonical text.
 */
export const canonicalText = (text: string): string => {
  try {
    return canonical(parse(text, { number: decimal }))
  } catch {
    return text
  }
}
