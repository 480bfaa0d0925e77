import type { FraudPredictionRow, TransactionRow } from '../../fraud/rows.ts'
import { databaseError } from '../common.ts'
import { fraudPredictionsTable, transactionsTable } from '../tables/fraud.ts'
import { SqlDialects, type FraudStore, type FraudWriteResult } from '../types.ts'
import { isTransientPgError, PgDatabase, pgTransaction, type PostgresConnectionOptions } from './driver.ts'
import { PgTableWriter } from './writer.ts'

/**
 * The fraud tables in PostgreSQL. A batch is two statements in one transaction, each taking its
 * rows as one array per column through `unnest` with ON CONFLICT DO NOTHING on transaction_id.
 */
export class PostgresFraudStore implements FraudStore {
  readonly dialect = SqlDialects.POSTGRES
  readonly name: string
  readonly #db: PgDatabase
  readonly #transactions = new PgTableWriter(transactionsTable, transactionsTable.name)
  readonly #predictions = new PgTableWriter(fraudPredictionsTable, fraudPredictionsTable.name)

  constructor (options: PostgresConnectionOptions) {
    this.#db = new PgDatabase(options)
    this.name = this.#db.name
  }

  async write (transactions: readonly TransactionRow[], predictions: readonly FraudPredictionRow[]): Promise<FraudWriteResult> {
    const pool = this.#db.pool
    if (transactions.length === 0 && predictions.length === 0) return { transactions: 0, predictions: 0 }
    try {
      return await pgTransaction(pool, async client => ({
        transactions: await this.#transactions.write(client, transactions),
        predictions: await this.#predictions.write(client, predictions)
      }))
    } catch (error) {
      throw databaseError(this.name, `write of ${transactions.length} transactions and ${predictions.length} predictions`, error, isTransientPgError)
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
