import type { Pool } from 'mysql2/promise'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import { databaseError, validTable } from '../common.ts'
import { churnPredictionsTable } from '../tables/churn-predictions.ts'
import { SqlDialects, TableStates, type PredictionRow, type PredictionStore, type TableState } from '../types.ts'
import { createMysqlPool, hasErrno, isTransientMysqlError, MysqlErrnos, mysqlName, type MysqlConnectionOptions } from './driver.ts'
import { mysqlCreateDatabase, mysqlEnsureTable } from './ddl.ts'
import { mysqlTableState } from './introspection.ts'
import { MysqlTableWriter } from './writer.ts'

export interface MysqlStoreOptions extends MysqlConnectionOptions {
  /** `churn_predictions` when not given. */
  readonly table?: string
  /** Most rows in one INSERT statement (5000); larger batches are split. */
  readonly maxRowsPerStatement?: number
}

/**
 * Predictions in MySQL or MariaDB, in the churn prediction consumer's `churn_predictions` table
 * plus the kafka_topic column and the unique key on the Kafka coordinates.
 */
export class MysqlPredictionStore implements PredictionStore {
  readonly dialect = SqlDialects.MYSQL
  readonly name: string
  readonly table: string
  readonly #options: MysqlStoreOptions
  readonly #pool: Pool
  readonly #writer: MysqlTableWriter<PredictionRow>
  readonly #timeoutMs: number
  #closed = false

  constructor (options: MysqlStoreOptions) {
    this.#options = options
    this.table = validTable(options.table ?? churnPredictionsTable.name)
    this.name = mysqlName(options)
    this.#timeoutMs = options.queryTimeoutMs ?? 30_000
    this.#pool = createMysqlPool(options)
    this.#writer = new MysqlTableWriter(this.#pool, churnPredictionsTable, this.table, {
      queryTimeoutMs: this.#timeoutMs,
      name: this.name,
      ...(options.maxRowsPerStatement === undefined ? {} : { maxRowsPerStatement: options.maxRowsPerStatement }),
      ...(options.log === undefined ? {} : { log: options.log })
    })
  }

  /** Whether large batches go in by LOAD DATA LOCAL (until the server refuses it once) rather than INSERT. */
  get loadsData (): boolean {
    return this.#writer.loadsData
  }

  #assertOpen (): void {
    if (this.#closed) throw new ChurnflowError(ErrorCodes.DATABASE_FAILED, `${this.name}: the store is closed`)
  }

  async ensureTable (): Promise<void> {
    this.#assertOpen()
    await mysqlCreateDatabase(this.#options, this.name)
    try {
      await mysqlEnsureTable(this.#pool, churnPredictionsTable, this.table, this.#timeoutMs, this.#options.log, this.name)
    } catch (error) {
      throw databaseError(this.name, `creating table ${this.table}`, error, isTransientMysqlError)
    }
  }

  async tableState (): Promise<TableState> {
    this.#assertOpen()
    try {
      return await mysqlTableState(this.#pool, churnPredictionsTable, this.table, this.#timeoutMs)
    } catch (error) {
      if (hasErrno(error, MysqlErrnos.ER_BAD_DB_ERROR)) return TableStates.MISSING
      throw databaseError(this.name, `looking at table ${this.table}`, error, isTransientMysqlError)
    }
  }

  async insert (rows: readonly PredictionRow[]): Promise<number> {
    this.#assertOpen()
    try {
      return await this.#writer.write(rows)
    } catch (error) {
      throw databaseError(this.name, `insert of ${rows.length} rows into ${this.table}`, error, isTransientMysqlError)
    }
  }

  async ping (): Promise<void> {
    this.#assertOpen()
    try {
      await this.#pool.query({ sql: 'SELECT 1', timeout: this.#options.connectTimeoutMs ?? 5000 })
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
