import { migrationStatus, openPredictionStore, validTable, type SqlConnection } from '../sql/index.ts'

/** The tables the dashboard reads. */
export interface DashboardTables {
  /** Churn predictions, `churn_predictions` unless configured otherwise. */
  readonly predictions: string
  /** The fraud pipeline's tables. */
  readonly fraudTransactions: string
  readonly fraudPredictions: string
}

export const defaultDashboardTables: DashboardTables = { predictions: 'churn_predictions', fraudTransactions: 'transactions', fraudPredictions: 'predictions' }

/**
 * What the dashboard's queries need that the database lacks, as lines to log; nothing when all is
 * in place or the tables are not there yet. The indexes are not the dashboard's to create (it
 * changes nothing): churn_predictions' come with its table spec (`src/sql/tables/churn-predictions.ts`),
 * the fraud tables' with their migrations, and `churnflow db migrate` or a pipeline's start adds
 * what an older database lacks.
 */
export async function missingForDashboard (sql: SqlConnection, tables: DashboardTables): Promise<string[]> {
  const lines: string[] = []
  await using store = openPredictionStore(sql, { table: validTable(tables.predictions) })
  const indexes = await store.missingIndexes()
  if (indexes.length > 0) {
    lines.push(`${store.table} lacks ${indexes.map(i => `${i.name} (${i.columns.join(', ')})`).join(', ')}`)
  }
  const migrations = await migrationStatus(sql)
  const pending = migrations.filter(m => m.executedAt === undefined)
  // None applied: no fraud pipeline has run here, and the fraud view is empty, not slow.
  if (pending.length > 0 && pending.length < migrations.length) {
    lines.push(`the fraud tables lack ${pending.length} migration(s) (${pending.map(m => m.name).join(', ')})`)
  }
  return lines
}
