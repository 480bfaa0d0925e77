import type { Pool, RowDataPacket } from 'mysql2/promise'
import { TableStates, type TableState } from '../types.ts'
import type { TableSpec } from '../spec.ts'

/** Whether the current database's information_schema lists `name` for the table. */
export async function mysqlHas (pool: Pool, table: string, view: 'TABLES' | 'COLUMNS' | 'STATISTICS', column: string, name: string, timeoutMs: number): Promise<boolean> {
  const [rows] = await pool.query<RowDataPacket[]>({
    sql: `SELECT 1 FROM information_schema.${view} WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND ${column} = ? LIMIT 1`,
    values: [table, name],
    timeout: timeoutMs
  })
  return rows.length > 0
}

/** The spec's columns that adoption adds and the table lacks. */
export async function mysqlMissingColumns<Row> (pool: Pool, spec: TableSpec<Row>, table: string, timeoutMs: number): Promise<string[]> {
  const missing: string[] = []
  for (const column of spec.columns.filter(c => c.addOnAdopt === true)) {
    if (!await mysqlHas(pool, table, 'COLUMNS', 'COLUMN_NAME', column.name, timeoutMs)) missing.push(column.name)
  }
  return missing
}

/** Missing, present without what idempotency needs, or ready. */
export async function mysqlTableState<Row> (pool: Pool, spec: TableSpec<Row>, table: string, timeoutMs: number): Promise<TableState> {
  if (!await mysqlHas(pool, table, 'TABLES', 'TABLE_NAME', table, timeoutMs)) return TableStates.MISSING
  const ready = (await mysqlMissingColumns(pool, spec, table, timeoutMs)).length === 0 &&
    await mysqlHas(pool, table, 'STATISTICS', 'INDEX_NAME', spec.unique.name, timeoutMs)
  return ready ? TableStates.READY : TableStates.NEEDS_KEY
}
