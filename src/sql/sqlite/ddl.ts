import type { DatabaseSync } from 'node:sqlite'
import type { Logger } from '../../logging/index.ts'
import { columnNamed, ColumnTypes, indexesOfNewTable, rowKey, type ColumnSpec, type IndexSpec, type TableSpec } from '../spec.ts'
import { quoteId, sqliteTransaction } from './driver.ts'
import { sqliteHasTable, sqliteIndexName, sqliteMissingColumns, sqliteMissingIndexes } from './introspection.ts'

const types = {
  [ColumnTypes.TEXT]: 'TEXT',
  [ColumnTypes.INTEGER]: 'INTEGER',
  [ColumnTypes.BIGINT]: 'INTEGER',
  [ColumnTypes.REAL]: 'REAL',
  [ColumnTypes.DOUBLE]: 'REAL',
  // `YYYY-MM-DD HH:MM:SS.mmm` UTC text, which sorts and compares as time does.
  [ColumnTypes.TIMESTAMP]: 'TEXT',
  [ColumnTypes.INSTANT]: 'TEXT',
  [ColumnTypes.JSON]: 'TEXT'
} as const

/** A column's definition in SQLite's types. */
export function sqliteColumnSql (column: ColumnSpec): string {
  return `${column.name} ${types[column.type]}${column.nullable === true ? '' : ' NOT NULL'}` +
    (column.defaultNow === true ? " DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))" : '')
}

function uniqueSql<Row> (spec: TableSpec<Row>, table: string): string {
  return `CREATE UNIQUE INDEX IF NOT EXISTS ${quoteId(sqliteIndexName(table, spec.unique.name))} ON ${quoteId(table)} (${spec.unique.columns.join(', ')})`
}

/** The spec's CREATE TABLE, then its unique key and indexes. */
export function sqliteCreateTableSql<Row> (spec: TableSpec<Row>, table: string): string[] {
  const t = quoteId(table)
  const lines = [
    ...(spec.identity === undefined ? [] : [`${spec.identity} INTEGER PRIMARY KEY AUTOINCREMENT`]),
    ...spec.columns.map(sqliteColumnSql)
  ]
  return [
    `CREATE TABLE ${t} (\n  ${lines.join(',\n  ')}\n)`,
    uniqueSql(spec, table),
    ...indexesOfNewTable(spec, rowKey(spec)).map(i => createIndexSql(table, i))
  ]
}

function createIndexSql (table: string, index: IndexSpec): string {
  return `CREATE INDEX IF NOT EXISTS ${quoteId(sqliteIndexName(table, index.name))} ON ${quoteId(table)} (${index.columns.join(', ')})`
}

/**
 * Creates the spec's table when it is missing; an existing one is adopted with the least change:
 * the spec's adoption columns, the unique key and the indexes it lacks, nothing else. One write
 * transaction, so processes sharing the file take turns.
 */
export function sqliteEnsureTable<Row> (db: DatabaseSync, spec: TableSpec<Row>, table: string, log?: Logger, name?: string): void {
  sqliteTransaction(db, () => {
    if (!sqliteHasTable(db, table)) {
      for (const statement of sqliteCreateTableSql(spec, table)) db.exec(statement)
      return
    }
    for (const column of sqliteMissingColumns(db, spec, table)) {
      log?.info({ store: name, table }, `adding ${column} to an existing ${spec.name} table`)
      db.exec(`ALTER TABLE ${quoteId(table)} ADD COLUMN ${sqliteColumnSql(columnNamed(spec, column))}`)
    }
    db.exec(uniqueSql(spec, table))
    for (const index of sqliteMissingIndexes(db, spec, table)) {
      log?.info({ store: name, table }, `adding the index ${index.name} (${index.columns.join(', ')}) to an existing ${spec.name} table`)
      db.exec(createIndexSql(table, index))
    }
  })
}
