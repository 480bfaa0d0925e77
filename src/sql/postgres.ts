import { createHash } from 'node:crypto'
import pg from 'pg'
import type { Pool, PoolClient } from 'pg'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import type { Logger } from '../logging/index.ts'
import { databaseError, defaultTable, errorCodes, message, networkErrorCodes, sqlTimestamp, validTable } from './common.ts'
import { SqlDialects, TableStates, type PredictionRow, type PredictionStore, type TableState } from './types.ts'

export interface PostgresStoreOptions {
  /** A `postgres://` or `postgresql://` URL; without a database in its path, `postgres`. */
  readonly url: string
  /** `churn_predictions` when not given. */
  readonly table?: string
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

// Raised by catalog races when a process that does not take our advisory lock creates the same objects.
const raceSqlStates: ReadonlySet<string> = new Set(['23505', '42P07', '42710'])

const quoteId = (name: string): string => '"' + name.replaceAll('"', '""') + '"'

/**
 * Index and constraint names share one namespace per schema in PostgreSQL, so they carry the
 * table's name; one too long for 63 bytes is shortened with a hash so it stays unique.
 */
function objectName (table: string, suffix: string): string {
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

/**
 * Predictions in PostgreSQL, in the same columns as seed 000's table (in PostgreSQL's types)
 * with a unique constraint on the Kafka coordinates. A batch of any size is one statement:
 * the rows travel as nine arrays and come back out of `unnest`.
 */
export class PostgresPredictionStore implements PredictionStore {
  readonly dialect = SqlDialects.POSTGRES
  readonly name: string
  readonly table: string
  readonly #pool: Pool
  readonly #log: Logger | undefined
  readonly #insertSql: string
  #closed = false

  constructor (options: PostgresStoreOptions) {
    this.table = validTable(options.table ?? defaultTable)
    if (this.table.length > 63) {
      throw new ChurnflowError(ErrorCodes.CONFIG_INVALID, `invalid PostgreSQL table name ${this.table}: longer than 63 characters`)
    }
    const url = withDatabase(options.url)
    const user = decodeURIComponent(url.username)
    this.name = `postgres ${user === '' ? '' : `${user}@`}${url.hostname}:${url.port === '' ? '5432' : url.port}${decodeURIComponent(url.pathname)}`
    this.#log = options.log
    const queryTimeoutMs = options.queryTimeoutMs ?? 30_000
    this.#pool = new pg.Pool({
      connectionString: url.toString(),
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
    this.#pool.on('error', error => {
      this.#log?.warn({ store: this.name, err: error }, 'an idle PostgreSQL connection failed; it is replaced on next use')
    })
    const t = quoteId(this.table)
    this.#insertSql = `INSERT INTO ${t} (user_id, event_type, churn_score, event_timestamp, prediction_timestamp, metadata, kafka_topic, kafka_partition, kafka_offset)
      SELECT u, e, s, et, pt, m::jsonb, tp, p, o
      FROM unnest($1::varchar[], $2::varchar[], $3::real[], $4::timestamp[], $5::timestamp[], $6::text[], $7::varchar[], $8::int[], $9::bigint[])
        AS r(u, e, s, et, pt, m, tp, p, o)
      ON CONFLICT (kafka_topic, kafka_partition, kafka_offset) DO NOTHING`
  }

  #assertOpen (): void {
    if (this.#closed) throw new ChurnflowError(ErrorCodes.DATABASE_FAILED, `${this.name}: the store is closed`)
  }

  async ensureTable (): Promise<void> {
    this.#assertOpen()
    try {
      try {
        await this.#ensureTableOnce()
      } catch (error) {
        // CREATE ... IF NOT EXISTS is not atomic against a concurrent creator (unique_violation on
        // pg_type, duplicate_table); the second look sees the other process's table.
        if (!errorCodes(error).some(code => raceSqlStates.has(code))) throw error
        this.#log?.debug({ store: this.name, err: error }, 'another process created the predictions table at the same time; checking again')
        await this.#ensureTableOnce()
      }
    } catch (error) {
      throw databaseError(this.name, `creating table ${this.table}`, error, isTransientPgError)
    }
  }

  async #ensureTableOnce (): Promise<void> {
    const t = quoteId(this.table)
    const unique = quoteId(objectName(this.table, 'uq_kafka_coordinates'))
    await this.#transaction(async client => {
      // Serializes churnflow processes setting up the same table, so check-then-create is safe among them.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`churnflow.ensure-table.${this.table}`])
      const found = await client.query('SELECT to_regclass(quote_ident($1)) IS NOT NULL AS found', [this.table])
      if (found.rows[0]?.found !== true) {
        await client.query(`CREATE TABLE IF NOT EXISTS ${t} (
          id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          user_id VARCHAR(50) NOT NULL,
          event_type VARCHAR(50) NOT NULL,
          churn_score REAL NOT NULL,
          event_timestamp TIMESTAMP NOT NULL,
          prediction_timestamp TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
          metadata JSONB,
          kafka_partition INT,
          kafka_offset BIGINT,
          kafka_topic VARCHAR(249),
          CONSTRAINT ${unique} UNIQUE (kafka_topic, kafka_partition, kafka_offset)
        )`)
        for (const column of ['user_id', 'event_type', 'churn_score', 'event_timestamp']) {
          await client.query(`CREATE INDEX IF NOT EXISTS ${quoteId(objectName(this.table, `idx_${column}`))} ON ${t} (${column})`)
        }
        return
      }
      // An existing table is adopted with the least change: the column and the key, nothing else.
      const column = await client.query(
        "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(quote_ident($1)) AND attname = 'kafka_topic' AND NOT attisdropped", [this.table])
      if (column.rowCount === 0) {
        this.#log?.info({ store: this.name, table: this.table }, 'adding kafka_topic to an existing predictions table')
        await client.query(`ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS kafka_topic VARCHAR(249)`)
      }
      const constraint = await client.query(
        'SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(quote_ident($1)) AND conname = $2', [this.table, objectName(this.table, 'uq_kafka_coordinates')])
      if (constraint.rowCount === 0) {
        this.#log?.info({ store: this.name, table: this.table }, 'adding the unique key on the Kafka coordinates to an existing predictions table')
        await client.query(`ALTER TABLE ${t} ADD CONSTRAINT ${unique} UNIQUE (kafka_topic, kafka_partition, kafka_offset)`)
      }
    })
  }

  async tableState (): Promise<TableState> {
    this.#assertOpen()
    try {
      const result = await this.#pool.query<{ found: boolean, topic: boolean, key: boolean }>(`SELECT
          to_regclass(quote_ident($1)) IS NOT NULL AS found,
          EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(quote_ident($1)) AND attname = 'kafka_topic' AND NOT attisdropped) AS topic,
          EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(quote_ident($1)) AND conname = $2) AS key`,
      [this.table, objectName(this.table, 'uq_kafka_coordinates')])
      const state = result.rows[0]
      if (state?.found !== true) return TableStates.MISSING
      return state.topic && state.key ? TableStates.READY : TableStates.NEEDS_KEY
    } catch (error) {
      throw databaseError(this.name, `looking at table ${this.table}`, error, isTransientPgError)
    }
  }

  async #transaction (work: (client: PoolClient) => Promise<void>): Promise<void> {
    const client = await this.#pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      await work(client)
      await client.query('COMMIT')
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

  async insert (rows: readonly PredictionRow[]): Promise<number> {
    this.#assertOpen()
    if (rows.length === 0) return 0
    const columns: [string[], string[], number[], string[], string[], (string | null)[], string[], number[], string[]] =
      [[], [], [], [], [], [], [], [], []]
    const [users, events, scores, eventTimes, predictionTimes, metadata, topics, partitions, offsets] = columns
    for (const r of rows) {
      users.push(r.userId)
      events.push(r.eventType)
      scores.push(r.churnScore)
      eventTimes.push(sqlTimestamp(r.eventTime))
      predictionTimes.push(sqlTimestamp(r.predictionTime))
      metadata.push(r.metadata)
      topics.push(r.topic)
      partitions.push(r.partition)
      offsets.push(r.offset.toString())
    }
    try {
      const result = await this.#pool.query(this.#insertSql, columns)
      return result.rowCount ?? 0
    } catch (error) {
      throw databaseError(this.name, `insert of ${rows.length} rows into ${this.table}`, error, isTransientPgError)
    }
  }

  async ping (): Promise<void> {
    this.#assertOpen()
    try {
      await this.#pool.query('SELECT 1')
    } catch (error) {
      throw databaseError(this.name, 'ping', error, isTransientPgError)
    }
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#pool.end().catch(() => undefined)
  }

  /** Closes the store as `close()` does, for `await using` and an `AsyncDisposableStack`. */
  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }
}
