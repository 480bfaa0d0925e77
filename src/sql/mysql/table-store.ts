import { databaseError, validTable } from '../common.ts'
import { churnPredictionsTable } from '../tables/churn-predictions.ts'
import type { IndexSpec, TableSpec } from '../spec.ts'
import { SqlDialects, TableStates, type PredictionRow, type PredictionStore, type TableState, type TableStore } from '../types.ts'
import { hasErrno, isTransientMysqlError, MysqlDatabase, MysqlErrnos, type MysqlConnectionOptions } from './driver.ts'
import { mysqlCreateDatabase, mysqlEnsureTable } from './ddl.ts'
import { mysqlHas, mysqlMissingIndexes, mysqlTableState } from './introspection.ts'
import { MysqlTableWriter } from './writer.ts'

export interface MysqlStoreOptions extends MysqlConnectionOptions {
  /** The spec's own name when not given. */
  readonly table?: string
  /** Most rows in one INSERT statement (5000); larger batches are split. */
  readonly maxRowsPerStatement?: number
}

/**
 * A spec's table in MySQL or MariaDB: created (or an existing one adopted) by `ensureTable()`,
 * written by LOAD DATA LOCAL or INSERT, a replayed row skipped on the spec's unique key.
 */
export class MysqlTableStore<Row> implements TableStore<Row>, AsyncDisposable {
  readonly dialect = SqlDialects.MYSQL
  readonly name: string
  readonly table: string
  readonly #spec: TableSpec<Row>
  readonly #db: MysqlDatabase
  readonly #writer: MysqlTableWriter<Row>
  readonly #timeoutMs: number

  constructor (spec: TableSpec<Row>, options: MysqlStoreOptions) {
    this.#spec = spec
    this.table = validTable(options.table ?? spec.name)
    this.#db = new MysqlDatabase(options)
    this.name = this.#db.name
    this.#timeoutMs = options.queryTimeoutMs ?? 30_000
    this.#writer = new MysqlTableWriter(this.#db.pool, spec, this.table, {
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

  async ensureTable (): Promise<void> {
    const pool = this.#db.pool
    await mysqlCreateDatabase(this.#db.options, this.name)
    try {
      await mysqlEnsureTable(pool, this.#spec, this.table, this.#timeoutMs, this.#db.options.log, this.name)
    } catch (error) {
      throw databaseError(this.name, `creating table ${this.table}`, error, isTransientMysqlError)
    }
  }

  async tableState (): Promise<TableState> {
    const pool = this.#db.pool
    try {
      return await mysqlTableState(pool, this.#spec, this.table, this.#timeoutMs)
    } catch (error) {
      if (hasErrno(error, MysqlErrnos.ER_BAD_DB_ERROR)) return TableStates.MISSING
      throw databaseError(this.name, `looking at table ${this.table}`, error, isTransientMysqlError)
    }
  }

  async missingIndexes (): Promise<IndexSpec[]> {
    const pool = this.#db.pool
    try {
      if (!await mysqlHas(pool, this.table, 'TABLES', 'TABLE_NAME', this.table, this.#timeoutMs)) return []
      return await mysqlMissingIndexes(pool, this.#spec, this.table, this.#timeoutMs)
    } catch (error) {
      if (hasErrno(error, MysqlErrnos.ER_BAD_DB_ERROR)) return []
      throw databaseError(this.name, `looking at table ${this.table}`, error, isTransientMysqlError)
    }
  }

  async insert (rows: readonly Row[]): Promise<number> {
    this.#db.assertOpen()
    try {
      return await this.#writer.write(rows)
    } catch (error) {
      throw databaseError(this.name, `insert of ${rows.length} rows into ${this.table}`, error, isTransientMysqlError)
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

/** The churn predictions in MySQL or MariaDB: the `churn_predictions` spec's table store. */
export class MysqlPredictionStore extends MysqlTableStore<PredictionRow> implements PredictionStore {
  constructor (options: MysqlStoreOptions) {
    super(churnPredictionsTable, options)
  }
}
