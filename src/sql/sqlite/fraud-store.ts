import type { FraudPredictionRow, TransactionRow } from '../../fraud/rows.ts'
import { databaseError } from '../common.ts'
import { fraudPredictionsTable, transactionsTable } from '../tables/fraud.ts'
import { SqlDialects, type FraudStore, type FraudWriteResult } from '../types.ts'
import { isTransientSqliteError, SqliteFile, sqliteTransaction, type SqliteConnectionOptions } from './driver.ts'
import { SqliteTableWriter } from './writer.ts'

/** The fraud tables in a local SQLite file: a batch is one write transaction. */
export class SqliteFraudStore implements FraudStore {
  readonly dialect = SqlDialects.SQLITE
  readonly name: string
  readonly #transactions = new SqliteTableWriter(transactionsTable, transactionsTable.name)
  readonly #predictions = new SqliteTableWriter(fraudPredictionsTable, fraudPredictionsTable.name)
  readonly #file: SqliteFile

  constructor (options: SqliteConnectionOptions) {
    // SQLite checks that a prediction's transaction_id is in transactions only when asked to.
    this.#file = new SqliteFile(options, db => { db.exec('PRAGMA foreign_keys = ON') })
    this.name = this.#file.name
  }

  async write (transactions: readonly TransactionRow[], predictions: readonly FraudPredictionRow[]): Promise<FraudWriteResult> {
    if (transactions.length === 0 && predictions.length === 0) return { transactions: 0, predictions: 0 }
    try {
      const db = this.#file.open()
      return sqliteTransaction(db, () => ({
        transactions: this.#transactions.writeIn(db, transactions),
        predictions: this.#predictions.writeIn(db, predictions)
      }))
    } catch (error) {
      throw databaseError(this.name, `write of ${transactions.length} transactions and ${predictions.length} predictions`, error, isTransientSqliteError)
    }
  }

  async ping (): Promise<void> {
    await this.#file.ping()
  }

  async close (): Promise<void> {
    await this.#file.close()
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }
}
