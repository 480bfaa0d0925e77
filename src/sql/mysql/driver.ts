import mysql from 'mysql2/promise'
import type { Pool } from 'mysql2/promise'
import { MysqlDialect } from 'kysely'
import type { Logger } from '../../logging/index.ts'
import { databaseError, errorCodes, PooledDatabase, networkErrorCodes } from '../common.ts'

/** Where a MySQL or MariaDB database is, and how patient to be with it. */
export interface MysqlConnectionOptions {
  readonly host: string
  /** 3306 when not given. */
  readonly port?: number
  /** `root` when not given. */
  readonly user?: string
  readonly password?: string
  readonly database: string
  /** How long opening a connection may take, in ms (5000). */
  readonly connectTimeoutMs?: number
  /** How long one statement may take, in ms (30000). */
  readonly queryTimeoutMs?: number
  /** Most connections the pool opens (4). */
  readonly poolSize?: number
  readonly log?: Logger
}

/**
 * Server errors that say "not now" rather than "never": shutdown, too many connections, deadlock,
 * lock wait or statement timeout, a killed or broken connection.
 */
const transientErrnos: ReadonlySet<number> = new Set([
  1040, // ER_CON_COUNT_ERROR
  1053, // ER_SERVER_SHUTDOWN
  1152, // ER_ABORTING_CONNECTION
  1158, 1159, 1160, 1161, // ER_NET_READ_ERROR, _READ_INTERRUPTED, _ERROR_ON_WRITE, _WRITE_INTERRUPTED
  1203, // ER_TOO_MANY_USER_CONNECTIONS
  1205, // ER_LOCK_WAIT_TIMEOUT
  1213, // ER_LOCK_DEADLOCK
  1317, // ER_QUERY_INTERRUPTED
  1927, // ER_CONNECTION_KILLED (MariaDB)
  1969, // ER_STATEMENT_TIMEOUT (MariaDB)
  2002, 2003, 2006, 2013, // can't connect, server gone away, lost connection
  3024, // ER_QUERY_TIMEOUT (MySQL)
  4031 // ER_CLIENT_INTERACTION_TIMEOUT (MySQL)
])

const transientClientCodes: ReadonlySet<string> = new Set([
  ...networkErrorCodes, 'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR'
])

/** True for a mysql2 error that may go away by itself: the server is down, restarting, overloaded or deadlocked. */
export function isTransientMysqlError (error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const { errno, sqlState, fatal } = error as { errno?: unknown, sqlState?: unknown, fatal?: unknown }
  // An error packet from the server: its number decides, whatever the client made of it.
  if (typeof errno === 'number' && typeof sqlState === 'string') return transientErrnos.has(errno)
  if (errorCodes(error).some(code => transientClientCodes.has(code))) return true
  // mysql2 marks errors that killed the connection as fatal ("Can't add new command when connection is in closed state").
  return fatal === true
}

/** Server error numbers churnflow reacts to. */
export const MysqlErrnos = {
  /** The server does not take LOAD DATA LOCAL (local_infile=OFF, MySQL 8's default), in its four spellings. */
  ER_NOT_ALLOWED_COMMAND: 1148,
  ER_CLIENT_LOCAL_FILES_DISABLED: 3948,
  CR_LOAD_DATA_LOCAL_INFILE_REJECTED: 2068,
  ER_LOAD_INFILE_CAPABILITY_DISABLED: 4166,
  /** LOAD DATA LOCAL skips a row whose key is there already with this warning: the replay of a batch. */
  ER_DUP_ENTRY: 1062,
  /** "Already there", when another process adopted the table first. */
  ER_DUP_FIELDNAME: 1060,
  ER_DUP_KEYNAME: 1061,
  ER_DBACCESS_DENIED_ERROR: 1044,
  ER_BAD_DB_ERROR: 1049,
  ER_SPECIFIC_ACCESS_DENIED_ERROR: 1227
} as const

export function hasErrno (error: unknown, ...errnos: number[]): boolean {
  const errno = (error as { errno?: unknown } | null)?.errno
  return typeof errno === 'number' && errnos.includes(errno)
}

export const quoteId = (name: string): string => '`' + name.replaceAll('`', '``') + '`'

/** `mysql root@127.0.0.1:3306/churn_db`: for logs and /health, with no password. */
export function mysqlName (options: MysqlConnectionOptions): string {
  return `mysql ${options.user ?? 'root'}@${options.host}:${options.port ?? 3306}/${options.database}`
}

/** A connection's options, without the database (which may not exist yet). */
export function connectionOptions (options: MysqlConnectionOptions): mysql.ConnectionOptions {
  return {
    host: options.host,
    port: options.port ?? 3306,
    user: options.user ?? 'root',
    ...(options.password === undefined || options.password === '' ? {} : { password: options.password }),
    connectTimeout: options.connectTimeoutMs ?? 5000,
    enableKeepAlive: true,
    keepAliveInitialDelay: 10_000,
    charset: 'utf8mb4_unicode_ci',
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
    // Without -FOUND_ROWS a duplicate left as is counts 0 affected rows instead of 1, so
    // affectedRows is exactly the number of rows inserted. LOCAL_FILES lets LOAD DATA LOCAL
    // send a batch's rows; mysql2 answers a server's request for a file only from the stream
    // the statement itself hands over, never from the disk.
    flags: ['-FOUND_ROWS', '+LOCAL_FILES']
  }
}

/** A pool on the database whose sessions are in UTC and keep every warning of a load. */
export function createMysqlPool (options: MysqlConnectionOptions): Pool {
  const poolSize = options.poolSize ?? 4
  const name = mysqlName(options)
  const pool = mysql.createPool({
    ...connectionOptions(options),
    database: options.database,
    connectionLimit: poolSize,
    maxIdle: poolSize,
    idleTimeout: 60_000,
    // Session variables (the time zone below) must survive a connection going back to the pool.
    resetOnRelease: false
  })
  // DATETIME has no zone: the session zone only matters for CURRENT_TIMESTAMP defaults and
  // NOW(), which must agree with the UTC text we write.
  pool.pool.on('connection', connection => {
    connection.query("SET time_zone = '+00:00'", error => {
      if (error !== null) options.log?.warn({ err: error, store: name }, 'could not set the session time zone to UTC')
    })
    // Every warning of a load is listed (the default keeps 64), so none can hide behind duplicates.
    connection.query('SET max_error_count = 65535', error => {
      if (error !== null) options.log?.warn({ err: error, store: name }, 'could not raise max_error_count: a load\'s warnings past the 64th are not checked')
    })
  })
  return pool
}

/** Kysely on the same pool settings (UTC sessions), for migrations. */
export function mysqlKyselyDialect (options: MysqlConnectionOptions): MysqlDialect {
  return new MysqlDialect({ pool: createMysqlPool(options).pool })
}

/** One MySQL or MariaDB database as the stores share it: its pool, a ping, and closing. */
export class MysqlDatabase extends PooledDatabase<Pool> {
  readonly options: MysqlConnectionOptions

  constructor (options: MysqlConnectionOptions) {
    super(mysqlName(options), createMysqlPool(options))
    this.options = options
  }

  async ping (): Promise<void> {
    const pool = this.pool
    try {
      await pool.query({ sql: 'SELECT 1', timeout: this.options.connectTimeoutMs ?? 5000 })
    } catch (error) {
      throw databaseError(this.name, 'ping', error, isTransientMysqlError)
    }
  }
}
