// One task in a thread of its own, started by a shared signal so that several run at the same
// moment (node:sqlite is synchronous: two in one thread could only take turns).
import { parentPort, workerData } from 'node:worker_threads'
import { migrate } from '../../src/sql/index.ts'
import { openSqlite } from '../../src/sql/sqlite/driver.ts'
import type { TogetherTask } from './together.ts'

const { task, signal, threads } = workerData as { task: TogetherTask, signal: SharedArrayBuffer, threads: number }
const flags = new Int32Array(signal)

/** Waits until every thread has reached barrier `k`. */
function barrier (k: number): void {
  Atomics.add(flags, 2 + k, 1)
  while (Atomics.load(flags, 2 + k) < threads) Atomics.wait(flags, 2 + k, Atomics.load(flags, 2 + k), 1)
  Atomics.notify(flags, 2 + k)
}

async function run (): Promise<unknown> {
  switch (task.kind) {
    case 'migrate':
      return await migrate({ databaseUrl: task.url, dbHost: undefined, dbPort: 3306, dbUser: 'root', dbPassword: '', dbName: 'churn_db', stateDir: '/nonexistent' })
    case 'open-sqlite': {
      // Each new file is opened by every thread at once, then written, as a store's first batch
      // does. A failure is that file's result: the thread goes on, so no other waits for it.
      return task.paths.map((path, k) => {
        barrier(k)
        try {
          const db = openSqlite({ path })
          try {
            db.exec('CREATE TABLE IF NOT EXISTS opened (n INTEGER)')
            db.exec('INSERT INTO opened VALUES (1)')
            return db.prepare('PRAGMA journal_mode').get()?.journal_mode
          } finally { db.close() }
        } catch (error) {
          return error instanceof Error ? error.message : String(error)
        }
      })
    }
  }
}

Atomics.add(flags, 1, 1)
Atomics.wait(flags, 0, 0)
try {
  parentPort?.postMessage({ value: await run() })
} catch (error) {
  parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) })
}
