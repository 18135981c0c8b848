/** Number and time formatting shared by the views. */
const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 })
const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 })

export const int = (n: number | null | undefined): string => (n === null || n === undefined ? "–" : integer.format(n))
export const dec = (n: number | null | undefined): string => (n === null || n === undefined ? "–" : decimal.format(n))
export const percent = (part: number, whole: number): string => (whole === 0 ? "–" : `${decimal.format((100 * part) / whole)}%`)

export const duration = (seconds: number): string => {
  const s = Math.floor(seconds)
  const d = Math.floor(s / 86_400)
  const h = Math.floor((s % 86_400) / 3_600)
  const m = Math.floor((s % 3_600) / 60)
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s % 60}s`
}

export const time = (iso: string | null): string => (iso === null ? "–" : iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC"))
