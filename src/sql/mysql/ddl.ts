import mysql from 'mysql2/promise'
import type { Pool } from 'mysql2/promise'
import type { Logger } from '../../logging/index.ts'
import { databaseError } from '../common.ts'
import { columnNamed, ColumnTypes, indexesOfNewTable, rowKey, type ColumnSpec, type TableSpec } from '../spec.ts'
import { connectionOptions, hasErrno, isTransientMysqlError, MysqlErrnos, quoteId, type MysqlConnectionOptions } from './driver.ts'
import { mysqlHas, mysqlMissingColumns, mysqlMissingIndexes } from './introspection.ts'

const types = {
  [ColumnTypes.TEXT]: 'VARCHAR',
  [ColumnTypes.INTEGER]: 'INT',
  [ColumnTypes.BIGINT]: 'BIGINT',
  [ColumnTypes.REAL]: 'FLOAT',
  [ColumnTypes.DOUBLE]: 'DOUBLE',
  // The churn consumer's DATETIME keeps whole seconds; an instant keeps milliseconds.
  [ColumnTypes.TIMESTAMP]: 'DATETIME',
  [ColumnTypes.INSTANT]: 'DATETIME(3)',
  [ColumnTypes.JSON]: 'JSON'
} as const

/** A column's definition in MySQL's types. */
export function mysqlColumnSql (column: ColumnSpec): string {
  const type = column.type === ColumnTypes.TEXT ? `VARCHAR(${column.length ?? 255})` : types[column.type]
  const now = column.type === ColumnTypes.INSTANT ? 'CURRENT_TIMESTAMP(3)' : 'CURRENT_TIMESTAMP'
  return `${column.name} ${type}${column.nullable === true ? '' : ' NOT NULL'}${column.defaultNow === true ? ` DEFAULT ${now}` : ''}`
}

/** The spec's CREATE TABLE, indexes and unique key inline, in utf8mb4. */
export function mysqlCreateTableSql<Row> (spec: TableSpec<Row>, table: string): string {
  const lines = [
    ...(spec.identity === undefined ? [] : [`${spec.identity} INT AUTO_INCREMENT PRIMARY KEY`]),
    ...spec.columns.map(mysqlColumnSql),
    ...indexesOfNewTable(spec, rowKey(spec)).map(i => `INDEX ${i.name} (${i.columns.join(', ')})`),
    `UNIQUE KEY ${spec.unique.name} (${spec.unique.columns.join(', ')})`
  ]
  return `CREATE TABLE IF NOT EXISTS ${quoteId(table)} (\n    ${lines.join(',\n    ')}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`
}

/** The database is created when the user may; one that may not is expected to find it there. */
export async function mysqlCreateDatabase (options: MysqlConnectionOptions, name: string): Promise<void> {
  let connection: mysql.Connection | undefined
  try {
    connection = await mysql.createConnection(connectionOptions(options))
    await connection.query({
      sql: `CREATE DATABASE IF NOT EXISTS ${quoteId(options.database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
      timeout: options.queryTimeoutMs ?? 30_000
    })
  } catch (error) {
    if (!hasErrno(error, MysqlErrnos.ER_DBACCESS_DENIED_ERROR, MysqlErrnos.ER_SPECIFIC_ACCESS_DENIED_ERROR)) {
      throw databaseError(name, `creating database ${options.database}`, error, isTransientMysqlError)
    }
    options.log?.debug({ store: name, err: error }, 'not allowed to create the database; using it as it is')
  } finally {
    await connection?.end().catch(() => undefined)
  }
}

/** Another process adopting the same table at the same moment gets there first: that is success. */
async function tolerating (pool: Pool, errno: number, sql: string, timeoutMs: number): Promise<void> {
  try {
    await pool.query({ sql, timeout: timeoutMs })
  } catch (error) {
    if (!hasErrno(error, errno)) throw error
  }
}

/**
 * Creates the spec's table when it is missing; an existing one is adopted with the least change:
 * the columns the spec adds on adoption, the unique key and the indexes it lacks, nothing else.
 * InnoDB adds an index online: writes go on while it builds.
 */
export async function mysqlEnsureTable<Row> (pool: Pool, spec: TableSpec<Row>, table: string, timeoutMs: number, log?: Logger, name?: string): Promise<void> {
  await pool.query({ sql: mysqlCreateTableSql(spec, table), timeout: timeoutMs })
  for (const column of await mysqlMissingColumns(pool, spec, table, timeoutMs)) {
    log?.info({ store: name, table }, `adding ${column} to an existing ${spec.name} table`)
    await tolerating(pool, MysqlErrnos.ER_DUP_FIELDNAME, `ALTER TABLE ${quoteId(table)} ADD COLUMN ${mysqlColumnSql(columnNamed(spec, column))}`, timeoutMs)
  }
  if (!await mysqlHas(pool, table, 'STATISTICS', 'INDEX_NAME', spec.unique.name, timeoutMs)) {
    log?.info({ store: name, table }, `adding the unique key ${spec.unique.name} to an existing ${spec.name} table`)
    await tolerating(pool, MysqlErrnos.ER_DUP_KEYNAME, `ALTER TABLE ${quoteId(table)} ADD UNIQUE KEY ${spec.unique.name} (${spec.unique.columns.join(', ')})`, timeoutMs)
  }
  for (const index of await mysqlMissingIndexes(pool, spec, table, timeoutMs)) {
    log?.info({ store: name, table }, `adding the index ${index.name} (${index.columns.join(', ')}) to an existing ${spec.name} table`)
    await tolerating(pool, MysqlErrnos.ER_DUP_KEYNAME, `ALTER TABLE ${quoteId(table)} ADD INDEX ${index.name} (${index.columns.join(', ')})`, timeoutMs)
  }
}
