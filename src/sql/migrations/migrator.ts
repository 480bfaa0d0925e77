import { Kysely, Migrator, type Dialect, type NoMigrations, type MigrationInfo, type MigrationResultSet } from 'kysely'
import type { Config } from '../../config/index.ts'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import type { Logger } from '../../logging/index.ts'
import { databaseError } from '../common.ts'
import { hasErrno, isTransientMysqlError, mysqlKyselyDialect, MysqlErrnos, mysqlName } from '../mysql/driver.ts'
import { mysqlCreateDatabase } from '../mysql/ddl.ts'
import { sqlTarget, type SqlConnection, type SqlTarget } from '../open.ts'
import { isTransientPgError, pgKyselyDialect, postgresName } from '../postgres/driver.ts'
import { isTransientSqliteError, NodeSqliteDialect, SqliteFile } from '../sqlite/driver.ts'
import { SqlDialects } from '../types.ts'
import { fraudMigrations } from './fraud.ts'

/** Where kysely keeps which migrations ran, and its lock row. */
export const migrationTables = { migrations: 'churnflow_migration', lock: 'churnflow_migration_lock' } as const

/** One migration and when it was applied (undefined: pending). */
export interface MigrationState {
  readonly name: string
  readonly executedAt: Date | undefined
}

export interface MigrateOptions {
  /**
   * Migrate up or down to this migration (inclusive) instead of the latest, or to kysely's
   * NO_MIGRATIONS (every table dropped): tests, staged upgrades.
   */
  readonly to?: string | NoMigrations
  readonly log?: Logger
}

/** `mysql root@host:3306/db`, `postgres user@host:5432/db`, `sqlite /path`: for logs, with no password. */
export function targetName (target: SqlTarget): string {
  switch (target.dialect) {
    case SqlDialects.MYSQL: return mysqlName(target.options)
    case SqlDialects.POSTGRES: return postgresName(target.options)
    case SqlDialects.SQLITE: return `sqlite ${target.options.path}`
  }
}

function transient (target: SqlTarget): (error: unknown) => boolean {
  switch (target.dialect) {
    case SqlDialects.MYSQL: return isTransientMysqlError
    case SqlDialects.POSTGRES: return isTransientPgError
    case SqlDialects.SQLITE: return isTransientSqliteError
  }
}

function kyselyDialect (target: SqlTarget): Dialect {
  switch (target.dialect) {
    case SqlDialects.MYSQL: return mysqlKyselyDialect(target.options)
    case SqlDialects.POSTGRES: return pgKyselyDialect(target.options)
    // A migration waits its turn behind another process's for up to 30 s.
    case SqlDialects.SQLITE: return new NodeSqliteDialect({ busyTimeoutMs: 30_000, ...target.options })
  }
}

/** Runs `work` with kysely's Migrator on the target, then closes its connections. */
async function withMigrator<T> (target: SqlTarget, work: (migrator: Migrator) => Promise<T>): Promise<T> {
  const db = new Kysely<unknown>({ dialect: kyselyDialect(target) })
  try {
    const migrator = new Migrator({
      db,
      provider: { getMigrations: async () => fraudMigrations(target.dialect) },
      migrationTableName: migrationTables.migrations,
      migrationLockTableName: migrationTables.lock
    })
    return await work(migrator)
  } finally {
    await db.destroy()
  }
}

/**
 * Brings the database's tables up to date: the migrations not yet applied run in order, under
 * kysely's migration lock (an advisory lock in PostgreSQL, GET_LOCK in MySQL, the write lock of
 * BEGIN IMMEDIATE in SQLite), so processes starting together apply each exactly once.
 * Resolves to the names applied now (none when up to date; undone, when `to` is below the latest). A database that cannot be reached
 * rejects with a retriable ChurnflowError.
 */
export async function migrate (connection: SqlConnection, options: MigrateOptions = {}): Promise<string[]> {
  const target = sqlTarget(connection)
  const name = targetName(target)
  if (target.dialect === SqlDialects.MYSQL) await mysqlCreateDatabase({ ...target.options, ...(options.log === undefined ? {} : { log: options.log }) }, name)
  let outcome: MigrationResultSet
  try {
    outcome = await withMigrator(target, m => options.to === undefined ? m.migrateToLatest() : m.migrateTo(options.to))
  } catch (error) {
    throw databaseError(name, 'migrating', error, transient(target))
  }
  const applied = (outcome.results ?? []).filter(r => r.status === 'Success').map(r => r.migrationName)
  for (const migration of applied) options.log?.info({ store: name, migration }, 'applied a migration')
  if (outcome.error !== undefined) {
    const failed = outcome.results?.find(r => r.status === 'Error')?.migrationName ?? 'the migration lock'
    throw databaseError(name, `migration ${failed}`, outcome.error, transient(target))
  }
  return applied
}

/** Every migration churnflow has, and when each was applied to the database; changes nothing. */
export async function migrationStatus (connection: SqlConnection): Promise<MigrationState[]> {
  const target = sqlTarget(connection)
  const pending = (): MigrationState[] => Object.keys(fraudMigrations(target.dialect)).map(name => ({ name, executedAt: undefined }))
  // Looking must not leave an empty database file behind.
  if (target.dialect === SqlDialects.SQLITE && new SqliteFile(target.options).absent) return pending()
  try {
    const migrations: readonly MigrationInfo[] = await withMigrator(target, m => m.getMigrations())
    return migrations.map(m => ({ name: m.name, executedAt: m.executedAt }))
  } catch (error) {
    if (target.dialect === SqlDialects.MYSQL && hasErrno(error, MysqlErrnos.ER_BAD_DB_ERROR)) return pending()
    throw databaseError(targetName(target), 'reading the migrations', error, transient(target))
  }
}

/**
 * What a pipeline calls as it starts: migrates unless DB_MIGRATE=false; then, either way, refuses
 * to go on while a migration is pending, rather than writing into tables that are not there yet.
 */
export async function migrateAtStart (config: SqlConnection & Pick<Config, 'dbMigrate'>, log?: Logger): Promise<void> {
  if (config.dbMigrate) {
    await migrate(config, log === undefined ? {} : { log })
    return
  }
  const pending = (await migrationStatus(config)).filter(m => m.executedAt === undefined).map(m => m.name)
  if (pending.length > 0) {
    throw new ChurnflowError(ErrorCodes.DATABASE_FAILED, `${targetName(sqlTarget(config))}: ${pending.length} migration(s) pending (${pending.join(', ')}) and DB_MIGRATE is false`, {
      details: ['run `churnflow db migrate`, or set DB_MIGRATE=true to migrate when the pipeline starts']
    })
  }
}

