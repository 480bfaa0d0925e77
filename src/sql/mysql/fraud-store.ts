import type { Pool } from 'mysql2/promise'
import type { FraudPredictionRow, TransactionRow } from '../../fraud/rows.ts'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import { databaseError } from '../common.ts'
import { fraudPredictionsTable, transactionsTable } from '../tables/fraud.ts'
import { SqlDialects, type FraudStore, type FraudWriteResult } from '../types.ts'
import { createMysqlPool, isTransientMysqlError, mysqlName, type MysqlConnectionOptions } from './driver.ts'
import { MysqlTableWriter } from './writer.ts'

/**
 * The fraud tables in MySQL or MariaDB: a batch goes in on one connection in one transaction,
 * by LOAD DATA LOCAL (or INSERT where the server refuses it); a transaction_id already stored
 * is skipped.
 */
export class MysqlFraudStore implements FraudStore {
  readonly dialect = SqlDialects.MYSQL
  readonly name: string
  readonly #pool: Pool
  readonly #transactions: MysqlTableWriter<TransactionRow>
  readonly #predictions: MysqlTableWriter<FraudPredictionRow>
  #closed = false

  constructor (options: MysqlConnectionOptions) {
    this.name = mysqlName(options)
    this.#pool = createMysqlPool(options)
    const common = { name: this.name, ...(options.queryTimeoutMs === undefined ? {} : { queryTimeoutMs: options.queryTimeoutMs }), ...(options.log === undefined ? {} : { log: options.log }) }
    this.#transactions = new MysqlTableWriter(this.#pool, transactionsTable, transactionsTable.name, common)
    this.#predictions = new MysqlTableWriter(this.#pool, fraudPredictionsTable, fraudPredictionsTable.name, common)
  }

  async write (transactions: readonly TransactionRow[], predictions: readonly FraudPredictionRow[]): Promise<FraudWriteResult> {
    if (this.#closed) throw new ChurnflowError(ErrorCodes.DATABASE_FAILED, `${this.name}: the store is closed`)
    if (transactions.length === 0 && predictions.length === 0) return { transactions: 0, predictions: 0 }
    let connection
    let broken = false
    try {
      connection = await this.#pool.getConnection()
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
    try {
      await this.#pool.query('SELECT 1')
    } catch (error) {
      throw databaseError(this.name, 'ping', error, isTransientMysqlError)
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
