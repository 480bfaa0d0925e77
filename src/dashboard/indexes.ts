import { SqlDialects, validTable } from '../sql/index.ts'
import type { SqlReader } from './sql.ts'

/** One index the dashboard's queries need. */
export interface IndexSpec {
  readonly table: string
  /** Suffix of the index name, `<table>_<suffix>`. */
  readonly suffix: string
  readonly columns: readonly string[]
  /** What reads it, for the docs and the log. */
  readonly why: string
}

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
 * Every index the dashboard's queries need, beyond those the processor creates with the table
 * (user_id, event_type, churn_score, event_timestamp and the unique Kafka coordinates).
 */
export function dashboardIndexes (tables: DashboardTables): IndexSpec[] {
  const p = validTable(tables.predictions)
  const fp = validTable(tables.fraudPredictions)
  return [
    { table: p, suffix: 'idx_user_id_id', columns: ['user_id', 'id'], why: 'a customer\'s predictions newest first; whether a prediction is its customer\'s latest (the at-risk list)' },
    { table: p, suffix: 'idx_prediction_timestamp', columns: ['prediction_timestamp'], why: 'predictions per minute' },
    { table: p, suffix: 'idx_event_score_user', columns: ['event_timestamp', 'churn_score', 'user_id'], why: 'high-risk customers over time, read from the index alone' },
    { table: fp, suffix: 'idx_created_at', columns: ['created_at'], why: 'fraud rate over time, transactions per second' },
    { table: fp, suffix: 'idx_prediction_created_at', columns: ['prediction', 'created_at'], why: 'the latest flagged transactions' }
  ]
}

async function tableExists (db: SqlReader, table: string): Promise<boolean> {
  const sql = db.dialect === SqlDialects.SQLITE
    ? "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?"
    : db.dialect === SqlDialects.MYSQL
      ? 'SELECT 1 AS found FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?'
      : 'SELECT 1 AS found WHERE to_regclass(quote_ident(?)) IS NOT NULL'
  return (await db.all(sql, [table])).length > 0
}

async function mysqlIndexExists (db: SqlReader, table: string, name: string): Promise<boolean> {
  const rows = await db.all('SELECT 1 AS found FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ? LIMIT 1', [table, name])
  return rows.length > 0
}

/**
 * Creates the dashboard's indexes on the tables that exist, idempotently (IF NOT EXISTS, or a
 * look first on MySQL, which lacks it). Run once at dashboard start on a writable connection;
 * the one place to move into a migrations library. Resolves to the names of the indexes in place.
 */
export async function ensureDashboardIndexes (db: SqlReader, tables: DashboardTables = defaultDashboardTables): Promise<string[]> {
  const ensured: string[] = []
  const present = new Map<string, boolean>()
  for (const spec of dashboardIndexes(tables)) {
    const exists = present.get(spec.table) ?? await tableExists(db, spec.table)
    present.set(spec.table, exists)
    if (!exists) continue
    const name = `${spec.table}_${spec.suffix}`.slice(0, 63)
    const columns = spec.columns.join(', ')
    if (db.dialect === SqlDialects.MYSQL) {
      if (await mysqlIndexExists(db, spec.table, name)) continue
      await db.all(`CREATE INDEX ${name} ON ${spec.table} (${columns})`).catch(async (error: unknown) => {
        // Another dashboard created it between the look and the create.
        if (!await mysqlIndexExists(db, spec.table, name)) throw error
      })
    } else {
      await db.all(`CREATE INDEX IF NOT EXISTS ${name} ON ${spec.table} (${columns})`)
    }
    ensured.push(name)
  }
  return ensured
}
