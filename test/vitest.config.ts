import type { ViteUserConfig } from "vitest/config"

// The pack test: no aliases (it must not see the sources), dist/ brought up to date first, and time
// for npm pack + npm install.
const config: ViteUserConfig = {
  test: {
    name: "pack",
    include: ["*.test.ts"],
    globalSetup: ["../packages/server/test/globalSetup.ts"],
    testTimeout: 120_000,
    hookTimeout: 600_000
  }
}

export default config
