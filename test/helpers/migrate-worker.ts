// One migrator in a thread of its own, started by a shared signal so that two run at the same
// moment (node:sqlite is synchronous: two in one thread could only take turns).
import { parentPort, workerData } from 'node:worker_threads'
import { migrate } from '../../src/sql/index.ts'

const { url, signal } = workerData as { url: string, signal: SharedArrayBuffer }
const flags = new Int32Array(signal)
Atomics.add(flags, 1, 1)
Atomics.wait(flags, 0, 0)
try {
  const applied = await migrate({ databaseUrl: url, dbHost: undefined, dbPort: 3306, dbUser: 'root', dbPassword: '', dbName: 'churn_db', stateDir: '/nonexistent' })
  parentPort?.postMessage({ applied })
} catch (error) {
  parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) })
}
