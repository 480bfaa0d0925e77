/**
 * A table written once: its columns with a logical type, the unique key that makes writes
 * idempotent, its indexes, and how a row of its TypeScript row type maps to column values. Each
 * dialect turns a spec into its own DDL (`<dialect>/ddl.ts`), looks for it in the database
 * (`<dialect>/introspection.ts`) and writes rows into it (`<dialect>/writer.ts`), so adding a
 * table means writing a spec, not editing every backend.
 */

/** What a column holds, independent of any dialect's spelling of it. */
export const ColumnTypes = {
  /** Text up to `length` characters: VARCHAR(n), or TEXT in SQLite. */
  TEXT: 'text',
  /** 32-bit integer. */
  INTEGER: 'integer',
  /** 64-bit integer, handed to the writer as a bigint. */
  BIGINT: 'bigint',
  /** Single precision float (FLOAT in MySQL, REAL in PostgreSQL). */
  REAL: 'real',
  /** Double precision float. */
  DOUBLE: 'double',
  /** A UTC instant with no zone stored, handed to the writer as epoch ms: DATETIME, TIMESTAMP, or text in SQLite. */
  TIMESTAMP: 'timestamp',
  /**
   * A UTC instant, handed to the writer as epoch ms, in PostgreSQL's TIMESTAMPTZ (so `NOW()`
   * compares with it in any session time zone), DATETIME(3) in MySQL, text in SQLite.
   */
  INSTANT: 'instant',
  /** JSON, handed to the writer as JSON text: JSON, JSONB, or text in SQLite. */
  JSON: 'json'
} as const
export type ColumnType = (typeof ColumnTypes)[keyof typeof ColumnTypes]

/** A column the writer fills. */
export interface ColumnSpec {
  readonly name: string
  readonly type: ColumnType
  /** For TEXT: most characters (ignored by SQLite). */
  readonly length?: number
  /** NOT NULL unless true. */
  readonly nullable?: boolean
  /** Filled with the current time when a row leaves it out (a TIMESTAMP column). */
  readonly defaultNow?: boolean
  /**
   * Added to an existing table that lacks it when the table is adopted: a column the original
   * table did not have and idempotency needs. Such a column must be nullable.
   */
  readonly addOnAdopt?: boolean
}

export interface IndexSpec {
  /** Unique per table; dialects whose index names are per schema prefix it with the table. */
  readonly name: string
  readonly columns: readonly string[]
}

/** One value per written column, in the spec's column order. */
export type SqlValue = string | number | bigint | null

/**
 * A table and its row type. `columns` are the columns the writer fills, in the order `values`
 * returns them; `identity` names an auto-increment primary key the database fills.
 */
export interface TableSpec<Row> {
  /** The default table name (a store may be given another). */
  readonly name: string
  readonly identity?: string
  readonly columns: readonly ColumnSpec[]
  /** The unique key a replayed row collides on, so it is skipped rather than stored twice. */
  readonly unique: IndexSpec
  readonly indexes: readonly IndexSpec[]
  readonly values: (row: Row) => readonly SqlValue[]
}

/** The spec's columns by name, for DDL that must find one. */
export function columnNamed<Row> (spec: TableSpec<Row>, name: string): ColumnSpec {
  const column = spec.columns.find(c => c.name === name)
  if (column === undefined) throw new Error(`table spec ${spec.name} has no column ${name}`)
  return column
}
