// Child-process tests run what ships (the bundled server and CLI): bring dist/ up to date first
// (tsc -b is incremental; the bundles take about a second).
import { execFileSync } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export default function setup() {
  const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")
  const run = (...args: Array<string>) => execFileSync(process.execPath, args, { cwd: root, stdio: "inherit" })
  run(Path.join(root, "node_modules/typescript/bin/tsc"), "-b", "tsconfig.build.json")
  run(Path.join(root, "scripts/bundle.mjs"))
}
