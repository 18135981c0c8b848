/**
 * The main thread's side of the SQLite writer thread: starts it, sends it groups and resumes each
 * caller with its own group's result once the transaction holding it committed. The thread keeps
 * the process alive only while a group is in flight. If it dies, what was in flight fails with a
 * `StoreError` (nothing of it was acknowledged; SQLite rolled the open transaction back) and the
 * next append starts a new one.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import type * as Event from "../Event.js"
import { type Pruned, type PruneRequest, StoreError } from "../EventStore.js"
import type * as Idempotency from "../Idempotency.js"
import type { GroupResult } from "./sqliteAppend.js"
import type { FromWriter, ToWriter, WriterInit } from "./writerProtocol.js"

export interface WriterThread {
  /** Commits one group (in its own transaction or merged with others waiting) and returns its result. */
  readonly append: (
    events: ReadonlyArray<Event.Event>,
    receivedAt: string,
    idempotent?: ReadonlyArray<Idempotency.Pending>
  ) => Effect.Effect<GroupResult, StoreError>
  /** One pruning step, in its own transaction between commits (one write connection: they never wait on each other's locks). */
  readonly prune: (request: PruneRequest) => Effect.Effect<Pruned, StoreError>
}

/**
 * The thread's script: next to this module when built (`dist/internal`, or a bundle's directory,
 * where the build puts a bundled copy), else the built one (tests running the sources).
 */
const scriptUrl = (): URL => {
  const here = new URL("./sqliteWriter.js", import.meta.url)
  if (Fs.existsSync(fileURLToPath(here))) return here
  return new URL("../../dist/internal/sqliteWriter.js", import.meta.url)
}

interface Thread {
  readonly worker: Worker
  readonly ready: Promise<void>
  readonly exited: Promise<void>
}

/** A reply: a group's result or a pruning step's (each caller knows which it asked for). */
type Reply = GroupResult | Pruned
type Settle = (result: Either.Either<Reply, string>) => void

const failure = (operation: "append" | "open" | "prune", message: string) =>
  new StoreError({ operation, cause: new Error(message) })

/** Starts the writer thread (waits until its connection is open); it stops with the scope. */
export const make = (init: WriterInit): Effect.Effect<WriterThread, StoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const pending = new Map<number, { readonly thread: Thread; readonly settle: Settle }>()
    let current: Thread | undefined
    let nextId = 1

    const settle = (id: number, result: Either.Either<Reply, string>) => {
      const entry = pending.get(id)
      if (entry === undefined) return
      pending.delete(id)
      if (pending.size === 0) entry.thread.worker.unref()
      entry.settle(result)
    }

    const spawn = (): Thread => {
      const worker = new Worker(scriptUrl(), { workerData: init })
      worker.unref()
      let lastError: Error | undefined
      let resolveReady!: () => void
      let rejectReady!: (error: Error) => void
      const ready = new Promise<void>((resolve, reject) => {
        resolveReady = resolve
        rejectReady = reject
      })
      // A caller that never awaits `ready` must not see an unhandled rejection.
      ready.catch(() => undefined)
      let markExited!: () => void
      const exited = new Promise<void>((resolve) => (markExited = resolve))
      const thread: Thread = { worker, ready, exited }
      worker.on("message", (message: FromWriter) => {
        switch (message._tag) {
          case "Ready":
            return resolveReady()
          case "OpenFailed":
            lastError = new Error(message.message)
            return rejectReady(lastError)
          case "Appended":
            return settle(message.id, Either.right(message.result))
          case "AppendFailed":
            for (const id of message.ids) settle(id, Either.left(message.message))
            return
          case "Pruned":
            return settle(message.id, Either.right(message.result))
          case "PruneFailed":
            return settle(message.id, Either.left(message.message))
        }
      })
      worker.on("error", (error) => (lastError = error))
      worker.on("exit", (code) => {
        if (current === thread) current = undefined
        const why = lastError?.message ?? `exit code ${code}`
        rejectReady(new Error(`the SQLite writer thread stopped (${why})`))
        for (const [id, entry] of pending) {
          if (entry.thread === thread) settle(id, Either.left(`the SQLite writer thread stopped (${why}); nothing of this group was committed`))
        }
        markExited()
      })
      return thread
    }

    const post = (thread: Thread, message: ToWriter) => thread.worker.postMessage(message)

    const call = <A extends Reply>(operation: "append" | "prune", message: (id: number) => ToWriter) =>
      Effect.async<A, StoreError>((resume) => {
        const thread = current ?? (current = spawn())
        const id = nextId++
        if (pending.size === 0) thread.worker.ref()
        pending.set(id, {
          thread,
          settle: (result) =>
            // The writer answers an id with the reply of the message sent under it.
            resume(Either.isRight(result) ? Effect.succeed(result.right as A) : Effect.fail(failure(operation, result.left)))
        })
        thread.ready.then(
          () => post(thread, message(id)),
          (error: Error) => settle(id, Either.left(error.message))
        )
        // Interrupted: forget the caller (the group may still commit, as an inline commit would).
        return Effect.sync(() => settle(id, Either.left("interrupted")))
      })

    const first = spawn()
    current = first
    yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => first.ready, catch: (error) => failure("open", (error as Error).message) }),
      () =>
        Effect.promise(async () => {
          const thread = current
          if (thread === undefined) return
          thread.worker.ref()
          post(thread, { _tag: "Close" })
          const timer = setTimeout(() => void thread.worker.terminate(), 10_000)
          await thread.exited
          clearTimeout(timer)
        })
    ).pipe(Effect.onError(() => Effect.promise(() => first.worker.terminate())))
    const append = (events: ReadonlyArray<Event.Event>, receivedAt: string, idempotent?: ReadonlyArray<Idempotency.Pending>) =>
      call<GroupResult>("append", (id) => ({ _tag: "Append", id, events, receivedAt, idempotent }))
    const prune = (request: PruneRequest) => call<Pruned>("prune", (id) => ({ _tag: "Prune", id, request }))
    return { append, prune } satisfies WriterThread
  })
