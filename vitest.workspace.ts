import { defineWorkspace } from "vitest/config"

// Every package's tests, and test/ (the packed tarballs installed in a fresh project).
export default defineWorkspace(["packages/*", "test"])
