import type { Pool } from 'pg'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import { databaseError, validTable } from '../common.ts'
import { churnPredictionsTable } from '../tables/churn-predictions.ts'
import type { TableSpec } from '../spec.ts'
import { SqlDialects, type PredictionRow, type PredictionStore, type TableState, type TableStore } from '../types.ts'
import { pgEnsureTable } from './ddl.ts'
import { createPgPool, isTransientPgError, postgresName, type PostgresConnectionOptions } from './driver.ts'
import { pgTableState } from './introspection.ts'
import { PgTableWriter } from './writer.ts'

export interface PostgresStoreOptions extends PostgresConnectionOptions {
  /** The spec's own name when not given. */
  readonly table?: string
}

/**
 * A spec's table in PostgreSQL: created (or an existing one adopted) by `ensureTable()`; a batch
 * of any size is one `INSERT ... SELECT unnest(...) ON CONFLICT DO NOTHING` on the spec's unique key.
 */
export class PostgresTableStore<Row> implements TableStore<Row> {
  readonly dialect = SqlDialects.POSTGRES
  readonly name: string
  readonly table: string
  readonly #spec: TableSpec<Row>
  readonly #options: PostgresStoreOptions
  readonly #pool: Pool
  readonly #writer: PgTableWriter<Row>
  #closed = false

  constructor (spec: TableSpec<Row>, options: PostgresStoreOptions) {
    this.#spec = spec
    this.table = validTable(options.table ?? spec.name)
    if (this.table.length > 63) {
      throw new ChurnflowError(ErrorCodes.CONFIG_INVALID, `invalid PostgreSQL table name ${this.table}: longer than 63 characters`)
    }
    this.#options = options
    this.name = postgresName(options)
    this.#pool = createPgPool(options)
    this.#writer = new PgTableWriter(this.#spec, this.table)
  }

  #assertOpen (): void {
    if (this.#closed) throw new ChurnflowError(ErrorCodes.DATABASE_FAILED, `${this.name}: the store is closed`)
  }

  async ensureTable (): Promise<void> {
    this.#assertOpen()
    try {
      await pgEnsureTable(this.#pool, this.#spec, this.table, this.#options.log, this.name)
    } catch (error) {
      throw databaseError(this.name, `creating table ${this.table}`, error, isTransientPgError)
    }
  }

  async tableState (): Promise<TableState> {
    this.#assertOpen()
    try {
      return await pgTableState(this.#pool, this.#spec, this.table)
    } catch (error) {
      throw databaseError(this.name, `looking at table ${this.table}`, error, isTransientPgError)
    }
  }

  async insert (rows: readonly Row[]): Promise<number> {
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

/** The churn predictions in PostgreSQL: the `churn_predictions` spec's table store. */
export class PostgresPredictionStore extends PostgresTableStore<PredictionRow> implements PredictionStore {
  constructor (options: PostgresStoreOptions) {
    super(churnPredictionsTable, options)
  }
}
