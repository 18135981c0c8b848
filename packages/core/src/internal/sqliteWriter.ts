/**
 * The SQLite writer thread's entry point (a `worker_threads` Worker, with its own Effect runtime
 * and its own connection). Commits run here, so the main thread keeps reading sockets, parsing and
 * validating while SQLite writes and fsyncs. Groups that wait while a transaction runs are merged
 * into the next one (up to `maxTransactionEvents`): the busier the writer, the bigger and cheaper
 * its transactions. Every group is answered only after the transaction holding it committed.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads"
import * as SqlRetention from "../SqlRetention.js"
import { appendGroups } from "./sqliteAppend.js"
import type { FromWriter, ToWriter, WriterInit } from "./writerProtocol.js"

type Append = Extract<ToWriter, { readonly _tag: "Append" }>
type Prune = Extract<ToWriter, { readonly _tag: "Prune" }>
const pruneStatements = SqlRetention.statements("sqlite")

const init = workerData as WriterInit
const port = parentPort!
const send = (message: FromWriter) => port.postMessage(message)

/** A test hook's `<topic>:<file>` from the environment variable `name`. */
const holdSpec = (name: string) => {
  const spec = process.env[name]
  if (spec === undefined || spec === "") return undefined
  const at = spec.indexOf(":")
  return { topic: spec.slice(0, at), file: spec.slice(at + 1) }
}

/**
 * Test only: `EVENT_AGGREGATOR_TEST_HOLD_COMMIT=<topic>:<file>` makes a transaction holding an event
 * of `<topic>` create `<file>` and then block before it commits, forever (a test kills the process
 * there, mid-commit).
 */
const hold = holdSpec("EVENT_AGGREGATOR_TEST_HOLD_COMMIT")

const holdIfAsked = (groups: ReadonlyArray<Append>, at = hold) =>
  Effect.sync(() => {
    if (at === undefined || !groups.some((g) => g.events.some((e) => e.topic === at.topic))) return
    Fs.writeFileSync(at.file, String(process.pid))
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
  })

/** Test only: `EVENT_AGGREGATOR_TEST_HOLD_COMMITTED=<topic>:<file>`, the same after the commit, before the answer. */
const holdCommitted = holdSpec("EVENT_AGGREGATOR_TEST_HOLD_COMMITTED")

const messageOf = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error.message : String(error)
}

const scope = Effect.runSync(Scope.make())
const open = Effect.gen(function*() {
  const sql = yield* SqliteClient.make({ filename: init.filename }).pipe(Effect.provide(Reactivity.layer))
  yield* sql.unsafe(`PRAGMA synchronous = ${init.synchronous === "NORMAL" ? "NORMAL" : "FULL"}`)
  yield* sql.unsafe("PRAGMA busy_timeout = 5000")
  yield* sql.unsafe(`PRAGMA cache_size = -${Math.max(1, Math.floor(init.cacheSizeKiB))}`)
  return sql
}).pipe(Scope.extend(scope))

// Appends and pruning steps in arrival order: a pruning step runs alone, between transactions.
const waiting: Array<Append | Prune> = []
let closing = false
let busy = false

const take = (message: ToWriter) => {
  if (message._tag === "Close") closing = true
  else waiting.push(message)
}

const run = async (sql: SqliteClient.SqliteClient) => {
  if (busy) return
  busy = true
  try {
    await drain(sql)
  } finally {
    busy = false
  }
  if (closing) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    port.close()
  }
}

const drain = async (sql: SqliteClient.SqliteClient) => {
  for (;;) {
    // Everything already sent joins this transaction, not only what the event loop delivered.
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) take(m.message as ToWriter)
    const first = waiting[0]
    if (first === undefined) break
    if (first._tag === "Prune") {
      waiting.shift()
      const exit = await Effect.runPromiseExit(sql.withTransaction(SqlRetention.pruneStep(sql, pruneStatements, first.request)))
      send(Exit.isSuccess(exit)
        ? { _tag: "Pruned", id: first.id, result: exit.value }
        : { _tag: "PruneFailed", id: first.id, message: messageOf(exit.cause) })
      continue
    }
    const batch: Array<Append> = []
    let size = 0
    for (let next = waiting[0]; next !== undefined && next._tag === "Append"; next = waiting[0]) {
      if (batch.length > 0 && size + next.events.length > init.maxTransactionEvents) break
      waiting.shift()
      batch.push(next)
      size += next.events.length
    }
    const exit = await Effect.runPromiseExit(
      sql.withTransaction(Effect.tap(appendGroups(sql, batch), () => holdIfAsked(batch)))
    )
    if (Exit.isSuccess(exit)) {
      if (holdCommitted !== undefined) Effect.runSync(holdIfAsked(batch, holdCommitted))
      exit.value.forEach((result, i) => send({ _tag: "Appended", id: batch[i]!.id, result }))
    } else {
      send({ _tag: "AppendFailed", ids: batch.map((g) => g.id), message: messageOf(exit.cause) })
    }
  }
}

Effect.runPromiseExit(open).then((exit) => {
  if (Exit.isFailure(exit)) {
    send({ _tag: "OpenFailed", message: messageOf(exit.cause) })
    port.close()
    return
  }
  const sql = exit.value
  port.on("message", (message: ToWriter) => {
    take(message)
    void run(sql)
  })
  send({ _tag: "Ready" })
}, (error) => send({ _tag: "OpenFailed", message: String(error) }))
