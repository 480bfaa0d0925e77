import { setTimeout as sleep } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'

/**
 * What each thread does once released: migrate a database; or open each of `paths` (new SQLite
 * files) together with the other threads, write to it, and read its journal mode.
 */
export type TogetherTask = { kind: 'migrate', url: string } | { kind: 'open-sqlite', paths: readonly string[] }

/** How many points the threads can meet at inside one task. */
const BARRIERS = 256

export interface TogetherResult<T> {
  readonly value?: T
  readonly error?: string
}

/** Runs `task` in `threads` threads of their own, released at the same instant; resolves to each one's value or error message. */
export async function runTogether<T> (task: TogetherTask, threads: number): Promise<TogetherResult<T>[]> {
  if (task.kind === 'open-sqlite' && task.paths.length > BARRIERS) throw new RangeError(`at most ${BARRIERS} files, one meeting point each`)
  const signal = new SharedArrayBuffer(4 * (2 + BARRIERS))
  const flags = new Int32Array(signal)
  const workers = Array.from({ length: threads }, () => new Worker(new URL('./together-worker.ts', import.meta.url), { workerData: { task, signal, threads } }))
  const results = workers.map(w => new Promise<TogetherResult<T>>((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  }))
  while (Atomics.load(flags, 1) < threads) await sleep(5)
  Atomics.store(flags, 0, 1)
  Atomics.notify(flags, 0)
  try {
    return await Promise.all(results)
  } finally {
    await Promise.all(workers.map(w => w.terminate()))
  }
}
