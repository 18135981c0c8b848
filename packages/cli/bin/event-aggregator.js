#!/usr/bin/env node
// The `event-aggregator` executable. It exists before the build so that `npm install` can link
// it; the code is the bundle that `npm run build` (run by `npm install`) writes to dist/.
// oxlint-disable-next-line import/no-unassigned-import -- run the bundle for its effect
import "../dist/event-aggregator.js"
