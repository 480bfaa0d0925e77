import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import { databaseError, validTable } from '../common.ts'
import { churnPredictionsTable } from '../tables/churn-predictions.ts'
import type { IndexSpec, TableSpec } from '../spec.ts'
import { SqlDialects, type PredictionRow, type PredictionStore, type TableState, type TableStore } from '../types.ts'
import { pgEnsureTable } from './ddl.ts'
import { isTransientPgError, PgDatabase, type PostgresConnectionOptions } from './driver.ts'
import { pgHasTable, pgMissingIndexes, pgTableState } from './introspection.ts'
import { PgTableWriter } from './writer.ts'

export interface PostgresStoreOptions extends PostgresConnectionOptions {
  /** The spec's own name when not given. */
  readonly table?: string
}

/**
 * A spec's table in PostgreSQL: created (or an existing one adopted) by `ensureTable()`; a batch
 * of any size is one `INSERT ... SELECT unnest(...) ON CONFLICT DO NOTHING` on the spec's unique key.
 */
export class PostgresTableStore<Row> implements TableStore<Row>, AsyncDisposable {
  readonly dialect = SqlDialects.POSTGRES
  readonly name: string
  readonly table: string
  readonly #spec: TableSpec<Row>
  readonly #log: PostgresConnectionOptions['log']
  readonly #db: PgDatabase
  readonly #writer: PgTableWriter<Row>

  constructor (spec: TableSpec<Row>, options: PostgresStoreOptions) {
    this.table = validTable(options.table ?? spec.name)
    if (this.table.length > 63) {
      throw new ChurnflowError(ErrorCodes.CONFIG_INVALID, `invalid PostgreSQL table name ${this.table}: longer than 63 characters`)
    }
    this.#spec = spec
    this.#log = options.log
    this.#db = new PgDatabase(options)
    this.name = this.#db.name
    this.#writer = new PgTableWriter(spec, this.table)
  }

  async ensureTable (): Promise<void> {
    const pool = this.#db.pool
    try {
      await pgEnsureTable(pool, this.#spec, this.table, this.#log, this.name)
    } catch (error) {
      throw databaseError(this.name, `creating table ${this.table}`, error, isTransientPgError)
    }
  }

  async tableState (): Promise<TableState> {
    const pool = this.#db.pool
    try {
      return await pgTableState(pool, this.#spec, this.table)
    } catch (error) {
      throw databaseError(this.name, `looking at table ${this.table}`, error, isTransientPgError)
    }
  }

  async missingIndexes (): Promise<IndexSpec[]> {
    const pool = this.#db.pool
    try {
      return await pgHasTable(pool, this.table) ? await pgMissingIndexes(pool, this.#spec, this.table) : []
    } catch (error) {
      throw databaseError(this.name, `looking at table ${this.table}`, error, isTransientPgError)
    }
  }

  async insert (rows: readonly Row[]): Promise<number> {
    const pool = this.#db.pool
    try {
      return await this.#writer.write(pool, rows)
    } catch (error) {
      throw databaseError(this.name, `insert of ${rows.length} rows into ${this.table}`, error, isTransientPgError)
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

/** The churn predictions in PostgreSQL: the `churn_predictions` spec's table store. */
export class PostgresPredictionStore extends PostgresTableStore<PredictionRow> implements PredictionStore {
  constructor (options: PostgresStoreOptions) {
    super(churnPredictionsTable, options)
  }
}
