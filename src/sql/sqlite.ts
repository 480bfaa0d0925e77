import { existsSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import type { Logger } from '../logging/index.ts'
import { databaseError, defaultTable, sqlTimestamp, validTable } from './common.ts'
import { SqlDialects, TableStates, type PredictionRow, type PredictionStore, type TableState } from './types.ts'

export interface SqliteStoreOptions {
  /** The database file, whose directory is created when missing, or `:memory:`. */
  readonly path: string
  /** `churn_predictions` when not given. */
  readonly table?: string
  /** How long a write waits for another connection's write lock, in ms (5000). */
  readonly busyTimeoutMs?: number
  readonly log?: Logger
}

const SQLITE_BUSY = 5
const SQLITE_LOCKED = 6

/** True when another connection holds the lock the operation needed: trying later may work. */
export function isTransientSqliteError (error: unknown): boolean {
  const errcode = (error as { errcode?: unknown } | null)?.errcode
  // Extended result codes keep the primary code in the low byte.
  return typeof errcode === 'number' && [SQLITE_BUSY, SQLITE_LOCKED].includes(errcode & 0xff)
}

const quoteId = (name: string): string => '"' + name.replaceAll('"', '""') + '"'

/**
 * Predictions in a local SQLite file (WAL, so readers never wait for the writer), with the same
 * columns as seed 000's table: timestamps as `YYYY-MM-DD HH:MM:SS.mmm` UTC text, metadata as
 * JSON text, and a unique index on the Kafka coordinates.
 */
export class SqlitePredictionStore implements PredictionStore {
  readonly dialect = SqlDialects.SQLITE
  readonly name: string
  readonly table: string
  readonly #path: string
  readonly #busyTimeoutMs: number
  readonly #log: Logger | undefined
  #db: DatabaseSync | undefined
  #insert: StatementSync | undefined
  #closed = false

  constructor (options: SqliteStoreOptions) {
    this.table = validTable(options.table ?? defaultTable)
    this.#path = options.path
    this.name = `sqlite ${options.path}`
    this.#busyTimeoutMs = options.busyTimeoutMs ?? 5000
    this.#log = options.log
  }

  /** Opened on first use, so constructing a store never touches the disk and every failure is a rejection. */
  #open (): DatabaseSync {
    if (this.#closed) throw new ChurnflowError(ErrorCodes.DATABASE_FAILED, `${this.name}: the store is closed`)
    if (this.#db !== undefined) return this.#db
    const memory = this.#path === ':memory:'
    if (!memory) mkdirSync(dirname(this.#path), { recursive: true })
    const db = new DatabaseSync(this.#path, { timeout: this.#busyTimeoutMs })
    try {
      if (!memory) db.exec('PRAGMA journal_mode = WAL')
    } catch (error) {
      db.close()
      throw error
    }
    this.#db = db
    return db
  }

  /** Runs `work` in one write transaction; BEGIN IMMEDIATE takes the write lock up front, so a busy database fails here, not halfway. */
  #transaction<T> (db: DatabaseSync, work: () => T): T {
    db.exec('BEGIN IMMEDIATE')
    try {
      const result = work()
      db.exec('COMMIT')
      return result
    } catch (error) {
      if (db.isTransaction) db.exec('ROLLBACK')
      throw error
    }
  }

  async ensureTable (): Promise<void> {
    try {
      const db = this.#open()
      const t = quoteId(this.table)
      const unique = `CREATE UNIQUE INDEX IF NOT EXISTS ${quoteId(`${this.table}_uq_kafka_coordinates`)} ON ${t} (kafka_topic, kafka_partition, kafka_offset)`
      this.#transaction(db, () => {
        const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(this.table) !== undefined
        if (!exists) {
          db.exec(`CREATE TABLE ${t} (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id TEXT NOT NULL,
            event_type TEXT NOT NULL,
            churn_score REAL NOT NULL,
            event_timestamp TEXT NOT NULL,
            prediction_timestamp TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
            metadata TEXT,
            kafka_partition INTEGER,
            kafka_offset INTEGER,
            kafka_topic TEXT
          )`)
          db.exec(unique)
          for (const column of ['user_id', 'event_type', 'churn_score', 'event_timestamp']) {
            db.exec(`CREATE INDEX IF NOT EXISTS ${quoteId(`${this.table}_idx_${column}`)} ON ${t} (${column})`)
          }
          return
        }
        // An existing table is adopted with the least change: the column and the key, nothing else.
        if (db.prepare("SELECT 1 FROM pragma_table_info(?) WHERE name = 'kafka_topic'").get(this.table) === undefined) {
          this.#log?.info({ store: this.name, table: this.table }, 'adding kafka_topic to an existing predictions table')
          db.exec(`ALTER TABLE ${t} ADD COLUMN kafka_topic TEXT`)
        }
        db.exec(unique)
      })
    } catch (error) {
      throw databaseError(this.name, `creating table ${this.table}`, error, isTransientSqliteError)
    }
  }

  async tableState (): Promise<TableState> {
    try {
      // Looking must not leave an empty database file behind.
      if (this.#db === undefined && this.#path !== ':memory:' && !existsSync(this.#path)) return TableStates.MISSING
      const db = this.#open()
      if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(this.table) === undefined) return TableStates.MISSING
      const topic = db.prepare("SELECT 1 FROM pragma_table_info(?) WHERE name = 'kafka_topic'").get(this.table) !== undefined
      const key = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(`${this.table}_uq_kafka_coordinates`) !== undefined
      return topic && key ? TableStates.READY : TableStates.NEEDS_KEY
    } catch (error) {
      throw databaseError(this.name, `looking at table ${this.table}`, error, isTransientSqliteError)
    }
  }

  async insert (rows: readonly PredictionRow[]): Promise<number> {
    if (rows.length === 0) return 0
    try {
      const db = this.#open()
      // ON CONFLICT on the coordinates, not INSERT OR IGNORE: OR IGNORE would also drop rows that
      // break NOT NULL, hiding a bug as "already stored".
      const statement = this.#insert ?? db.prepare(`INSERT INTO ${quoteId(this.table)}
        (user_id, event_type, churn_score, event_timestamp, prediction_timestamp, metadata, kafka_topic, kafka_partition, kafka_offset)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (kafka_topic, kafka_partition, kafka_offset) DO NOTHING`)
      this.#insert = statement
      return this.#transaction(db, () => {
        let inserted = 0
        for (const r of rows) {
          const result = statement.run(r.userId, r.eventType, r.churnScore, sqlTimestamp(r.eventTime), sqlTimestamp(r.predictionTime),
            r.metadata, r.topic, r.partition, r.offset)
          inserted += Number(result.changes)
        }
        return inserted
      })
    } catch (error) {
      throw databaseError(this.name, `insert of ${rows.length} rows into ${this.table}`, error, isTransientSqliteError)
    }
  }

  async ping (): Promise<void> {
    try {
      this.#open().prepare('SELECT 1').get()
    } catch (error) {
      throw databaseError(this.name, 'ping', error, isTransientSqliteError)
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    const db = this.#db
    this.#db = undefined
    this.#insert = undefined
    if (db?.isOpen === true) db.close()
  }

  /** Closes the store as `close()` does, for `await using` and an `AsyncDisposableStack`. */
  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }
}
