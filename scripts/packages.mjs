// The packages this repository publishes, and `npm pack` for them: shared by
// scripts/check-packages.mjs (publint, attw, tarball contents) and test/Pack.test.ts (the tarballs
// installed in a fresh project).
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")

/** Every workspace that is not private, in the order of the root package.json's `workspaces`. */
export const publishedPackages = () => {
  const { workspaces } = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8"))
  return workspaces
    .map((dir) => ({ dir, manifest: JSON.parse(Fs.readFileSync(Path.join(root, dir, "package.json"), "utf8")) }))
    .filter(({ manifest }) => manifest.private !== true)
    .map(({ dir, manifest }) => ({ dir, name: manifest.name, manifest }))
}

/**
 * `npm pack` of every published package into `destination`, from what `npm run build` left in
 * dist/ (packing runs no build). Returns npm's report for each tarball.
 */
export const packAll = (destination) => {
  const packages = publishedPackages()
  Fs.mkdirSync(destination, { recursive: true })
  const output = ChildProcess.execFileSync(
    "npm",
    ["pack", "--json", "--pack-destination", destination, ...packages.flatMap(({ dir }) => ["--workspace", dir])],
    { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 * 1024 * 1024 }
  )
  const reports = JSON.parse(output)
  return packages.map(({ dir, name, manifest }) => {
    const report = reports.find((r) => r.name === name)
    if (report === undefined) throw new Error(`npm pack did not report ${name}`)
    return {
      dir,
      name,
      manifest,
      tarball: Path.join(destination, report.filename),
      size: report.size,
      unpackedSize: report.unpackedSize,
      files: report.files.map((f) => f.path)
    }
  })
}

const kB = (bytes) => `${(bytes / 1000).toFixed(1)} kB`

/** One line per tarball: name, packed size, unpacked size, file count. */
export const sizeTable = (packed) =>
  packed
    .map((p) => `${p.name.padEnd(28)} ${kB(p.size).padStart(10)} packed ${kB(p.unpackedSize).padStart(10)} unpacked ${String(p.files.length).padStart(4)} files`)
    .join("\n")
