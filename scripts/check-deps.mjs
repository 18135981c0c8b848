// Dependency hygiene, part of `npm run check`. Fails when
// - a package's sources (packages/*/src) or shipped bundles import a package that its
//   package.json does not declare in dependencies or peerDependencies;
// - a package's other files (test/, the dashboard's sources, vitest.config.ts) import something
//   declared neither by the package nor by the root package.json (tests may use root
//   devDependencies), or the root's own code (bench/, scripts/, examples/, test/) imports
//   something the root does not declare;
// - a declared dependency is imported by nothing: a package's dependencies and peerDependencies by
//   its sources or bundles (or as a peer dependency of a dependency it declares: declaring it pins
//   the version the package is tested with), its devDependencies by its files, the root's
//   devDependencies by any file (or used as a command in a script, or the @types of something used).
// Imports are read with regular expressions after comments and template literals are blanked:
// `import ... from "x"`, `export ... from "x"`, `import "x"` at the start of a line, and
// `import("x")` anywhere (type queries included). A package's type-only imports count: its
// declaration files import them too.
import { builtinModules } from "node:module"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const readJson = (file) => JSON.parse(Fs.readFileSync(Path.join(root, file), "utf8"))

/**
 * The executables scripts/bundle.mjs writes. What esbuild leaves external (better-sqlite3, the
 * optional PostgreSQL store) is imported from the installed package at run time, so it must be
 * declared by the package that ships the bundle, as if its sources imported it.
 */
const bundles = {
  server: ["dist/main.bundle.js", "dist/sqliteWriter.js"],
  cli: ["dist/event-aggregator.js", "dist/sqliteWriter.js"]
}
/** Bare `require`s esbuild leaves in bundled CommonJS code that guards them with try/catch. */
const optionalInBundles = new Set([
  "bufferutil", // ws: optional native speed-ups
  "utf-8-validate"
])

const sourceExtensions = /\.(?:ts|tsx|mts|js|mjs)$/
const skippedDirectories = new Set(["node_modules", "dist", "build", "coverage", "data", "results"])

const walk = (dir) => {
  const out = []
  if (!Fs.existsSync(dir)) return out
  for (const entry of Fs.readdirSync(dir, { withFileTypes: true })) {
    const full = Path.join(dir, entry.name)
    if (entry.isDirectory()) {
      if (!skippedDirectories.has(entry.name) && !entry.name.startsWith(".")) out.push(...walk(full))
    } else if (sourceExtensions.test(entry.name)) out.push(full)
  }
  return out
}

/** The text with comments removed and template literals' contents blanked (generated code in tests). */
const stripComments = (text) => {
  let out = ""
  let i = 0
  while (i < text.length) {
    const c = text[i]
    const next = text[i + 1]
    if (c === "/" && next === "/") {
      while (i < text.length && text[i] !== "\n") i++
    } else if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2)
      const stop = end === -1 ? text.length : end + 2
      out += text.slice(i, stop).replace(/[^\n]/g, " ")
      i = stop
    } else if (c === "\"" || c === "'" || c === "`") {
      let j = i + 1
      while (j < text.length && text[j] !== c && !(c !== "`" && text[j] === "\n")) j += text[j] === "\\" ? 2 : 1
      out += c === "`" ? "`" + text.slice(i + 1, j).replace(/[^\n]/g, " ") + "`" : text.slice(i, j + 1)
      i = j + 1
    } else {
      out += c
      i++
    }
  }
  return out
}

const importPatterns = [
  /^\s*import\s+(?:type\s+)?(?:[\w$]+\s*,\s*)?(?:[\w$]+|\*\s+as\s+[\w$]+|\{[^}]*\})\s+from\s+["']([^"']+)["']/gm,
  /^\s*import\s+["']([^"']+)["']/gm,
  /^\s*export\s+(?:type\s+)?(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\})\s+from\s+["']([^"']+)["']/gm,
  /\bimport\s*\(\s*["']([^"']+)["']\s*[,)]/g
]
// In esbuild's ESM output: externals as top-level imports, dynamic imports, and require() calls.
const bundlePatterns = [
  /^import\s+(?:[^"';]*?\s+from\s+)?"([^"]+)"/gm,
  /\bimport\("([^"]+)"\)/g,
  /\brequire\("([^"]+)"\)/g
]

const builtins = new Set(builtinModules)
/** The package a bare specifier names, or undefined for relative paths and Node's modules. */
const packageOf = (specifier) => {
  if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("node:")) return undefined
  const parts = specifier.split("/")
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]
  return builtins.has(name) ? undefined : name
}

const importsOf = (file, patterns, transform = stripComments) => {
  const text = transform(Fs.readFileSync(file, "utf8"))
  const found = new Set()
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) {
      const name = packageOf(match[1])
      if (name !== undefined) found.add(name)
    }
  }
  return found
}

