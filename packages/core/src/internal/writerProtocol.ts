/**
 * Messages between the SQLite store (main thread) and its writer thread. Plain data only: they are
 * structured-cloned across the thread boundary.
 */
import type * as Event from "../Event.js"
import type * as EventStore from "../EventStore.js"
import type * as Idempotency from "../Idempotency.js"
import type { GroupResult } from "./sqliteAppend.js"

/** What the writer thread is started with (`workerData`). */
export interface WriterInit {
  readonly filename: string
  readonly synchronous: "FULL" | "NORMAL"
  /** SQLite page cache of the writer's connection, in KiB. */
  readonly cacheSizeKiB: number
  /** Most events one transaction takes (groups waiting are merged up to it). */
  readonly maxTransactionEvents: number
}

/** Main -> writer. */
export type ToWriter =
  | {
    readonly _tag: "Append"
    readonly id: number
    readonly events: ReadonlyArray<Event.Event>
    readonly receivedAt: string
    readonly idempotent?: ReadonlyArray<Idempotency.Pending> | undefined
  }
  | { readonly _tag: "Prune"; readonly id: number; readonly request: EventStore.PruneRequest }
  | { readonly _tag: "Close" }

/** Writer -> main. */
export type FromWriter =
  | { readonly _tag: "Ready" }
  | { readonly _tag: "OpenFailed"; readonly message: string }
  | { readonly _tag: "Appended"; readonly id: number; readonly result: GroupResult }
  | { readonly _tag: "AppendFailed"; readonly ids: ReadonlyArray<number>; readonly message: string }
  | { readonly _tag: "Pruned"; readonly id: number; readonly result: EventStore.Pruned }
  | { readonly _tag: "PruneFailed"; readonly id: number; readonly message: string }
