import { mergeConfig, type ViteUserConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

// Multi-instance tests run the shipped bundles: build them first.
const config: ViteUserConfig = { test: { name: "postgres", globalSetup: ["../server/test/globalSetup.ts"] } }

export default mergeConfig(shared, config)
