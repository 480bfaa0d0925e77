import type { DatabaseSync } from 'node:sqlite'
import type { FraudPredictionRow, TransactionRow } from '../../fraud/rows.ts'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import { databaseError } from '../common.ts'
import { fraudPredictionsTable, transactionsTable } from '../tables/fraud.ts'
import { SqlDialects, type FraudStore, type FraudWriteResult } from '../types.ts'
import { isTransientSqliteError, openSqlite, sqliteTransaction, type SqliteConnectionOptions } from './driver.ts'
import { SqliteTableWriter } from './writer.ts'

/** The fraud tables in a local SQLite file: a batch is one write transaction. */
export class SqliteFraudStore implements FraudStore {
  readonly dialect = SqlDialects.SQLITE
  readonly name: string
  readonly #options: SqliteConnectionOptions
  readonly #transactions = new SqliteTableWriter(transactionsTable, transactionsTable.name)
  readonly #predictions = new SqliteTableWriter(fraudPredictionsTable, fraudPredictionsTable.name)
  #db: DatabaseSync | undefined
  #closed = false

  constructor (options: SqliteConnectionOptions) {
    this.#options = options
    this.name = `sqlite ${options.path}`
  }

  #open (): DatabaseSync {
    if (this.#closed) throw new ChurnflowError(ErrorCodes.DATABASE_FAILED, `${this.name}: the store is closed`)
    if (this.#db === undefined) {
      const db = openSqlite(this.#options)
      // SQLite checks that a prediction's transaction_id is in transactions only when asked to.
      db.exec('PRAGMA foreign_keys = ON')
      this.#db = db
    }
    return this.#db
  }

  async write (transactions: readonly TransactionRow[], predictions: readonly FraudPredictionRow[]): Promise<FraudWriteResult> {
    if (transactions.length === 0 && predictions.length === 0) return { transactions: 0, predictions: 0 }
    try {
      const db = this.#open()
      return sqliteTransaction(db, () => ({
        transactions: this.#transactions.writeIn(db, transactions),
        predictions: this.#predictions.writeIn(db, predictions)
      }))
    } catch (error) {
      throw databaseError(this.name, `write of ${transactions.length} transactions and ${predictions.length} predictions`, error, isTransientSqliteError)
    }
  }

  async ping (): Promise<void> {
    try {
      this.#open().prepare('SELECT 1').get()
    } catch (error) {
      throw databaseError(this.name, 'ping', error, isTransientSqliteError)
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    const db = this.#db
    this.#db = undefined
    if (db?.isOpen === true) db.close()
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }
}
