// The bench's flags (see bench/README.md), read once from process.argv.
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")

const at = (name) => process.argv.indexOf(`--${name}`)
const num = (name, fallback) => (at(name) === -1 ? fallback : Number(process.argv[at(name) + 1]))
const str = (name) => (at(name) === -1 ? undefined : process.argv[at(name) + 1])

/** Seconds of load per HTTP measurement. */
export const SECONDS = num("seconds", 10)
/** NDJSON lines for cases 4, 4u and 5. */
export const LINES = num("lines", 1_000_000)
export const SYNCHRONOUS = process.env.SQLITE_SYNCHRONOUS ?? "FULL"
/** --only 1,2u,6: some cases (case 5 needs case 4's database, so it runs case 4 too). */
export const ONLY = str("only") === undefined ? undefined : new Set(str("only").split(",").map((s) => s.trim()))
export const want = (c) => ONLY === undefined || ONLY.has(c) || (c === "4" && ONLY.has("5"))
/** --compare DIR: another checkout's build to alternate with, --rounds N times. */
export const COMPARE = str("compare") === undefined ? undefined : Path.resolve(str("compare"))
export const ROUNDS = num("rounds", 3)
/** --soak: the soak case alone; --soak-minutes N (default 10); --rate N events/s (default: half the measured). */
export const SOAK = at("soak") !== -1
export const SOAK_MINUTES = num("soak-minutes", 10)
export const RATE = num("rate", undefined)

export const log = (line) => process.stderr.write(`[bench] ${line}\n`)
