import type { Pool, PoolClient } from 'pg'
import { TableStates, type TableState } from '../types.ts'
import type { TableSpec } from '../spec.ts'
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

/** Missing, present without what idempotency needs, or ready. */
export async function pgTableState<Row> (on: Queryable, spec: TableSpec<Row>, table: string): Promise<TableState> {
  if (!await pgHasTable(on, table)) return TableStates.MISSING
  const ready = (await pgMissingColumns(on, spec, table)).length === 0 && await pgHasUnique(on, spec, table)
  return ready ? TableStates.READY : TableStates.NEEDS_KEY
}
