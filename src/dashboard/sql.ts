import { existsSync } from 'node:fs'
import { DatabaseSync } from 'node:sqlite'
import mysql from 'mysql2/promise'
import type { Pool as MysqlPool, RowDataPacket } from 'mysql2/promise'
import pg from 'pg'
import { databaseError, defaultSqlitePath, isTransientMysqlError, isTransientPgError, isTransientSqliteError, SqlDialects, sqlitePath, type SqlConnection, type SqlDialect } from '../sql/index.ts'

/** One result row as the drivers hand it back: timestamps as text, numbers as numbers or numeric text. */
export type SqlRow = Readonly<Record<string, unknown>>

/**
 * The dashboard's connection to the prediction database: queries only. Statements are written
 * with `?` placeholders; PostgreSQL's `$n` are put in here.
 */
export interface SqlReader {
  readonly dialect: SqlDialect
  /** For logs, with no password. */
  readonly name: string
  /** Runs one statement; a table that does not exist yet reads as no rows. */
  all (sql: string, params?: readonly unknown[]): Promise<SqlRow[]>
  close (): Promise<void>
}

export interface OpenSqlReaderOptions {
  /**
   * False only for bench:dashboard's own connection (it runs ANALYZE); every other is
   * read-only at the database (SQLite opened read-only, a MySQL session in READ ONLY
   * transactions, PostgreSQL with default_transaction_read_only), so nothing can change data.
   */
  readonly readOnly?: boolean
}

const missingTable = (dialect: SqlDialect, error: unknown): boolean => {
  const e = error as { message?: unknown, errno?: unknown, code?: unknown }
  if (dialect === SqlDialects.SQLITE) return typeof e.message === 'string' && e.message.includes('no such table')
  if (dialect === SqlDialects.MYSQL) return e.errno === 1146
  return e.code === '42P01'
}

const transientOf: Record<SqlDialect, (error: unknown) => boolean> = {
  [SqlDialects.SQLITE]: isTransientSqliteError,
  [SqlDialects.MYSQL]: isTransientMysqlError,
  [SqlDialects.POSTGRES]: isTransientPgError
}

/** Wraps a dialect's raw query in the shared rules: a missing table is empty, a failure a coded error. */
function reader (dialect: SqlDialect, name: string, run: (sql: string, params: readonly unknown[]) => Promise<SqlRow[]>, close: () => Promise<void>): SqlReader {
  return {
    dialect,
    name,
    async all (sql, params = []) {
      try {
        return await run(sql, params)
      } catch (error) {
        if (missingTable(dialect, error)) return []
        throw databaseError(name, 'a dashboard query', error, transientOf[dialect])
      }
    },
    close
  }
}

function sqliteReader (path: string, readOnly: boolean): SqlReader {
  let db: DatabaseSync | undefined
  // The file appears when the processor first writes; until then there is nothing to read.
  const open = (): DatabaseSync | undefined => {
    if (db !== undefined) return db
    if (path !== ':memory:' && !existsSync(path)) return undefined
    db = new DatabaseSync(path, { readOnly, timeout: 5000 })
    return db
  }
  return reader(SqlDialects.SQLITE, `sqlite ${path}`, async (sql, params) => {
    const handle = open()
    if (handle === undefined) return []
    return handle.prepare(sql).all(...(params as (string | number | null)[])) as SqlRow[]
  }, async () => { db?.close(); db = undefined })
}

function mysqlReader (options: { host: string, port: number, user: string, password: string, database: string }, readOnly: boolean): SqlReader {
  const pool: MysqlPool = mysql.createPool({ ...options, connectionLimit: 4, dateStrings: true, supportBigNumbers: true, bigNumberStrings: false, connectTimeout: 5000 })
  pool.pool.on('connection', connection => {
    connection.query("SET time_zone = '+00:00'")
    if (readOnly) connection.query('SET SESSION TRANSACTION READ ONLY')
  })
  return reader(SqlDialects.MYSQL, `mysql ${options.user}@${options.host}:${options.port}/${options.database}`, async (sql, params) => {
    const [rows] = await pool.query<RowDataPacket[]>({ sql, timeout: 10_000 }, [...params] as (string | number | null)[])
    return rows
  }, () => pool.end())
}

/** TIMESTAMP (1114) as its text, so no driver time zone can shift it. */
const pgTypes = { getTypeParser: (oid: number, format?: string) => oid === 1114 ? (v: string) => v : pg.types.getTypeParser(oid, format as 'text') }

function postgresReader (url: string, readOnly: boolean): SqlReader {
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: 5000,
    statement_timeout: 10_000,
    types: pgTypes as unknown as pg.CustomTypesConfig,
    ...(readOnly ? { options: '-c default_transaction_read_only=on' } : {})
  })
  pool.on('error', () => undefined)
  const shown = new URL(url)
  shown.password = ''
  return reader(SqlDialects.POSTGRES, `postgres ${shown.host}${shown.pathname}`, async (sql, params) => {
    let n = 0
    const result = await pool.query(sql.replace(/\?/g, () => `$${++n}`), [...params])
    return result.rows as SqlRow[]
  }, () => pool.end())
}

/**
 * A reader of the database the configuration names, chosen as `openPredictionStore` chooses:
 * DATABASE_URL, else MySQL at DB_HOST, else SQLite in the state directory.
 */
export function openSqlReader (config: SqlConnection, options: OpenSqlReaderOptions = {}): SqlReader {
  const readOnly = options.readOnly ?? true
  const url = config.databaseUrl
  if (url === undefined) {
    if (config.dbHost !== undefined) return mysqlReader({ host: config.dbHost, port: config.dbPort, user: config.dbUser, password: config.dbPassword, database: config.dbName }, readOnly)
    return sqliteReader(defaultSqlitePath(config.stateDir), readOnly)
  }
  const protocol = url.slice(0, url.indexOf(':') + 1).toLowerCase()
  if (protocol === 'sqlite:') return sqliteReader(sqlitePath(url), readOnly)
  if (protocol === 'postgres:' || protocol === 'postgresql:') return postgresReader(url, readOnly)
  const parsed = new URL(url)
  return mysqlReader({
    host: parsed.hostname === '' ? '127.0.0.1' : parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    user: parsed.username === '' ? 'root' : decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'churn_db'
  }, readOnly)
}

/** `YYYY-MM-DD HH:MM:SS[.fff]` UTC text, as every backend hands timestamps back here, to epoch ms. */
export function sqlTime (value: unknown): number {
  if (typeof value !== 'string') return NaN
  return Date.parse(`${value.replace(' ', 'T')}Z`)
}
