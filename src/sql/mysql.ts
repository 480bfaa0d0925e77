import { Readable } from 'node:stream'
import mysql from 'mysql2/promise'
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import type { Logger } from '../logging/index.ts'
import { databaseError, defaultTable, errorCodes, networkErrorCodes, sqlTimestamp, validTable } from './common.ts'
import { SqlDialects, TableStates, type PredictionRow, type PredictionStore, type TableState } from './types.ts'

export interface MysqlStoreOptions {
  readonly host: string
  /** 3306 when not given. */
  readonly port?: number
  /** `root` when not given. */
  readonly user?: string
  readonly password?: string
  readonly database: string
  /** `churn_predictions` when not given. */
  readonly table?: string
  /** How long opening a connection may take, in ms (5000). */
  readonly connectTimeoutMs?: number
  /** How long one statement may take, in ms (30000). */
  readonly queryTimeoutMs?: number
  /** Most connections the pool opens (4). */
  readonly poolSize?: number
  /** Most rows in one INSERT statement (5000); larger batches are split inside one transaction. */
  readonly maxRowsPerStatement?: number
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

/** Statements a large batch is cut into, run at once (each on its own pooled connection). */
const PARALLEL_STATEMENTS = 2
/** Below this many rows a second statement costs more than it saves. */
const MIN_PARALLEL_ROWS = 1000

/** Below this many rows one INSERT beats a load, which costs a round trip more (the server asks for the data). */
const MIN_LOAD_ROWS = 100

// A server that does not take LOAD DATA LOCAL (local_infile=OFF, MySQL 8's default): rows go in as INSERTs.
const ER_NOT_ALLOWED_COMMAND = 1148
const ER_CLIENT_LOCAL_FILES_DISABLED = 3948
const CR_LOAD_DATA_LOCAL_INFILE_REJECTED = 2068
const ER_LOAD_INFILE_CAPABILITY_DISABLED = 4166 // MariaDB's
// LOAD DATA LOCAL skips a row whose key is there already, with this warning: the replay of a batch.
const ER_DUP_ENTRY = 1062

// MySQL's own messages for "already there", when another process adopted the table first.
const ER_DUP_FIELDNAME = 1060
const ER_DUP_KEYNAME = 1061
const ER_DBACCESS_DENIED_ERROR = 1044
const ER_BAD_DB_ERROR = 1049
const ER_SPECIFIC_ACCESS_DENIED_ERROR = 1227

function hasErrno (error: unknown, ...errnos: number[]): boolean {
  const errno = (error as { errno?: unknown } | null)?.errno
  return typeof errno === 'number' && errnos.includes(errno)
}

const quoteId = (name: string): string => '`' + name.replaceAll('`', '``') + '`'

/**
 * Predictions in MySQL or MariaDB, in seed 000's `churn_predictions` table plus the kafka_topic
 * column and the unique key on the Kafka coordinates.
 */
export class MysqlPredictionStore implements PredictionStore {
  readonly dialect = SqlDialects.MYSQL
  readonly name: string
  readonly table: string
  readonly #options: MysqlStoreOptions
  readonly #pool: Pool
  readonly #queryTimeoutMs: number
  readonly #connectTimeoutMs: number
  readonly #maxRows: number
  readonly #log: Logger | undefined
  readonly #insertSql: string
  readonly #loadSql: string
  /** Whether rows go in by LOAD DATA LOCAL: until the server refuses it once. */
  #load = true
  #closed = false

