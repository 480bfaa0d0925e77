import type { Pool, PoolClient } from 'pg'
import { sqlTimestamp } from '../common.ts'
import { ColumnTypes, type ColumnType, type SqlValue, type TableSpec } from '../spec.ts'
import { quoteId } from './driver.ts'

/** The array type each column travels as (JSON as text, cast on the way out). */
const arrayTypes = {
  [ColumnTypes.TEXT]: 'varchar[]',
  [ColumnTypes.INTEGER]: 'int[]',
  [ColumnTypes.BIGINT]: 'bigint[]',
  [ColumnTypes.REAL]: 'real[]',
  [ColumnTypes.DOUBLE]: 'float8[]',
  [ColumnTypes.TIMESTAMP]: 'timestamp[]',
  [ColumnTypes.INSTANT]: 'timestamptz[]',
  [ColumnTypes.JSON]: 'text[]'
} as const

/** A value as the array element pg sends: timestamps as UTC text, bigints as decimal text. */
function element (value: SqlValue, type: ColumnType): string | number | null {
  if (value === null) return null
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'number' && type === ColumnTypes.TIMESTAMP) return sqlTimestamp(value)
  if (typeof value === 'number' && type === ColumnTypes.INSTANT) return `${sqlTimestamp(value)}+00`
  return value
}

/**
 * Writes a spec's rows into a PostgreSQL table in one statement whatever the batch's size: the
 * rows travel as one array per column and come back out of `unnest`, and a row whose unique key
 * is there already is skipped (ON CONFLICT DO NOTHING), so a replayed batch inserts nothing twice.
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
    const arrays = spec.columns.map((c, i) => `$${first + i}::${arrayTypes[c.type]}`)
    return `INSERT INTO ${quoteId(this.#table)} (${names.join(', ')})
      SELECT ${outputs.join(', ')}
      FROM unnest(${arrays.join(', ')}) AS r(${names.map((_, i) => `c${i}`).join(', ')})
      ON CONFLICT (${spec.unique.columns.join(', ')}) DO NOTHING`
  }

  /** The rows as one array per column, in the spec's column order: the parameters of `insert`. */
  arrays (rows: readonly Row[]): (string | number | null)[][] {
    const columns: (string | number | null)[][] = this.#types.map(() => [])
    for (const row of rows) {
      const values = this.#spec.values(row)
      for (let i = 0; i < columns.length; i++) (columns[i] as (string | number | null)[]).push(element(values[i] ?? null, this.#types[i] as ColumnType))
    }
    return columns
  }

  /** The statement and its column arrays. */
  statement (rows: readonly Row[]): { text: string, values: (string | number | null)[][] } {
    return { text: this.#sql, values: this.arrays(rows) }
  }

  /** Inserts the rows on the pool or on a client holding a transaction; resolves to how many were new. */
  async write (on: Pool | PoolClient, rows: readonly Row[]): Promise<number> {
    if (rows.length === 0) return 0
    const { text, values } = this.statement(rows)
    const result = await on.query(text, values)
    return result.rowCount ?? 0
  }
}
