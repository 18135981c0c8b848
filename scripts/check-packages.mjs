// The published tarballs as npm would upload them, part of `npm run check`: packs every public
// package (from the current dist/, no build) into a temp dir and fails on any finding of
// - publint (package.json against the packed files; every message counts, suggestions included);
// - attw, "Are the types wrong?", with the esm-only profile: the packages are ESM only by design
//   ("type": "module", NodeNext output, no `require` condition), so the node10 and
//   node16-from-CommonJS resolutions, which cannot load them without `import()`, are not checked;
//   every ESM resolution (node16 from ESM, bundler) must find types and JavaScript;
// - the contents: LICENSE (the root's), README.md and package.json in every tarball; no build
//   leftovers (tsbuildinfo, build/, tests); every source map's sources inside the tarball (a stale
//   dist/ file, whose source is gone, fails here).
// Offline: publint lints the tarball's bytes, attw reads the tarball (--no-definitely-typed: no
// @types look-up on the registry).
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { publint } from "publint"
import { formatMessage } from "publint/utils"
import { packAll, root, sizeTable } from "./packages.mjs"

/** The bytes of `buffer` alone (a Buffer can be a view on a larger pool). */
const arrayBuffer = (buffer) => buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength)

const temp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-check-packages-"))
const problems = []
try {
  const packed = packAll(temp)
  const license = Fs.readFileSync(Path.join(root, "LICENSE"), "utf8")
  const attw = Path.join(root, "node_modules/@arethetypeswrong/cli/dist/index.js")

  for (const pkg of packed) {
    const report = (message) => problems.push(`${pkg.name}: ${message}`)
    const files = new Set(pkg.files)

    const { messages } = await publint({ pack: { tarball: arrayBuffer(Fs.readFileSync(pkg.tarball)) }, strict: true })
    for (const message of messages) {
      report(`publint ${message.type} ${message.code}: ${formatMessage(message, pkg.manifest, { color: false })}`)
    }

    const types = ChildProcess.spawnSync(
      process.execPath,
      [attw, pkg.tarball, "--profile", "esm-only", "--no-definitely-typed", "--format", "ascii", "--no-color", "--no-emoji"],
      { encoding: "utf8" }
    )
    if (types.status !== 0) report(`attw found problems:\n${types.stdout}${types.stderr}`)

    for (const required of ["LICENSE", "README.md", "package.json"]) {
      if (!files.has(required)) report(`${required} is not in the tarball`)
    }
    const leftovers = pkg.files.filter((file) =>
      /\.tsbuildinfo$|(^|\/)(build|test|tests|__tests__|node_modules)\/|\.(test|spec)\.[cm]?[jt]sx?(\.map)?$/.test(file)
    )
    if (leftovers.length > 0) report(`build leftovers in the tarball: ${leftovers.join(", ")}`)

    // The packed bytes of LICENSE and the maps: read from the package directory, which is what
    // npm packed (the file list above is npm's own).
    const dir = Path.join(root, pkg.dir)
    if (files.has("LICENSE") && Fs.readFileSync(Path.join(dir, "LICENSE"), "utf8") !== license) {
      report("LICENSE differs from the repository's LICENSE")
    }
    for (const file of pkg.files.filter((f) => f.endsWith(".map"))) {
      const map = JSON.parse(Fs.readFileSync(Path.join(dir, file), "utf8"))
      for (const source of map.sources ?? []) {
        const target = Path.posix.normalize(Path.posix.join(Path.posix.dirname(file), map.sourceRoot ?? "", source))
        if (!files.has(target)) report(`${file} points at ${target}, which is not in the tarball`)
      }
    }
  }

  if (problems.length === 0) {
    process.stdout.write(`check-packages: publint, attw (esm-only) and contents OK for ${packed.length} tarballs\n${sizeTable(packed)}\n`)
  }
} finally {
  Fs.rmSync(temp, { recursive: true, force: true })
}
if (problems.length > 0) {
  console.error(`check-packages: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}`).join("\n")}`)
  process.exit(1)
}