const rootPackage = readJson("package.json")
const workspaces = rootPackage.workspaces.map((dir) => ({ dir, json: readJson(`${dir}/package.json`) }))
const workspaceNames = new Set(workspaces.map((w) => w.json.name))
const rootDev = new Set(Object.keys(rootPackage.devDependencies ?? {}))
const keys = (record) => new Set(Object.keys(record ?? {}))
/** An installed package's package.json (workspace dependencies are hoisted to the root). */
const manifest = (name) => {
  const file = Path.join(root, "node_modules", name, "package.json")
  return Fs.existsSync(file) ? JSON.parse(Fs.readFileSync(file, "utf8")) : undefined
}

const problems = []
const rel = (file) => Path.relative(root, file)
/** Every package imported anywhere, for the root's devDependencies. */
const usedAnywhere = new Set()
let files = 0

for (const { dir, json } of workspaces) {
  const runtime = new Set([...keys(json.dependencies), ...keys(json.peerDependencies)])
  const dev = keys(json.devDependencies)
  const usedAtRuntime = new Set()
  const usedInDev = new Set()
  const packageDir = Path.join(root, dir)
  for (const file of walk(packageDir)) {
    files++
    const isSource = file.startsWith(Path.join(packageDir, "src") + Path.sep)
    for (const name of importsOf(file, importPatterns)) {
      usedAnywhere.add(name)
      if (name === json.name) continue
      if (isSource) {
        usedAtRuntime.add(name)
        if (!runtime.has(name)) {
          problems.push(`${rel(file)} imports ${name}, which ${dir}/package.json does not declare in dependencies or peerDependencies`)
        }
      } else {
        usedInDev.add(name)
        if (!runtime.has(name) && !dev.has(name) && !rootDev.has(name) && !workspaceNames.has(name)) {
          problems.push(`${rel(file)} imports ${name}, declared neither by ${dir}/package.json nor by the root package.json`)
        }
      }
    }
  }
  for (const bundle of bundles[Path.basename(dir)] ?? []) {
    const file = Path.join(packageDir, bundle)
    if (!Fs.existsSync(file)) {
      problems.push(`${rel(file)} is missing: run npm run build`)
      continue
    }
    files++
    for (const name of importsOf(file, bundlePatterns, (text) => text)) {
      if (optionalInBundles.has(name)) continue
      usedAtRuntime.add(name)
      if (!runtime.has(name)) {
        problems.push(`${rel(file)} (a bundle) imports ${name}, which ${dir}/package.json does not declare in dependencies or peerDependencies`)
      }
    }
  }
  const peersOfDependencies = new Set([...runtime].flatMap((name) => [...keys(manifest(name)?.peerDependencies)]))
  for (const name of runtime) {
    if (!usedAtRuntime.has(name) && !peersOfDependencies.has(name)) problems.push(`${dir}/package.json declares ${name}, but nothing in ${dir}/src imports it`)
  }
  for (const name of dev) {
    if (!usedInDev.has(name) && !usedAtRuntime.has(name)) {
      problems.push(`${dir}/package.json declares ${name} in devDependencies, but no file of ${dir} imports it`)
    }
  }
}

// The root's own code: benchmarks, scripts, examples, the pack test, the shared vitest configs.
const rootFiles = [
  ...["bench", "scripts", "examples", "test"].flatMap((dir) => walk(Path.join(root, dir))),
  ...Fs.readdirSync(root).filter((name) => sourceExtensions.test(name)).map((name) => Path.join(root, name))
]
for (const file of rootFiles) {
  files++
  for (const name of importsOf(file, importPatterns)) {
    usedAnywhere.add(name)
    if (!rootDev.has(name) && !workspaceNames.has(name)) {
      problems.push(`${rel(file)} imports ${name}, which the root package.json does not declare`)
    }
  }
}

// A root devDependency is used when imported, run as a command, or the types of something used.
const commandText = [
  ...Object.values(rootPackage.scripts ?? {}),
  Fs.readFileSync(Path.join(root, ".ci/run"), "utf8"),
  ...rootFiles.map((file) => Fs.readFileSync(file, "utf8")),
  ...workspaces.flatMap(({ dir }) => walk(Path.join(root, dir, "test")).map((file) => Fs.readFileSync(file, "utf8")))
].join("\n")
const commandsOf = (name) => {
  const bin = manifest(name)?.bin
  return typeof bin === "string" ? [name.split("/").pop()] : Object.keys(bin ?? {})
}
const declaredAnywhere = new Set(workspaces.flatMap(({ json }) => [...keys(json.dependencies), ...keys(json.peerDependencies)]))
const typed = (name) => {
  const target = name.slice("@types/".length).replace(/^(.+)__(.+)$/, "@$1/$2")
  return target === "node" || usedAnywhere.has(target) || declaredAnywhere.has(target)
}
for (const name of rootDev) {
  const used = usedAnywhere.has(name) ||
    (name.startsWith("@types/") && typed(name)) ||
    commandsOf(name).some((command) => new RegExp(`(^|[\\s/"'])${command}([\\s"']|$)`, "m").test(commandText))
  if (!used) problems.push(`package.json declares ${name} in devDependencies, but nothing imports it or runs it`)
}

if (problems.length > 0) {
  console.error(`check-deps: ${problems.length} problem(s)\n  ${problems.join("\n  ")}`)
  process.exit(1)
}
process.stdout.write(`check-deps: ${workspaces.length} packages and the root, ${files} files: every import declared, every dependency used\n`)
