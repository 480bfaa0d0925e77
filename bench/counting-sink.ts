// A prediction store that only counts the rows it is handed: the benchmarks of the processor's own
// CPU (bench:batch, bench:silence) leave the database's work out of their figures with it.
import { SqlDialects, TableStates, type PredictionRow, type PredictionStore } from '../src/sql/index.ts'

export function countingPredictionStore (counted: (rows: number) => void): PredictionStore {
  return {
    dialect: SqlDialects.SQLITE,
    name: 'counting sink',
    table: 'churn_predictions',
    ensureTable: async () => undefined,
    tableState: async () => TableStates.READY,
    missingIndexes: async () => [],
    insert: async (batch: readonly PredictionRow[]) => { counted(batch.length); return batch.length },
    ping: async () => undefined,
    close: async () => undefined,
    [Symbol.asyncDispose]: async () => undefined
  }
}
