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

/** A column the writer fills, as a table definition declares it (its name is its key there). */
export interface ColumnDef {
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

/** A column with its name, as the dialects read a spec. */
export interface ColumnSpec extends ColumnDef {
  readonly name: string
}

/** What a row hands the writer for each column type. */
interface ValueOfType {
  text: string
  integer: number
  bigint: bigint
  real: number
  double: number
  timestamp: number
  instant: number
  json: string
}

/** The value a column takes: its type's, or null when the column is nullable. */
export type ColumnValue<D extends ColumnDef> = ValueOfType[D['type']] | (D extends { readonly nullable: true } ? null : never)

/** One value per column, typed from the columns' definitions: kysely's column-type idea, written once. */
export type ColumnValues<C extends Readonly<Record<string, ColumnDef>>> = { readonly [K in keyof C]: ColumnValue<C[K]> }

export interface IndexSpec {
  /** Unique per table; dialects whose index names are per schema prefix it with the table. */
  readonly name: string
  readonly columns: readonly string[]
}

/** One value per written column, in the spec's column order. */
export type SqlValue = string | number | bigint | null

/**
 * A table and its row type, as the dialects read it (`defineTable` builds one). `columns` are the
 * columns the writer fills, in the order `values` returns them; `identity` names an
 * auto-increment primary key the database fills.
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

/** A table as it is written: columns keyed by name (in DDL order), and a row's values by column name, type-checked against them. */
export interface TableDefinition<Row, C extends Readonly<Record<string, ColumnDef>>, I extends string = never> {
  readonly name: string
  readonly identity?: I
  readonly columns: C
  readonly unique: { readonly name: string, readonly columns: readonly (keyof C & string)[] }
  /** An index may end with the identity column: `(user_id, id)`, a customer's rows in order. */
  readonly indexes: readonly { readonly name: string, readonly columns: readonly (keyof C & string | I)[] }[]
  readonly values: (row: Row) => ColumnValues<C>
}

/**
 * A table spec from its definition. The compiler checks that `values` gives every column a value
 * of its type (null only where the column is nullable) and no other, and that keys and indexes
 * name real columns: `defineTable<PredictionRow>()({ ... })`.
 */
export function defineTable<Row> (): <const C extends Readonly<Record<string, ColumnDef>>, const I extends string = never>(definition: TableDefinition<Row, C, I>) => TableSpec<Row> {
  return definition => {
    const names = Object.keys(definition.columns)
    return {
      name: definition.name,
      ...(definition.identity === undefined ? {} : { identity: definition.identity }),
      columns: names.map(name => ({ name, ...definition.columns[name] as ColumnDef })),
      unique: definition.unique,
      indexes: definition.indexes,
      values: row => {
        const values = definition.values(row) as Readonly<Record<string, SqlValue>>
        return names.map(name => values[name] ?? null)
      }
    }
  }
}

/** The spec's columns by name, for DDL that must find one. */
export function columnNamed<Row> (spec: TableSpec<Row>, name: string): ColumnSpec {
  const column = spec.columns.find(c => c.name === name)
  if (column === undefined) throw new Error(`table spec ${spec.name} has no column ${name}`)
  return column
}

/**
 * The spec's indexes the table lacks, given the column lists of the indexes it has (its unique
 * key included). An index is in place when some index's columns begin with its own, whatever its
 * name: the original consumer's, a user's, or ours under another name. `implicitKey` is what a
 * dialect appends to every secondary index (InnoDB's primary key, SQLite's rowid), so there
 * `(user_id)` already serves `(user_id, id)`. Also used on a new table, with the spec's earlier
 * indexes as `present`, so it is never given two indexes that serve the same reads.
 */
export function indexesMissing (wanted: readonly IndexSpec[], present: readonly (readonly string[])[], implicitKey: readonly string[] = []): IndexSpec[] {
  const have = present.map(columns => [...columns, ...implicitKey.filter(k => !columns.includes(k))])
  const missing: IndexSpec[] = []
  for (const index of wanted) {
    const served = have.some(columns => index.columns.every((c, i) => columns[i] === c))
    if (served) continue
    missing.push(index)
    have.push([...index.columns, ...implicitKey.filter(k => !index.columns.includes(k))])
  }
  return missing
}

/** The spec's indexes a new table gets: each not already served by the key or an earlier one. */
export function indexesOfNewTable<Row> (spec: TableSpec<Row>, implicitKey: readonly string[] = []): IndexSpec[] {
  return indexesMissing(spec.indexes, [spec.unique.columns, ...(spec.identity === undefined ? [] : [[spec.identity]])], implicitKey)
}

/**
 * What InnoDB and SQLite append to every secondary index: the primary key (an identity is
 * SQLite's rowid). Their `implicitKey` for `indexesMissing`; PostgreSQL appends nothing.
 */
export function rowKey<Row> (spec: TableSpec<Row>): string[] {
  return spec.identity === undefined ? [] : [spec.identity]
}