  constructor (options: MysqlStoreOptions) {
    this.#options = options
    this.table = validTable(options.table ?? defaultTable)
    const port = options.port ?? 3306
    this.name = `mysql ${options.user ?? 'root'}@${options.host}:${port}/${options.database}`
    this.#queryTimeoutMs = options.queryTimeoutMs ?? 30_000
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000
    this.#maxRows = Math.max(1, options.maxRowsPerStatement ?? 5000)
    this.#log = options.log
    const poolSize = options.poolSize ?? 4
    this.#pool = mysql.createPool({
      ...this.#connectionOptions(),
      database: options.database,
      connectionLimit: poolSize,
      maxIdle: poolSize,
      idleTimeout: 60_000,
      // Session variables (the time zone below) must survive a connection going back to the pool.
      resetOnRelease: false
    })
    // DATETIME has no zone: the session zone only matters for CURRENT_TIMESTAMP defaults and
    // NOW(), which must agree with the UTC text we write.
    this.#pool.pool.on('connection', connection => {
      connection.query("SET time_zone = '+00:00'", error => {
        if (error !== null) this.#log?.warn({ err: error, store: this.name }, 'could not set the session time zone to UTC')
      })
      // Every warning of a load is listed (the default keeps 64), so none can hide behind duplicates.
      connection.query('SET max_error_count = 65535', error => {
        if (error !== null) this.#log?.warn({ err: error, store: this.name }, 'could not raise max_error_count: a load\'s warnings past the 64th are not checked')
      })
    })
    this.#insertSql = `INSERT INTO ${quoteId(this.table)} ` +
      '(user_id, event_type, churn_score, event_timestamp, prediction_timestamp, metadata, kafka_topic, kafka_partition, kafka_offset) ' +
      'VALUES ? ON DUPLICATE KEY UPDATE id = id'
    this.#loadSql = `LOAD DATA LOCAL INFILE 'churnflow-rows.tsv' INTO TABLE ${quoteId(this.table)} CHARACTER SET utf8mb4 ` +
      "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' " +
      '(user_id, event_type, churn_score, event_timestamp, prediction_timestamp, metadata, kafka_topic, kafka_partition, kafka_offset)'
  }

  #connectionOptions (): mysql.ConnectionOptions {
    return {
      host: this.#options.host,
      port: this.#options.port ?? 3306,
      user: this.#options.user ?? 'root',
      ...(this.#options.password === undefined || this.#options.password === '' ? {} : { password: this.#options.password }),
      connectTimeout: this.#connectTimeoutMs,
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

  /** Whether large batches go in by LOAD DATA LOCAL (until the server refuses it once) rather than INSERT. */
  get loadsData (): boolean {
    return this.#load
  }

  #assertOpen (): void {
    if (this.#closed) throw new ChurnflowError(ErrorCodes.DATABASE_FAILED, `${this.name}: the store is closed`)
  }

  async ensureTable (): Promise<void> {
    this.#assertOpen()
    await this.#createDatabase()
    const table = quoteId(this.table)
    try {
      await this.#pool.query({ sql: createTableSql(table), timeout: this.#queryTimeoutMs })
      if (!await this.#exists('COLUMNS', 'COLUMN_NAME', 'kafka_topic')) {
        this.#log?.info({ store: this.name, table: this.table }, 'adding kafka_topic to an existing predictions table')
        await this.#tolerating(ER_DUP_FIELDNAME, `ALTER TABLE ${table} ADD COLUMN kafka_topic VARCHAR(249) NULL`)
      }
      if (!await this.#exists('STATISTICS', 'INDEX_NAME', 'uq_kafka_coordinates')) {
        this.#log?.info({ store: this.name, table: this.table }, 'adding the unique key on the Kafka coordinates to an existing predictions table')
        await this.#tolerating(ER_DUP_KEYNAME, `ALTER TABLE ${table} ADD UNIQUE KEY uq_kafka_coordinates (kafka_topic, kafka_partition, kafka_offset)`)
      }
    } catch (error) {
      throw databaseError(this.name, `creating table ${this.table}`, error, isTransientMysqlError)
    }
  }

  /** The database is created when the user may; one that may not is expected to find it there. */
  async #createDatabase (): Promise<void> {
    let connection: mysql.Connection | undefined
    try {
      connection = await mysql.createConnection(this.#connectionOptions())
      await connection.query({
        sql: `CREATE DATABASE IF NOT EXISTS ${quoteId(this.#options.database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
        timeout: this.#queryTimeoutMs
      })
    } catch (error) {
      if (!hasErrno(error, ER_DBACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR)) {
        throw databaseError(this.name, `creating database ${this.#options.database}`, error, isTransientMysqlError)
      }
      this.#log?.debug({ store: this.name, err: error }, 'not allowed to create the database; using it as it is')
    } finally {
      await connection?.end().catch(() => undefined)
    }
  }

  async tableState (): Promise<TableState> {
    this.#assertOpen()
    try {
      if (!await this.#exists('TABLES', 'TABLE_NAME', this.table)) return TableStates.MISSING
      const ready = await this.#exists('COLUMNS', 'COLUMN_NAME', 'kafka_topic') && await this.#exists('STATISTICS', 'INDEX_NAME', 'uq_kafka_coordinates')
      return ready ? TableStates.READY : TableStates.NEEDS_KEY
    } catch (error) {
      if (hasErrno(error, ER_BAD_DB_ERROR)) return TableStates.MISSING
      throw databaseError(this.name, `looking at table ${this.table}`, error, isTransientMysqlError)
    }
  }

  async #exists (view: 'TABLES' | 'COLUMNS' | 'STATISTICS', column: string, name: string): Promise<boolean> {
    const [rows] = await this.#pool.query<RowDataPacket[]>({
      sql: `SELECT 1 FROM information_schema.${view} WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND ${column} = ? LIMIT 1`,
      values: [this.table, name],
      timeout: this.#queryTimeoutMs
    })
    return rows.length > 0
  }

  /** Another process adopting the same table at the same moment gets there first: that is success. */
  async #tolerating (errno: number, sql: string): Promise<void> {
    try {
      await this.#pool.query({ sql, timeout: this.#queryTimeoutMs })
    } catch (error) {
      if (!hasErrno(error, errno)) throw error
    }
  }

  async insert (rows: readonly PredictionRow[]): Promise<number> {
    this.#assertOpen()
    if (rows.length === 0) return 0
    try {
      // Every statement is atomic and idempotent on its own (the unique key turns a replayed row
      // into a no-op), so a batch's statements need no transaction around them and run side by
      // side on the pool's connections: the server inserts them on as many threads.
      const counts = await Promise.all(this.#chunks(rows).map(chunk => this.#insertChunk(chunk)))
      return counts.reduce((sum, n) => sum + n, 0)
    } catch (error) {
      throw databaseError(this.name, `insert of ${rows.length} rows into ${this.table}`, error, isTransientMysqlError)
    }
  }

  async #insertChunk (rows: readonly PredictionRow[]): Promise<number> {
    if (this.#load && rows.length >= MIN_LOAD_ROWS) {
      try {
        return await this.#loadChunk(rows)
      } catch (error) {
        if (!hasErrno(error, ER_NOT_ALLOWED_COMMAND, ER_CLIENT_LOCAL_FILES_DISABLED, CR_LOAD_DATA_LOCAL_INFILE_REJECTED, ER_LOAD_INFILE_CAPABILITY_DISABLED)) throw error
        if (this.#load) this.#log?.info({ store: this.name, err: error }, 'the server does not take LOAD DATA LOCAL (local_infile is off); inserting rows with INSERT statements')
        this.#load = false
      }
    }
    const values = rows.map(r => [
      r.userId, r.eventType, r.churnScore, sqlTimestamp(r.eventTime), sqlTimestamp(r.predictionTime),
      r.metadata, r.topic, r.partition, r.offset
    ])
    const [result] = await this.#pool.query<ResultSetHeader>({ sql: this.#insertSql, values: [values], timeout: this.#queryTimeoutMs })
    return result.affectedRows
  }

  /**
   * The rows as LOAD DATA LOCAL text, written straight into one buffer: the server parses it for
   * less than a multi-row INSERT, and the client builds no statement text. A row whose key is
   * there already is skipped with a duplicate warning, as the INSERT's ON DUPLICATE KEY leaves
   * it; any other warning (a value cut short, a failed CHECK) means a row was not stored as
   * given, and fails the batch as the INSERT would have.
   */
  async #loadChunk (rows: readonly PredictionRow[]): Promise<number> {
    const data = loadDataText(rows)
    let connection: PoolConnection | undefined
    try {
      connection = await this.#pool.getConnection()
      const [result] = await connection.query<ResultSetHeader>({
        sql: this.#loadSql,
        timeout: this.#queryTimeoutMs,
        infileStreamFactory: () => Readable.from(pieces(data), { objectMode: false })
      } as mysql.QueryOptions)
      if (result.warningStatus > 0) {
        const [warnings] = await connection.query<RowDataPacket[]>('SHOW WARNINGS')
        const wrong = warnings.filter(w => w.Level !== 'Note' && Number(w.Code) !== ER_DUP_ENTRY)
        if (wrong.length > 0) {
          throw new ChurnflowError(ErrorCodes.DATABASE_FAILED,
            `${this.name}: ${wrong.length} of ${rows.length} rows were not stored as given (${wrong.slice(0, 3).map(w => `${String(w.Code)} ${String(w.Message)}`).join('; ')})`)
        }
      }
      return result.affectedRows
    } finally {
      connection?.release()
    }
  }

  /** Splits by rows and by an estimate of the statement's size, well under max_allowed_packet (16 MiB by default). */
  #chunks (rows: readonly PredictionRow[]): PredictionRow[][] {
    const maxBytes = 4 * 1024 * 1024
    // A large batch is cut in PARALLEL_STATEMENTS, each of at least MIN_PARALLEL_ROWS rows.
    const maxRows = Math.min(this.#maxRows, Math.max(MIN_PARALLEL_ROWS, Math.ceil(rows.length / PARALLEL_STATEMENTS)))
    const chunks: PredictionRow[][] = []
    let current: PredictionRow[] = []
    let bytes = 0
    for (const row of rows) {
      // Worst case escaping doubles a string; 4 bytes per UTF-16 unit covers any character.
      const size = 160 + 4 * (row.userId.length + row.eventType.length + row.topic.length + (row.metadata?.length ?? 0))
      if (current.length > 0 && (current.length >= maxRows || bytes + size > maxBytes)) {
        chunks.push(current)
        current = []
        bytes = 0
      }
      current.push(row)
      bytes += size
    }
    if (current.length > 0) chunks.push(current)
    return chunks
  }

  async ping (): Promise<void> {
    this.#assertOpen()
    try {
      await this.#pool.query({ sql: 'SELECT 1', timeout: this.#connectTimeoutMs })
    } catch (error) {
      throw databaseError(this.name, 'ping', error, isTransientMysqlError)
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

/** Seed 000's DDL, plus kafka_topic and the unique key that make replays insert nothing twice. */
function createTableSql (table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
    id INT AUTO_INCREMENT PRIMARY KEY,
    user_id VARCHAR(50) NOT NULL,
    event_type VARCHAR(50) NOT NULL,
    churn_score FLOAT NOT NULL,
    event_timestamp DATETIME NOT NULL,
    prediction_timestamp DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    metadata JSON,
    kafka_partition INT,
    kafka_offset BIGINT,
    kafka_topic VARCHAR(249),
    INDEX idx_user_id (user_id),
    INDEX idx_event_type (event_type),
    INDEX idx_churn_score (churn_score),
    INDEX idx_event_timestamp (event_timestamp),
    UNIQUE KEY uq_kafka_coordinates (kafka_topic, kafka_partition, kafka_offset)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`
}

/** A string as a LOAD DATA field: its backslashes, tabs, newlines, carriage returns and NULs escaped. */
const needsEscape = /[\\\t\n\r\0]/
const escapes: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' }
const escapeField = (s: string): string => needsEscape.test(s) ? s.replace(/[\\\t\n\r\0]/g, c => escapes[c] as string) : s

/** Tab-separated rows in the order of the load's column list, NULL as `\N`, each line ending in a newline. */
function loadDataText (rows: readonly PredictionRow[]): Buffer {
  let size = 0
  for (const r of rows) size += 96 + 2 * (r.userId.length + r.eventType.length + r.topic.length + (r.metadata?.length ?? 2))
  let out = Buffer.allocUnsafe(size)
  let at = 0
  const put = (s: string): void => {
    // Worst case, a UTF-16 unit is three bytes and escaping doubles it: grow rather than cut.
    if (at + 6 * s.length + 1 > out.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * out.length, at + 6 * s.length + 1024))
      out.copy(bigger, 0, 0, at)
      out = bigger
    }
    at += out.write(s, at, 'utf8')
  }
  for (const r of rows) {
    put(escapeField(r.userId))
    put('\t')
    put(escapeField(r.eventType))
    put(`\t${r.churnScore}\t${sqlTimestamp(r.eventTime)}\t${sqlTimestamp(r.predictionTime)}\t`)
    put(r.metadata === null ? '\\N' : escapeField(r.metadata))
    put('\t')
    put(escapeField(r.topic))
    put(`\t${r.partition}\t${r.offset}\n`)
  }
  return out.subarray(0, at)
}

/** A buffer in 256 KB pieces: each becomes one protocol packet. */
function * pieces (data: Buffer): Generator<Buffer> {
  for (let i = 0; i < data.length; i += 256 * 1024) yield data.subarray(i, i + 256 * 1024)
}
