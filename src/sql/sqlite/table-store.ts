import type { Logger } from '../../logging/index.ts'
import { databaseError, validTable } from '../common.ts'
import { churnPredictionsTable } from '../tables/churn-predictions.ts'
import type { IndexSpec, TableSpec } from '../spec.ts'
import { SqlDialects, TableStates, type PredictionRow, type PredictionStore, type TableState, type TableStore } from '../types.ts'
import { sqliteEnsureTable } from './ddl.ts'
import { isTransientSqliteError, SqliteFile, type SqliteConnectionOptions } from './driver.ts'
import { sqliteHasTable, sqliteMissingIndexes, sqliteTableState } from './introspection.ts'
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
export class SqliteTableStore<Row> implements TableStore<Row>, AsyncDisposable {
  readonly dialect = SqlDialects.SQLITE
  readonly name: string
  readonly table: string
  readonly #spec: TableSpec<Row>
  readonly #log: Logger | undefined
  readonly #file: SqliteFile
  readonly #writer: SqliteTableWriter<Row>

  constructor (spec: TableSpec<Row>, options: SqliteStoreOptions) {
    this.table = validTable(options.table ?? spec.name)
    this.#spec = spec
    this.#log = options.log
    this.#file = new SqliteFile(options)
    this.name = this.#file.name
    this.#writer = new SqliteTableWriter(spec, this.table)
  }

  async ensureTable (): Promise<void> {
    try {
      sqliteEnsureTable(this.#file.open(), this.#spec, this.table, this.#log, this.name)
    } catch (error) {
      throw databaseError(this.name, `creating table ${this.table}`, error, isTransientSqliteError)
    }
  }

  async tableState (): Promise<TableState> {
    try {
      if (this.#file.absent) return TableStates.MISSING
      return sqliteTableState(this.#file.open(), this.#spec, this.table)
    } catch (error) {
      throw databaseError(this.name, `looking at table ${this.table}`, error, isTransientSqliteError)
    }
  }

  async missingIndexes (): Promise<IndexSpec[]> {
    try {
      if (this.#file.absent) return []
      const db = this.#file.open()
      return sqliteHasTable(db, this.table) ? sqliteMissingIndexes(db, this.#spec, this.table) : []
    } catch (error) {
      throw databaseError(this.name, `looking at table ${this.table}`, error, isTransientSqliteError)
    }
  }

  async insert (rows: readonly Row[]): Promise<number> {
    if (rows.length === 0) return 0
    try {
      return this.#writer.write(this.#file.open(), rows)
    } catch (error) {
      throw databaseError(this.name, `insert of ${rows.length} rows into ${this.table}`, error, isTransientSqliteError)
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

/** The churn predictions in SQLite: the `churn_predictions` spec's table store. */
export class SqlitePredictionStore extends SqliteTableStore<PredictionRow> implements PredictionStore {
  constructor (options: SqliteStoreOptions) {
    super(churnPredictionsTable, options)
  }
}
