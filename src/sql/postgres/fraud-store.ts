import type { Pool } from 'pg'
import type { FraudPredictionRow, TransactionRow } from '../../fraud/rows.ts'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import { databaseError } from '../common.ts'
import { fraudPredictionsTable, transactionsTable } from '../tables/fraud.ts'
import { SqlDialects, type FraudStore, type FraudWriteResult } from '../types.ts'
import { createPgPool, isTransientPgError, pgTransaction, postgresName, type PostgresConnectionOptions } from './driver.ts'
import { PgTableWriter } from './writer.ts'

/**
 * The fraud tables in PostgreSQL. A batch is two statements in one transaction, each taking its
 * rows as one array per column through `unnest` with ON CONFLICT DO NOTHING on transaction_id.
 */
export class PostgresFraudStore implements FraudStore {
  readonly dialect = SqlDialects.POSTGRES
  readonly name: string
  readonly #pool: Pool
  readonly #transactions = new PgTableWriter(transactionsTable, transactionsTable.name)
  readonly #predictions = new PgTableWriter(fraudPredictionsTable, fraudPredictionsTable.name)
  #closed = false

  constructor (options: PostgresConnectionOptions) {
    this.name = postgresName(options)
    this.#pool = createPgPool(options)
  }

  async write (transactions: readonly TransactionRow[], predictions: readonly FraudPredictionRow[]): Promise<FraudWriteResult> {
    if (this.#closed) throw new ChurnflowError(ErrorCodes.DATABASE_FAILED, `${this.name}: the store is closed`)
    if (transactions.length === 0 && predictions.length === 0) return { transactions: 0, predictions: 0 }
    try {
      return await pgTransaction(this.#pool, async client => ({
        transactions: await this.#transactions.write(client, transactions),
        predictions: await this.#predictions.write(client, predictions)
      }))
    } catch (error) {
      throw databaseError(this.name, `write of ${transactions.length} transactions and ${predictions.length} predictions`, error, isTransientPgError)
    }
  }

  async ping (): Promise<void> {
    try {
      await this.#pool.query('SELECT 1')
    } catch (error) {
      throw databaseError(this.name, 'ping', error, isTransientPgError)
    }
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#pool.end().catch(() => undefined)
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }
}
