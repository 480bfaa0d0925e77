import type { Pool, PoolClient } from 'pg'
import { ColumnTypes, type ColumnType, type SqlValue, type TableSpec } from '../spec.ts'
import { binaryArray, binaryElementTypes } from './binary.ts'
import { quoteId } from './driver.ts'

/**
 * Writes a spec's rows into a PostgreSQL table in one statement whatever the batch's size: the
 * rows travel as one binary array per column (`binary.ts`) and come back out of `unnest`, and a
 * row whose unique key is there already is skipped (ON CONFLICT DO NOTHING), so a replayed batch
 * inserts nothing twice.
 */
export class PgTableWriter<Row> {
  readonly #spec: TableSpec<Row>
  readonly #types: readonly ColumnType[]
  readonly #table: string
  readonly #sql: string

  constructor (spec: TableSpec<Row>, table: string) {
    this.#spec = spec
    this.#types = spec.columns.map(c => c.type)
    this.#table = table
    this.#sql = this.insert(1)
  }

  /** How many parameters `insert` takes: one array per column. */
  get parameters (): number {
    return this.#types.length
  }

  /** The INSERT ... ON CONFLICT DO NOTHING, its column arrays the parameters from `$first` on. */
  insert (first: number): string {
    const spec = this.#spec
    const names = spec.columns.map(c => c.name)
    const outputs = spec.columns.map((c, i) => c.type === ColumnTypes.JSON ? `c${i}::jsonb` : `c${i}`)
    const arrays = spec.columns.map((c, i) => `$${first + i}::${binaryElementTypes[c.type].name}[]`)
    return `INSERT INTO ${quoteId(this.#table)} (${names.join(', ')})
      SELECT ${outputs.join(', ')}
      FROM unnest(${arrays.join(', ')}) AS r(${names.map((_, i) => `c${i}`).join(', ')})
      ON CONFLICT (${spec.unique.columns.join(', ')}) DO NOTHING`
  }

  /** The rows as one binary array per column, in the spec's column order: the parameters of `insert`. */
  arrays (rows: readonly Row[]): Buffer[] {
    const columns: SqlValue[][] = this.#types.map(() => new Array<SqlValue>(rows.length))
    for (let r = 0; r < rows.length; r++) {
      const values = this.#spec.values(rows[r] as Row)
      for (let i = 0; i < columns.length; i++) (columns[i] as SqlValue[])[r] = values[i] ?? null
    }
    return columns.map((column, i) => binaryArray(column, this.#types[i] as ColumnType))
  }

  /** Inserts the rows on the pool or on a client holding a transaction; resolves to how many were new. */
  async write (on: Pool | PoolClient, rows: readonly Row[]): Promise<number> {
    if (rows.length === 0) return 0
    const result = await on.query(this.#sql, this.arrays(rows))
    return result.rowCount ?? 0
  }
}
