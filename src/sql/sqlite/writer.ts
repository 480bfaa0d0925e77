import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { sqlTimestamp } from '../common.ts'
import { ColumnTypes, type TableSpec } from '../spec.ts'
import { quoteId, sqliteTransaction } from './driver.ts'

/**
 * Writes a spec's rows into a SQLite table with one prepared statement. ON CONFLICT on the unique
 * key, not INSERT OR IGNORE: OR IGNORE would also drop rows that break NOT NULL, hiding a bug as
 * "already stored".
 */
export class SqliteTableWriter<Row> {
  readonly #spec: TableSpec<Row>
  readonly #timestamps: readonly boolean[]
  readonly #sql: string
  #statement: StatementSync | undefined
  #db: DatabaseSync | undefined

  constructor (spec: TableSpec<Row>, table: string) {
    this.#spec = spec
    this.#timestamps = spec.columns.map(c => c.type === ColumnTypes.TIMESTAMP || c.type === ColumnTypes.INSTANT)
    this.#sql = `INSERT INTO ${quoteId(table)} (${spec.columns.map(c => c.name).join(', ')})
      VALUES (${spec.columns.map(() => '?').join(', ')})
      ON CONFLICT (${spec.unique.columns.join(', ')}) DO NOTHING`
  }

  /** Inserts the rows inside the transaction the caller holds; resolves to how many were new. */
  writeIn (db: DatabaseSync, rows: readonly Row[]): number {
    if (this.#db !== db) {
      this.#statement = db.prepare(this.#sql)
      this.#db = db
    }
    const statement = this.#statement as StatementSync
    let inserted = 0
    for (const row of rows) {
      const values = this.#spec.values(row).map((v, i) => this.#timestamps[i] === true && typeof v === 'number' ? sqlTimestamp(v) : v)
      inserted += Number(statement.run(...values).changes)
    }
    return inserted
  }

  /** Inserts the rows in one write transaction. */
  write (db: DatabaseSync, rows: readonly Row[]): number {
    if (rows.length === 0) return 0
    return sqliteTransaction(db, () => this.writeIn(db, rows))
  }
}

