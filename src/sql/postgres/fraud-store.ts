import type { FraudPredictionRow, TransactionRow } from '../../fraud/rows.ts'
import { databaseError } from '../common.ts'
import { fraudPredictionsTable, transactionsTable } from '../tables/fraud.ts'
import { SqlDialects, type FraudStore, type FraudWriteResult } from '../types.ts'
import { isTransientPgError, PgDatabase, type PostgresConnectionOptions } from './driver.ts'
import { PgTableWriter } from './writer.ts'

const transactions = new PgTableWriter(transactionsTable, transactionsTable.name)
const predictions = new PgTableWriter(fraudPredictionsTable, fraudPredictionsTable.name)

/**
 * Both inserts in one statement, so a batch is one round trip and one transaction: each table's
 * rows as one array per column through `unnest` with ON CONFLICT DO NOTHING on transaction_id,
 * the transactions in a data-modifying CTE beside the predictions. The predictions' foreign key is
 * checked at the statement's end, where the CTE's rows are seen; a row refused anywhere refuses
 * the whole batch.
 */
const writeSql = `WITH t AS (${transactions.insert(1)} RETURNING 1),
  p AS (${predictions.insert(transactions.parameters + 1)} RETURNING 1)
  SELECT (SELECT COUNT(*) FROM t)::int AS transactions, (SELECT COUNT(*) FROM p)::int AS predictions`

/** The fraud tables in PostgreSQL: a batch of both is one statement (see `writeSql`). */
export class PostgresFraudStore implements FraudStore {
  readonly dialect = SqlDialects.POSTGRES
  readonly name: string
  readonly #db: PgDatabase

  constructor (options: PostgresConnectionOptions) {
    this.#db = new PgDatabase(options)
    this.name = this.#db.name
  }

  async write (rows: readonly TransactionRow[], scores: readonly FraudPredictionRow[]): Promise<FraudWriteResult> {
    if (rows.length === 0 && scores.length === 0) return { transactions: 0, predictions: 0 }
    try {
      const result = await this.#db.pool.query<{ transactions: number, predictions: number }>(writeSql, [...transactions.arrays(rows), ...predictions.arrays(scores)])
      const counts = result.rows[0]
      return { transactions: counts?.transactions ?? 0, predictions: counts?.predictions ?? 0 }
    } catch (error) {
      throw databaseError(this.name, `write of ${rows.length} transactions and ${scores.length} predictions`, error, isTransientPgError)
    }
  }

  async ping (): Promise<void> {
    await this.#db.ping()
  }

  async close (): Promise<void> {
    await this.#db.close()
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }
}
