/**
 * The packages as npm users get them: every public package packed with `npm pack`, the tarballs
 * installed into a fresh project outside the workspace, and used there with plain `node` and `tsc`.
 * Nothing here resolves to the workspace: a file missing from a tarball, a wrong `exports` entry or
 * an undeclared dependency fails one of these tests.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Util from "node:util"
import { packAll, type Packed, root, sizeTable } from "../scripts/packages.mjs"

/** The environment without npm's variables from the `npm test` that started vitest (its prefix, its config). */
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith("npm_"))
)

interface Ran {
  readonly status: number | null
  readonly output: string
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string, timeout = 120_000): Ran => {
  const result = ChildProcess.spawnSync(command, args, { cwd, env, encoding: "utf8", timeout, maxBuffer: 64 * 1024 * 1024 })
  return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ? String(result.error) : ""}` }
}

const succeeds = (command: string, args: ReadonlyArray<string>, cwd: string, timeout?: number): string => {
  const result = run(command, args, cwd, timeout)
  assert.strictEqual(result.status, 0, `${command} ${args.join(" ")} failed:\n${result.output}`)
  return result.output
}

/** The version the workspace has installed (and so npm's cache holds). */
const installedVersion = (name: string): string =>
  JSON.parse(Fs.readFileSync(Path.join(root, "node_modules", name, "package.json"), "utf8")).version

/** Every importable subpath of a package: its `exports` keys without patterns, nulls and package.json. */
const entryPoints = (pkg: Packed): Array<string> =>
  Object.entries((pkg.manifest["exports"] ?? {}) as Record<string, unknown>)
    .filter(([subpath, target]) => target !== null && !subpath.includes("*") && subpath !== "./package.json")
    .map(([subpath]) => pkg.name + subpath.slice(1))

/** The first ```ts block of a package's README: its one example. */
const readmeExample = (pkg: Packed): string | undefined =>
  /```ts\n([\s\S]*?)```/.exec(Fs.readFileSync(Path.join(root, pkg.dir, "README.md"), "utf8"))?.[1]

/** Files below `dir`, following the symbolic links of npm's linked layout. */
const findAll = (dir: string, match: (path: string) => boolean, out: Array<string> = []): Array<string> => {
  for (const entry of Fs.readdirSync(dir, { withFileTypes: true })) {
    const full = Path.join(dir, entry.name)
    if (entry.isDirectory()) findAll(full, match, out)
    else if (match(full)) out.push(full)
  }
  return out
}

let temp = ""
let project = ""
let packed: Array<Packed> = []

