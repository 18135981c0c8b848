// Shared by every package's vitest config: package names resolve to their sources, so tests
// never need a build.
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { ViteUserConfig } from "vitest/config"

const root = path.dirname(fileURLToPath(import.meta.url))
const pkg = (name: string) => path.join(root, "packages", name, "src")

const config: ViteUserConfig = {
  esbuild: { target: "es2022" },
  resolve: {
    alias: [
      { find: /^@event-aggregator\/api\/(.*)$/, replacement: `${pkg("api")}/$1.ts` },
      { find: /^@event-aggregator\/api$/, replacement: `${pkg("api")}/index.ts` },
      { find: /^@event-aggregator\/client\/(.*)$/, replacement: `${pkg("client")}/$1.ts` },
      { find: /^@event-aggregator\/client$/, replacement: `${pkg("client")}/index.ts` },
      { find: /^@event-aggregator\/core\/(.*)$/, replacement: `${pkg("core")}/$1.ts` },
      { find: /^@event-aggregator\/core$/, replacement: `${pkg("core")}/index.ts` },
      { find: /^@event-aggregator\/server\/(.*)$/, replacement: `${pkg("server")}/$1.ts` },
      { find: /^@event-aggregator\/server$/, replacement: `${pkg("server")}/index.ts` },
      { find: /^@event-aggregator\/postgres\/(.*)$/, replacement: `${pkg("postgres")}/$1.ts` },
      { find: /^@event-aggregator\/postgres$/, replacement: `${pkg("postgres")}/index.ts` }
    ]
  },
  test: {
    fakeTimers: { toFake: undefined },
    sequence: { concurrent: false },
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
}

export default config
