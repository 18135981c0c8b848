// Bundles the two executables into single files after `tsc -b`: loading ~1,000 ESM modules of
// effect/@effect/* took ~1.1 s of start-up; one bundled file starts to /ready in ~0.6 s (npm run bench, case 5).
// better-sqlite3 stays external (a native addon).
import { build } from "esbuild"
import * as Fs from "node:fs"

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // better-sqlite3 is a native addon; the PostgreSQL store (and pg) load only when EVENT_STORE=postgres.
  external: ["better-sqlite3", "@event-aggregator/postgres"],
  sourcemap: true,
  logLevel: "warning",
  // CommonJS dependencies bundled into ESM still call require().
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" }
}

await build({ ...common, entryPoints: ["packages/server/dist/main.js"], outfile: "packages/server/dist/main.bundle.js" })
await build({ ...common, entryPoints: ["packages/cli/dist/bin.js"], outfile: "packages/cli/dist/event-aggregator.js" })
Fs.chmodSync("packages/cli/dist/event-aggregator.js", 0o755)
// The SQLite writer thread's script, next to each executable (the store finds it beside the module
// that starts it: the bundle). No source map: a worker's stack traces name the core's modules anyway.
for (const dir of ["packages/server/dist", "packages/cli/dist"]) {
  await build({ ...common, sourcemap: false, entryPoints: ["packages/core/dist/internal/sqliteWriter.js"], outfile: `${dir}/sqliteWriter.js` })
}

// The dashboard: one script (Preact, uPlot, eventsource-parser and the page), one stylesheet and
// the page, in the server package's dist/dashboard, which the server serves at `/`.
const dashboard = "packages/server/dist/dashboard"
Fs.mkdirSync(dashboard, { recursive: true })
await build({
  entryPoints: ["packages/server/dashboard/main.tsx"],
  outfile: `${dashboard}/app.js`,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["chrome109", "firefox115", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  minify: true,
  legalComments: "none",
  logLevel: "warning"
})
Fs.writeFileSync(
  `${dashboard}/app.css`,
  Fs.readFileSync("node_modules/uplot/dist/uPlot.min.css", "utf8") + "\n" + Fs.readFileSync("packages/server/dashboard/style.css", "utf8")
)
Fs.copyFileSync("packages/server/dashboard/index.html", `${dashboard}/index.html`)
