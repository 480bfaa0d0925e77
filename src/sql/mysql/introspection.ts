import type { Pool, RowDataPacket } from 'mysql2/promise'
import { TableStates, type TableState } from '../types.ts'
import { indexesMissing, rowKey, type IndexSpec, type TableSpec } from '../spec.ts'

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

/** The column lists of the table's indexes, each in index order. */
export async function mysqlIndexColumns (pool: Pool, table: string, timeoutMs: number): Promise<string[][]> {
  const [rows] = await pool.query<RowDataPacket[]>({
    sql: 'SELECT INDEX_NAME AS name, COLUMN_NAME AS col FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX',
    values: [table],
    timeout: timeoutMs
  })
  const indexes = new Map<string, string[]>()
  for (const row of rows) {
    const name = String(row.name)
    const columns = indexes.get(name) ?? []
    columns.push(String(row.col))
    indexes.set(name, columns)
  }
  return [...indexes.values()]
}

/**
 * The spec's indexes the table lacks (see `indexesMissing`). InnoDB appends the primary key to
 * every secondary index, so the identity counts as the last column of each.
 */
export async function mysqlMissingIndexes<Row> (pool: Pool, spec: TableSpec<Row>, table: string, timeoutMs: number): Promise<IndexSpec[]> {
  return indexesMissing(spec.indexes, await mysqlIndexColumns(pool, table, timeoutMs), rowKey(spec))
}

/** Missing, present without what idempotency needs, or ready. */
export async function mysqlTableState<Row> (pool: Pool, spec: TableSpec<Row>, table: string, timeoutMs: number): Promise<TableState> {
  if (!await mysqlHas(pool, table, 'TABLES', 'TABLE_NAME', table, timeoutMs)) return TableStates.MISSING
  const ready = (await mysqlMissingColumns(pool, spec, table, timeoutMs)).length === 0 &&
    await mysqlHas(pool, table, 'STATISTICS', 'INDEX_NAME', spec.unique.name, timeoutMs)
  return ready ? TableStates.READY : TableStates.NEEDS_KEY
}
