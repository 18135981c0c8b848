/**
 * The dashboard's files (`npm run build` writes them to the server package's `dist/dashboard`):
 * read once at start-up and served from memory, gzipped when the client accepts it. They hold no
 * data, so they load without the API key; the page asks for it.
 */
import { createRequire } from "node:module"
import * as Fs from "node:fs"
import type * as Http from "node:http"
import * as Path from "node:path"
import * as Zlib from "node:zlib"

interface Asset {
  readonly type: string
  readonly body: Buffer
  readonly gzipped: Buffer
  readonly etag: string
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8"
}

/** Where the built files are: the installed server package's `dist/dashboard`, wherever this code runs from (sources, dist, a bundle). */
const directory = (): string | undefined => {
  try {
    return Path.dirname(createRequire(import.meta.url).resolve("@event-aggregator/server/dashboard/index.html"))
  } catch {
    return undefined
  }
}

const load = (): ReadonlyMap<string, Asset> => {
  const dir = directory()
  const assets = new Map<string, Asset>()
  if (dir === undefined) return assets
  for (const name of Fs.readdirSync(dir)) {
    const type = TYPES[Path.extname(name)]
    if (type === undefined) continue
    const body = Fs.readFileSync(Path.join(dir, name))
    const etag = `"${body.length.toString(36)}-${hash(body)}"`
    assets.set(name, { type, body, gzipped: Zlib.gzipSync(body, { level: 9 }), etag })
  }
  return assets
}

const hash = (body: Buffer): string => {
  let h = 2166136261
  for (let i = 0; i < body.length; i++) h = Math.imul(h ^ body[i]!, 16777619)
  return (h >>> 0).toString(36)
}

/** The page at `/` and `/dashboard`, its files under `/dashboard/`. */
export const PAGE_PATHS: ReadonlySet<string> = new Set(["/", "/dashboard", "/dashboard/"])

/** Serves the dashboard's files; false when `path` is not one of them (the API answers it). */
export const make = () => {
  const assets = load()
  return (req: Http.IncomingMessage, res: Http.ServerResponse, path: string): boolean => {
    const name = PAGE_PATHS.has(path) ? "index.html" : path.startsWith("/dashboard/") ? path.slice("/dashboard/".length) : undefined
    if (name === undefined || (req.method !== "GET" && req.method !== "HEAD")) return false
    const asset = assets.get(name)
    if (asset === undefined) {
      if (name !== "index.html") return false
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8", "retry-after": "60" })
      res.end("The dashboard is not built: run `npm run build` (npm install does it).\n")
      return true
    }
    req.resume()
    if (req.headers["if-none-match"] === asset.etag) {
      res.writeHead(304, { etag: asset.etag })
      res.end()
      return true
    }
    const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))
    const body = gzip ? asset.gzipped : asset.body
    res.writeHead(200, {
      "content-type": asset.type,
      "content-length": body.length,
      etag: asset.etag,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
      ...(gzip ? { "content-encoding": "gzip", vary: "accept-encoding" } : {})
    })
    res.end(req.method === "HEAD" ? undefined : body)
    return true
  }
}