beforeAll(() => {
  temp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "event-aggregator-pack-"))
  const started = Date.now()
  packed = packAll(Path.join(temp, "tarballs"))
  process.stdout.write(`\npack test: tarballs\n${sizeTable(packed)}\n`)

  project = Path.join(temp, "project")
  Fs.mkdirSync(project)
  Fs.writeFileSync(
    Path.join(project, "package.json"),
    JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }, null, 2)
  )
  // What a user installs next to the packages (the READMEs say so), at the workspace's versions so
  // npm's cache has them; typescript and @types/node for the consumer's own tsc.
  const alongside = ["effect", "@effect/platform", "@effect/platform-node", "typescript", "@types/node"]
    .map((name) => `${name}@${installedVersion(name)}`)
  // - linked: each package sees only what it declares (node_modules/.store, as pnpm does), so an
  //   undeclared dependency fails here instead of being found by hoisting;
  // - prefer-offline: third-party packages come from npm's cache, which `npm ci` has just filled
  //   (the registry only for what it lacks);
  // - ignore-scripts: the only install script in the tree is better-sqlite3's compile (~90 s of CPU
  //   here; its prebuilt download is offline), provided below instead. Ours have none.
  succeeds(
    "npm",
    [
      "install", "--install-strategy=linked", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund",
      ...packed.map((p) => p.tarball),
      ...alongside
    ],
    project,
    300_000
  )
  // better-sqlite3's addon: the one this checkout compiled when it is the same version (same Node,
  // same machine: what its install script would produce), else compiled as users get it.
  const workspaceAddon = Path.join(root, "node_modules/better-sqlite3/build/Release/better_sqlite3.node")
  const copies = findAll(Path.join(project, "node_modules/.store"), (p) => p.endsWith("/better-sqlite3/package.json"))
    .map(Path.dirname)
    .filter((dir) => Path.basename(Path.dirname(dir)) === "node_modules")
  assert.isAbove(copies.length, 0, "better-sqlite3 is not installed")
  for (const dir of copies) {
    const version = JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8")).version
    if (version === installedVersion("better-sqlite3") && Fs.existsSync(workspaceAddon)) {
      Fs.mkdirSync(Path.join(dir, "build/Release"), { recursive: true })
      Fs.copyFileSync(workspaceAddon, Path.join(dir, "build/Release/better_sqlite3.node"))
    } else {
      succeeds("npm", ["rebuild", "better-sqlite3"], project, 600_000)
    }
  }
  process.stdout.write(`pack test: packed and installed in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
})

afterAll(() => {
  if (temp !== "") Fs.rmSync(temp, { recursive: true, force: true })
})

/**
 * `examples/<name>.ts` copied into its own folder of the installed project and compiled there
 * with the project's tsc (types from the tarballs); returns the folder, which holds `<name>.js`.
 */
const compileExample = (name: string): string => {
  const dir = Path.join(project, name)
  Fs.mkdirSync(dir)
  Fs.copyFileSync(Path.join(root, `examples/${name}.ts`), Path.join(dir, `${name}.ts`))
  Fs.writeFileSync(
    Path.join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { strict: true, target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", types: ["node"], skipLibCheck: true },
      files: [`${name}.ts`]
    })
  )
  succeeds(process.execPath, [Path.join(project, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], dir)
  return dir
}

describe("the packed packages, installed in a fresh project", () => {
  it("every entry point of every package loads with plain node, and internals stay closed", () => {
    const specifiers = packed.flatMap(entryPoints)
    Fs.writeFileSync(
      Path.join(project, "entry-points.mjs"),
      [
        `const specifiers = ${JSON.stringify(specifiers)}`,
        "for (const specifier of specifiers) await import(specifier)",
        "const closed = await import(\"@event-aggregator/core/internal/json\").then(() => \"open\", (e) => e.code)",
        "console.log(JSON.stringify({ loaded: specifiers.length, closed }))"
      ].join("\n")
    )
    const output = succeeds(process.execPath, ["entry-points.mjs"], project)
    assert.deepStrictEqual(JSON.parse(output.trim().split("\n").pop()!), {
      loaded: specifiers.length,
      closed: "ERR_PACKAGE_PATH_NOT_EXPORTED"
    })
  })

  it("a consumer typechecks with tsc against the types in the tarballs: every entry point, each README example, the library example", () => {
    const consumer = packed.flatMap(entryPoints).map((specifier, i) => `import * as m${i} from "${specifier}"`)
    Fs.writeFileSync(
      Path.join(project, "consumer.ts"),
      `${consumer.join("\n")}\nexport const modules = [${consumer.map((_, i) => `m${i}`).join(", ")}]\n`
    )
    const examples = ["consumer.ts", "library.ts"]
    Fs.copyFileSync(Path.join(root, "examples/library.ts"), Path.join(project, "library.ts"))
    for (const pkg of packed) {
      const example = readmeExample(pkg)
      if (example === undefined) continue
      const file = `readme-${Path.basename(pkg.dir)}.ts`
      Fs.writeFileSync(Path.join(project, file), example)
      examples.push(file)
    }
    Fs.writeFileSync(
      Path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          exactOptionalPropertyTypes: true,
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          types: ["node"],
          // Our declaration files are checked too: a type imported from an undeclared package fails.
          skipLibCheck: false,
          outDir: "dist"
        },
        files: examples
      }, null, 2)
    )
    const listed = succeeds(process.execPath, ["node_modules/typescript/bin/tsc", "--noEmit", "--listFiles"], project)
      .split("\n").map((line) => line.trim()).filter((line) => line.length > 0)
    const ours = listed.filter((file) => file.includes("/@event-aggregator/"))
    for (const file of ours) {
      assert.isTrue(Fs.realpathSync(file).startsWith(Fs.realpathSync(project)), `${file} is not from the installed tarballs`)
    }
    for (const pkg of packed.filter((p) => entryPoints(p).length > 0)) {
      assert.isTrue(ours.some((file) => file.includes(`/${pkg.name}/dist/`) && file.endsWith(".d.ts")), `no types of ${pkg.name} were read`)
    }
  })

  it("the library example runs with plain node: the Effect program, then the Promise facade on the same file", () => {
    const dir = compileExample("library")
    const output = succeeds(process.execPath, ["library.js"], dir)
    // Effect: 2 events stored, then their retry dropped as duplicates.
    assert.include(output, "stored 2, dropped 2")
    // Promise: the file reopened (o-2 is a duplicate), int64 payload text kept, a bad event rejected with its tag.
    assert.match(output, /promise publish:[\s\S]*accepted: 1,\s+duplicates: 1/)
    assert.include(output, "4:o-4 {\"id\": 9223372036854775807}")
    assert.include(output, "rejected: InvalidEvents")
  })

  it("the packed server serves the API and the dashboard; the packed CLI reads its stats", async () => {
    const server = ChildProcess.spawn(
      process.execPath,
      ["node_modules/@event-aggregator/server/dist/main.bundle.js"],
      {
        cwd: project,
        env: { ...env, PORT: "0", HOST: "127.0.0.1", DEDUP_DB_PATH: Path.join(temp, "server/dedup.sqlite") },
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    let output = ""
    const exited = new Promise<number | string>((resolve) =>
      server.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"))
    )
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString()
          const match = /Listening on (http:\/\/[^"\s]+)/.exec(output)
          if (match) resolve(match[1]!)
        }
        server.stdout.on("data", onData)
        server.stderr.on("data", onData)
        void exited.then((code) => reject(new Error(`the server exited with ${code} before listening:\n${output}`)))
      })

      const event = { topic: "pack", event_id: "e-1", timestamp: "2025-01-31T12:00:00Z", source: "pack-test", payload: { n: 1 } }
      const published = await fetch(`${url}/publish`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(event)
      })
      assert.strictEqual(published.status, 200)
      assert.deepInclude(await published.json(), { received: 1, accepted: 1, duplicates: 0 })

      const stored = await fetch(`${url}/events/pack/e-1`)
      assert.strictEqual(stored.status, 200)
      assert.deepInclude(await stored.json(), { ...event, seq: 1 })

      const page = await fetch(`${url}/`)
      assert.strictEqual(page.status, 200)
      assert.include(page.headers.get("content-type") ?? "", "text/html")
      assert.include(await page.text(), "/dashboard/app.js")
      for (const asset of ["/dashboard/app.js", "/dashboard/app.css"]) {
        const response = await fetch(`${url}${asset}`)
        assert.strictEqual(response.status, 200, asset)
        assert.isAbove((await response.arrayBuffer()).byteLength, 1000, asset)
      }

      const stats = succeeds("npx", ["--no", "--", "event-aggregator", "stats", "--url", url, "--json"], project, 60_000)
      assert.deepInclude(JSON.parse(stats), { received: 1, unique_processed: 1, duplicate_dropped: 0 })

      // The client's example (README "Publishing from your service"), compiled against the packed
      // client's types and run with plain node against the packed server.
      const dir = compileExample("client")
      const client = ChildProcess.execFileSync(process.execPath, ["client.js"], {
        cwd: dir,
        env: { ...env, EVENT_AGGREGATOR_URL: url },
        encoding: "utf8",
        timeout: 60_000
      })
      assert.include(client, "first: accepted 1; the same again: duplicates 1")
      assert.match(client, /stored payload: \{\\?"id\\?": 18446744073709551615/)
      assert.include(client, "followed 1 event(s)")
      assert.include(client, "rejected: InvalidEvents")
    } finally {
      server.kill("SIGTERM")
    }
    assert.strictEqual(await exited, 0, output)
  })

  it("the packed CLI's bin prints its usage", () => {
    const output = Util.stripVTControlCharacters(succeeds("npx", ["--no", "--", "event-aggregator", "--help"], project, 60_000))
    assert.include(output, "USAGE")
    assert.include(output, "$ event-aggregator")
    for (const command of ["serve", "ingest", "publish", "stats", "events"]) assert.include(output, `- ${command}`)
  })
})
