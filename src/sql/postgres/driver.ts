import { createHash } from 'node:crypto'
import { PostgresDialect } from 'kysely'
import pg from 'pg'
import type { Pool, PoolClient } from 'pg'
import type { Logger } from '../../logging/index.ts'
import { databaseError, errorCodes, PooledDatabase, message, networkErrorCodes } from '../common.ts'

/** Where a PostgreSQL database is, and how patient to be with it. */
export interface PostgresConnectionOptions {
  /** A `postgres://` or `postgresql://` URL; without a database in its path, `postgres`. */
  readonly url: string
  /** How long opening a connection may take, in ms (5000). */
  readonly connectTimeoutMs?: number
  /** How long one statement may take, in ms (30000). */
  readonly queryTimeoutMs?: number
  /** Most connections the pool opens (4). */
  readonly poolSize?: number
  readonly log?: Logger
}

/**
 * SQLSTATEs that say "not now": the server shutting down or starting, too many connections,
 * out of resources, a deadlock or serialization failure, a statement or lock timeout.
 */
const transientSqlStates: ReadonlySet<string> = new Set([
  '57P01', '57P02', '57P03', // admin_shutdown, crash_shutdown, cannot_connect_now
  '53000', '53200', '53300', // insufficient_resources, out_of_memory, too_many_connections
  '40001', '40P01', // serialization_failure, deadlock_detected
  '57014', '55P03' // query_canceled (statement_timeout), lock_not_available
])

// pg reports a lost or never-made connection with a bare message, no code.
const transientMessages = /^(Connection terminated unexpectedly|Connection terminated due to connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error)/

/** True for a pg error that may go away by itself: the server is down, restarting, overloaded or deadlocked. */
export function isTransientPgError (error: unknown): boolean {
  for (const code of errorCodes(error)) {
    if (networkErrorCodes.has(code)) return true
    if (/^[0-9A-Z]{5}$/.test(code)) return code.startsWith('08') || transientSqlStates.has(code)
  }
  let e: unknown = error
  for (let depth = 0; e instanceof Error && depth < 5; depth++, e = e.cause) {
    if (transientMessages.test(e.message)) return true
  }
  return false
}

/** Raised by catalog races when a process that does not take our advisory lock creates the same objects. */
export const raceSqlStates: ReadonlySet<string> = new Set(['23505', '42P07', '42710'])

export const quoteId = (name: string): string => '"' + name.replaceAll('"', '""') + '"'

/**
 * Index and constraint names share one namespace per schema in PostgreSQL, so they carry the
 * table's name; one too long for 63 bytes is shortened with a hash so it stays unique.
 */
export function objectName (table: string, suffix: string): string {
  const name = `${table}_${suffix}`
  if (name.length <= 63) return name
  const hash = createHash('sha256').update(table).digest('hex').slice(0, 8)
  return `${table.slice(0, 63 - suffix.length - hash.length - 2)}_${hash}_${suffix}`
}

/** A URL whose path names the database, `postgres` when it named none. */
function withDatabase (url: string): URL {
  const parsed = new URL(url)
  if (parsed.pathname === '' || parsed.pathname === '/') parsed.pathname = '/postgres'
  return parsed
}

/** `postgres user@host:5432/db`: for logs and /health, with no password. */
export function postgresName (options: PostgresConnectionOptions): string {
  const url = withDatabase(options.url)
  const user = decodeURIComponent(url.username)
  return `postgres ${user === '' ? '' : `${user}@`}${url.hostname}:${url.port === '' ? '5432' : url.port}${decodeURIComponent(url.pathname)}`
}

/** A pool whose idle connections may fail without ending the process. */
export function createPgPool (options: PostgresConnectionOptions): Pool {
  const queryTimeoutMs = options.queryTimeoutMs ?? 30_000
  const name = postgresName(options)
  const pool = new pg.Pool({
    connectionString: withDatabase(options.url).toString(),
    max: options.poolSize ?? 4,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 60_000,
    query_timeout: queryTimeoutMs,
    statement_timeout: queryTimeoutMs,
    keepAlive: true,
    application_name: 'churnflow'
  })
  // An idle client whose server went away is reported here and dropped by the pool; without a
  // listener the error would end the process.
  pool.on('error', error => {
    options.log?.warn({ store: name, err: error }, 'an idle PostgreSQL connection failed; it is replaced on next use')
  })
  // A checked-out client is no longer watched by the pool: a connection lost while it is out (in
  // a write's transaction, in kysely's migrations) is emitted as 'error' on the client, which with
  // no listener ends the process. Its query fails with the same error, and the pool discards a
  // client that can no longer query when it is released, so the listener has nothing more to do.
  pool.on('connect', client => { client.on('error', () => undefined) })
  return pool
}

/** Runs `work` in one transaction on one pooled client; a client whose ROLLBACK failed is discarded, not reused. */
export async function pgTransaction<T> (pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    await client.query('BEGIN')
    const result = await work(client)
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(message(rollbackError))
    })
    throw error
  } finally {
    // Passing an error makes the pool discard the client instead of reusing it.
    client.release(broken)
  }
}

/** Kysely on a pool with the same settings, for migrations. */
export function pgKyselyDialect (options: PostgresConnectionOptions): PostgresDialect {
  return new PostgresDialect({ pool: createPgPool(options) })
}

/** One PostgreSQL database as the stores share it: its pool, a ping, and closing. */
export class PgDatabase extends PooledDatabase<Pool> {
  readonly options: PostgresConnectionOptions

  constructor (options: PostgresConnectionOptions) {
    super(postgresName(options), createPgPool(options))
    this.options = options
  }

  async ping (): Promise<void> {
    const pool = this.pool
    try {
      await pool.query('SELECT 1')
    } catch (error) {
      throw databaseError(this.name, 'ping', error, isTransientPgError)
    }
  }
}
