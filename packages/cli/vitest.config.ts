import { mergeConfig, type ViteUserConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

// The CLI is tested as users run it: the built bin, so dist/ is brought up to date first.
const config: ViteUserConfig = { test: { name: "cli", globalSetup: ["../server/test/globalSetup.ts"] } }

export default mergeConfig(shared, config)
