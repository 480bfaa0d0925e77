import type { Pool, PoolClient } from 'pg'
import { TableStates, type TableState } from '../types.ts'
import { indexesMissing, type IndexSpec, type TableSpec } from '../spec.ts'
import { objectName } from './driver.ts'

type Queryable = Pick<Pool | PoolClient, 'query'>

/** Whether the table (as the search path finds it) exists. */
export async function pgHasTable (on: Queryable, table: string): Promise<boolean> {
  const found = await on.query<{ found: boolean }>('SELECT to_regclass(quote_ident($1)) IS NOT NULL AS found', [table])
  return found.rows[0]?.found === true
}

/** The spec's columns that adoption adds and the table lacks. */
export async function pgMissingColumns<Row> (on: Queryable, spec: TableSpec<Row>, table: string): Promise<string[]> {
  const wanted = spec.columns.filter(c => c.addOnAdopt === true).map(c => c.name)
  if (wanted.length === 0) return []
  const present = await on.query<{ attname: string }>(
    'SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(quote_ident($1)) AND attname = ANY($2) AND NOT attisdropped', [table, wanted])
  const have = new Set(present.rows.map(r => r.attname))
  return wanted.filter(name => !have.has(name))
}

/** Whether the spec's unique constraint is on the table. */
export async function pgHasUnique<Row> (on: Queryable, spec: TableSpec<Row>, table: string): Promise<boolean> {
  const constraint = await on.query('SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(quote_ident($1)) AND conname = $2',
    [table, objectName(table, spec.unique.name)])
  return (constraint.rowCount ?? 0) > 0
}

/** The column lists of the table's indexes, each in index order. */
export async function pgIndexColumns (on: Queryable, table: string): Promise<string[][]> {
  const found = await on.query<{ columns: string[] }>(
    `SELECT array_agg(a.attname::text ORDER BY k.ord) AS columns
       FROM pg_index x
       CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
      WHERE x.indrelid = to_regclass(quote_ident($1))
      GROUP BY x.indexrelid`, [table])
  // text[]: node-pg parses it; name[] would arrive as one string.
  return found.rows.map(r => r.columns)
}

/** The spec's indexes the table lacks (see `indexesMissing`); PostgreSQL appends nothing to an index. */
export async function pgMissingIndexes<Row> (on: Queryable, spec: TableSpec<Row>, table: string): Promise<IndexSpec[]> {
  return indexesMissing(spec.indexes, await pgIndexColumns(on, table))
}

/** Missing, present without what idempotency needs, or ready. */
export async function pgTableState<Row> (on: Queryable, spec: TableSpec<Row>, table: string): Promise<TableState> {
  if (!await pgHasTable(on, table)) return TableStates.MISSING
  const ready = (await pgMissingColumns(on, spec, table)).length === 0 && await pgHasUnique(on, spec, table)
  return ready ? TableStates.READY : TableStates.NEEDS_KEY
}
