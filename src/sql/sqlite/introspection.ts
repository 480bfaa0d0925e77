import type { DatabaseSync } from 'node:sqlite'
import { TableStates, type TableState } from '../types.ts'
import { indexesMissing, rowKey, type IndexSpec, type TableSpec } from '../spec.ts'

export function sqliteHasTable (db: DatabaseSync, table: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined
}

/** The spec's columns that adoption adds and the table lacks. */
export function sqliteMissingColumns<Row> (db: DatabaseSync, spec: TableSpec<Row>, table: string): string[] {
  const have = new Set(db.prepare('SELECT name FROM pragma_table_info(?)').all(table).map(r => String(r.name)))
  return spec.columns.filter(c => c.addOnAdopt === true && !have.has(c.name)).map(c => c.name)
}

/** The column lists of the table's indexes, each in index order. */
export function sqliteIndexColumns (db: DatabaseSync, table: string): string[][] {
  return db.prepare('SELECT name FROM pragma_index_list(?)').all(table).map(index =>
    db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').all(String(index.name)).map(c => String(c.name)))
}

/**
 * The spec's indexes the table lacks (see `indexesMissing`). Every SQLite index ends with the
 * rowid, which an INTEGER PRIMARY KEY identity is.
 */
export function sqliteMissingIndexes<Row> (db: DatabaseSync, spec: TableSpec<Row>, table: string): IndexSpec[] {
  return indexesMissing(spec.indexes, sqliteIndexColumns(db, table), rowKey(spec))
}

/** SQLite's index names are per database: they carry the table's name. */
export const sqliteIndexName = (table: string, index: string): string => `${table}_${index}`

/** Missing, present without what idempotency needs, or ready. */
export function sqliteTableState<Row> (db: DatabaseSync, spec: TableSpec<Row>, table: string): TableState {
  if (!sqliteHasTable(db, table)) return TableStates.MISSING
  const key = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(sqliteIndexName(table, spec.unique.name)) !== undefined
  return key && sqliteMissingColumns(db, spec, table).length === 0 ? TableStates.READY : TableStates.NEEDS_KEY
}
