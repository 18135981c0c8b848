import * as MemoryEventStore from "../src/MemoryEventStore.js"
import * as EventStoreSuite from "./EventStoreSuite.js"

EventStoreSuite.suite({ name: "memory", layer: MemoryEventStore.layer })
