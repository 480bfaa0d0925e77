import type { FraudPredictionRow, TransactionRow } from '../../fraud/rows.ts'
import { databaseError } from '../common.ts'
import { fraudPredictionsTable, transactionsTable } from '../tables/fraud.ts'
import { SqlDialects, type FraudStore, type FraudWriteResult } from '../types.ts'
import { isTransientMysqlError, MysqlDatabase, type MysqlConnectionOptions } from './driver.ts'
import { MysqlTableWriter } from './writer.ts'

/**
 * The fraud tables in MySQL or MariaDB: a batch goes in on one connection in one transaction,
 * by LOAD DATA LOCAL (or INSERT where the server refuses it); a transaction_id already stored
 * is skipped.
 */
export class MysqlFraudStore implements FraudStore {
  readonly dialect = SqlDialects.MYSQL
  readonly name: string
  readonly #db: MysqlDatabase
  readonly #transactions: MysqlTableWriter<TransactionRow>
  readonly #predictions: MysqlTableWriter<FraudPredictionRow>

  constructor (options: MysqlConnectionOptions) {
    this.#db = new MysqlDatabase(options)
    this.name = this.#db.name
    const common = { name: this.name, ...(options.queryTimeoutMs === undefined ? {} : { queryTimeoutMs: options.queryTimeoutMs }), ...(options.log === undefined ? {} : { log: options.log }) }
    this.#transactions = new MysqlTableWriter(this.#db.pool, transactionsTable, transactionsTable.name, common)
    this.#predictions = new MysqlTableWriter(this.#db.pool, fraudPredictionsTable, fraudPredictionsTable.name, common)
  }

  async write (transactions: readonly TransactionRow[], predictions: readonly FraudPredictionRow[]): Promise<FraudWriteResult> {
    const pool = this.#db.pool
    if (transactions.length === 0 && predictions.length === 0) return { transactions: 0, predictions: 0 }
    let connection
    let broken = false
    try {
      connection = await pool.getConnection()
      await connection.beginTransaction()
      try {
        const result = {
          transactions: await this.#transactions.writeOn(connection, transactions),
          predictions: await this.#predictions.writeOn(connection, predictions)
        }
        await connection.commit()
        return result
      } catch (error) {
        await connection.rollback().catch(() => { broken = true })
        throw error
      }
    } catch (error) {
      throw databaseError(this.name, `write of ${transactions.length} transactions and ${predictions.length} predictions`, error, isTransientMysqlError)
    } finally {
      // A connection whose rollback failed is in no known state: it is closed, not reused.
      if (broken) connection?.destroy()
      else connection?.release()
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
