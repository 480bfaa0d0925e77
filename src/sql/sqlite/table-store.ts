import { existsSync } from 'node:fs'
import type { DatabaseSync } from 'node:sqlite'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import type { Logger } from '../../logging/index.ts'
import { databaseError, validTable } from '../common.ts'
import { churnPredictionsTable } from '../tables/churn-predictions.ts'
import type { TableSpec } from '../spec.ts'
import { SqlDialects, TableStates, type PredictionRow, type PredictionStore, type TableState, type TableStore } from '../types.ts'
import { sqliteEnsureTable } from './ddl.ts'
import { isTransientSqliteError, openSqlite, type SqliteConnectionOptions } from './driver.ts'
import { sqliteTableState } from './introspection.ts'
import { SqliteTableWriter } from './writer.ts'

export interface SqliteStoreOptions extends SqliteConnectionOptions {
  /** The spec's own name when not given. */
  readonly table?: string
  readonly log?: Logger
}

/**
 * A spec's table in a local SQLite file (WAL, so readers never wait for the writer): timestamps
 * as `YYYY-MM-DD HH:MM:SS.mmm` UTC text, JSON as text, a unique index on the spec's key.
 */
export class SqliteTableStore<Row> implements TableStore<Row> {
  readonly dialect = SqlDialects.SQLITE
  readonly name: string
  readonly table: string
  readonly #spec: TableSpec<Row>
  readonly #options: SqliteStoreOptions
  readonly #writer: SqliteTableWriter<Row>
  #db: DatabaseSync | undefined
  #closed = false

  constructor (spec: TableSpec<Row>, options: SqliteStoreOptions) {
    this.#spec = spec
    this.table = validTable(options.table ?? spec.name)
    this.#options = options
    this.name = `sqlite ${options.path}`
    this.#writer = new SqliteTableWriter(this.#spec, this.table)
  }

  /** Opened on first use, so constructing a store never touches the disk and every failure is a rejection. */
  #open (): DatabaseSync {
    if (this.#closed) throw new ChurnflowError(ErrorCodes.DATABASE_FAILED, `${this.name}: the store is closed`)
    this.#db ??= openSqlite(this.#options)
    return this.#db
  }

  async ensureTable (): Promise<void> {
    try {
      sqliteEnsureTable(this.#open(), this.#spec, this.table, this.#options.log, this.name)
    } catch (error) {
      throw databaseError(this.name, `creating table ${this.table}`, error, isTransientSqliteError)
    }
  }

  async tableState (): Promise<TableState> {
    try {
      // Looking must not leave an empty database file behind.
      if (this.#db === undefined && this.#options.path !== ':memory:' && !existsSync(this.#options.path)) return TableStates.MISSING
      return sqliteTableState(this.#open(), this.#spec, this.table)
    } catch (error) {
      throw databaseError(this.name, `looking at table ${this.table}`, error, isTransientSqliteError)
    }
  }

  async insert (rows: readonly Row[]): Promise<number> {
    if (rows.length === 0) return 0
    try {
      return this.#writer.write(this.#open(), rows)
    } catch (error) {
      throw databaseError(this.name, `insert of ${rows.length} rows into ${this.table}`, error, isTransientSqliteError)
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

/** The churn predictions in SQLite: the `churn_predictions` spec's table store. */
export class SqlitePredictionStore extends SqliteTableStore<PredictionRow> implements PredictionStore {
  constructor (options: SqliteStoreOptions) {
    super(churnPredictionsTable, options)
  }
}
