// Child-process tests run the built server: bring dist/ up to date first (incremental, fast).
import { execFileSync } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export default function setup() {
  const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")
  execFileSync(process.execPath, [Path.join(root, "node_modules/typescript/bin/tsc"), "-b", "tsconfig.build.json"], {
    cwd: root,
    stdio: "inherit"
  })
}
