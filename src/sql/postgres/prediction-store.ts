import type { Pool } from 'pg'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import { databaseError, validTable } from '../common.ts'
import { churnPredictionsTable } from '../tables/churn-predictions.ts'
import { SqlDialects, type PredictionRow, type PredictionStore, type TableState } from '../types.ts'
import { pgEnsureTable } from './ddl.ts'
import { createPgPool, isTransientPgError, postgresName, type PostgresConnectionOptions } from './driver.ts'
import { pgTableState } from './introspection.ts'
import { PgTableWriter } from './writer.ts'

export interface PostgresStoreOptions extends PostgresConnectionOptions {
  /** `churn_predictions` when not given. */
  readonly table?: string
}

/**
 * Predictions in PostgreSQL, in the same columns as the churn prediction consumer's table (in
 * PostgreSQL's types) with a unique constraint on the Kafka coordinates. A batch of any size is
 * one statement.
 */
export class PostgresPredictionStore implements PredictionStore {
  readonly dialect = SqlDialects.POSTGRES
  readonly name: string
  readonly table: string
  readonly #options: PostgresStoreOptions
  readonly #pool: Pool
  readonly #writer: PgTableWriter<PredictionRow>
  #closed = false

  constructor (options: PostgresStoreOptions) {
    this.table = validTable(options.table ?? churnPredictionsTable.name)
    if (this.table.length > 63) {
      throw new ChurnflowError(ErrorCodes.CONFIG_INVALID, `invalid PostgreSQL table name ${this.table}: longer than 63 characters`)
    }
    this.#options = options
    this.name = postgresName(options)
    this.#pool = createPgPool(options)
    this.#writer = new PgTableWriter(churnPredictionsTable, this.table)
  }

  #assertOpen (): void {
    if (this.#closed) throw new ChurnflowError(ErrorCodes.DATABASE_FAILED, `${this.name}: the store is closed`)
  }

  async ensureTable (): Promise<void> {
    this.#assertOpen()
    try {
      await pgEnsureTable(this.#pool, churnPredictionsTable, this.table, this.#options.log, this.name)
    } catch (error) {
      throw databaseError(this.name, `creating table ${this.table}`, error, isTransientPgError)
    }
  }

  async tableState (): Promise<TableState> {
    this.#assertOpen()
    try {
      return await pgTableState(this.#pool, churnPredictionsTable, this.table)
    } catch (error) {
      throw databaseError(this.name, `looking at table ${this.table}`, error, isTransientPgError)
    }
  }

  async insert (rows: readonly PredictionRow[]): Promise<number> {
    this.#assertOpen()
    try {
      return await this.#writer.write(this.#pool, rows)
    } catch (error) {
      throw databaseError(this.name, `insert of ${rows.length} rows into ${this.table}`, error, isTransientPgError)
    }
  }

  async ping (): Promise<void> {
    this.#assertOpen()
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
