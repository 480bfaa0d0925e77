import type { Pool, PoolClient } from 'pg'
import type { Logger } from '../../logging/index.ts'
import { errorCodes } from '../common.ts'
import { columnNamed, ColumnTypes, indexesOfNewTable, type ColumnSpec, type IndexSpec, type TableSpec } from '../spec.ts'
import { objectName, pgTransaction, quoteId, raceSqlStates } from './driver.ts'
import { pgHasTable, pgHasUnique, pgMissingColumns, pgMissingIndexes } from './introspection.ts'

const types = {
  [ColumnTypes.TEXT]: 'VARCHAR',
  [ColumnTypes.INTEGER]: 'INT',
  [ColumnTypes.BIGINT]: 'BIGINT',
  [ColumnTypes.REAL]: 'REAL',
  [ColumnTypes.DOUBLE]: 'DOUBLE PRECISION',
  [ColumnTypes.TIMESTAMP]: 'TIMESTAMP',
  [ColumnTypes.INSTANT]: 'TIMESTAMPTZ',
  [ColumnTypes.JSON]: 'JSONB'
} as const

/** A column's definition in PostgreSQL's types. */
export function pgColumnSql (column: ColumnSpec): string {
  const type = column.type === ColumnTypes.TEXT ? `VARCHAR(${column.length ?? 255})` : types[column.type]
  const now = column.type === ColumnTypes.INSTANT ? 'now()' : "(now() AT TIME ZONE 'utc')"
  return `${column.name} ${type}${column.nullable === true ? '' : ' NOT NULL'}${column.defaultNow === true ? ` DEFAULT ${now}` : ''}`
}

/** The spec's CREATE TABLE with its unique constraint, then its indexes. */
export function pgCreateTableSql<Row> (spec: TableSpec<Row>, table: string): string[] {
  const t = quoteId(table)
  const lines = [
    ...(spec.identity === undefined ? [] : [`${spec.identity} BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY`]),
    ...spec.columns.map(pgColumnSql),
    `CONSTRAINT ${quoteId(objectName(table, spec.unique.name))} UNIQUE (${spec.unique.columns.join(', ')})`
  ]
  return [
    `CREATE TABLE IF NOT EXISTS ${t} (\n  ${lines.join(',\n  ')}\n)`,
    ...indexesOfNewTable(spec).map(i => pgCreateIndexSql(table, i))
  ]
}

function pgCreateIndexSql (table: string, index: IndexSpec): string {
  return `CREATE INDEX IF NOT EXISTS ${quoteId(objectName(table, index.name))} ON ${quoteId(table)} (${index.columns.join(', ')})`
}

async function ensureOnce<Row> (client: PoolClient, spec: TableSpec<Row>, table: string, log?: Logger, name?: string): Promise<void> {
  // Serializes churnflow processes setting up the same table, so check-then-create is safe among them.
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`churnflow.ensure-table.${table}`])
  if (!await pgHasTable(client, table)) {
    for (const statement of pgCreateTableSql(spec, table)) await client.query(statement)
    return
  }
  // An existing table is adopted with the least change: the spec's adoption columns, the key and
  // the indexes it lacks, nothing else.
  const t = quoteId(table)
  for (const column of await pgMissingColumns(client, spec, table)) {
    log?.info({ store: name, table }, `adding ${column} to an existing ${spec.name} table`)
    await client.query(`ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS ${pgColumnSql(columnNamed(spec, column))}`)
  }
  if (!await pgHasUnique(client, spec, table)) {
    log?.info({ store: name, table }, `adding the unique key ${spec.unique.name} to an existing ${spec.name} table`)
    await client.query(`ALTER TABLE ${t} ADD CONSTRAINT ${quoteId(objectName(table, spec.unique.name))} UNIQUE (${spec.unique.columns.join(', ')})`)
  }
  for (const index of await pgMissingIndexes(client, spec, table)) {
    // Writes to the table wait while it builds: seconds per million rows (docs/dashboard.md).
    log?.info({ store: name, table }, `adding the index ${index.name} (${index.columns.join(', ')}) to an existing ${spec.name} table`)
    await client.query(pgCreateIndexSql(table, index))
  }
}

/**
 * Creates the spec's table when it is missing, or adopts an existing one; idempotent and safe
 * when several processes run it at once.
 */
export async function pgEnsureTable<Row> (pool: Pool, spec: TableSpec<Row>, table: string, log?: Logger, name?: string): Promise<void> {
  try {
    await pgTransaction(pool, client => ensureOnce(client, spec, table, log, name))
  } catch (error) {
    // CREATE ... IF NOT EXISTS is not atomic against a concurrent creator (unique_violation on
    // pg_type, duplicate_table); the second look sees the other process's table.
    if (!errorCodes(error).some(code => raceSqlStates.has(code))) throw error
    log?.debug({ store: name, err: error }, `another process created the ${spec.name} table at the same time; checking again`)
    await pgTransaction(pool, client => ensureOnce(client, spec, table, log, name))
  }
}
