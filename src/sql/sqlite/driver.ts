import { accessSync, constants, existsSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync, type SQLInputValue } from 'node:sqlite'
import {
  CompiledQuery, SqliteAdapter, SqliteDriver, SqliteIntrospector, SqliteQueryCompiler,
  type DatabaseConnection, type DatabaseIntrospector, type Dialect, type DialectAdapter, type Driver, type Kysely,
  type QueryCompiler, type SqliteDatabase, type SqliteStatement
} from 'kysely'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import { databaseError } from '../common.ts'

/** Where a SQLite database is. */
export interface SqliteConnectionOptions {
  /** The database file, whose directory is created when missing, or `:memory:`. */
  readonly path: string
  /** How long a write waits for another connection's write lock, in ms (5000). */
  readonly busyTimeoutMs?: number
}

const SQLITE_BUSY = 5
const SQLITE_LOCKED = 6

/** True when another connection holds the lock the operation needed: trying later may work. */
export function isTransientSqliteError (error: unknown): boolean {
  const errcode = (error as { errcode?: unknown } | null)?.errcode
  // Extended result codes keep the primary code in the low byte.
  return typeof errcode === 'number' && [SQLITE_BUSY, SQLITE_LOCKED].includes(errcode & 0xff)
}

export const quoteId = (name: string): string => '"' + name.replaceAll('"', '""') + '"'

/** Opens the file (creating its directory) in WAL mode, so readers never wait for the writer. */
export function openSqlite (options: SqliteConnectionOptions): DatabaseSync {
  const memory = options.path === ':memory:'
  const timeoutMs = options.busyTimeoutMs ?? 5000
  if (!memory) mkdirSync(dirname(options.path), { recursive: true })
  const db = new DatabaseSync(options.path, { timeout: timeoutMs })
  try {
    if (!memory) enterWal(db, timeoutMs)
  } catch (error) {
    db.close()
    throw error
  }
  return db
}

/**
 * Switches the file to WAL. SQLite does not call its busy handler for this switch: a connection
 * opening a new file while another switches it is refused at once with SQLITE_BUSY. So it tries
 * again, pausing a little longer each time, until the busy timeout has passed.
 */
function enterWal (db: DatabaseSync, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs
  const pause = new Int32Array(new SharedArrayBuffer(4))
  for (let waitMs = 2; ; waitMs = Math.min(waitMs * 2, 100)) {
    try {
      db.exec('PRAGMA journal_mode = WAL')
      return
    } catch (error) {
      if (!isTransientSqliteError(error) || Date.now() >= deadline) throw error
      // node:sqlite is synchronous, and so is its own busy wait: this blocks the thread the same way.
      Atomics.wait(pause, 0, 0, waitMs)
    }
  }
}

/** Runs `work` in one write transaction; BEGIN IMMEDIATE takes the write lock up front, so a busy database fails here, not halfway. */
export function sqliteTransaction<T> (db: DatabaseSync, work: () => T): T {
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

/** node:sqlite's DatabaseSync as the better-sqlite3-like database kysely's SQLite driver expects. */
class NodeSqliteDatabase implements SqliteDatabase {
  readonly #db: DatabaseSync

  constructor (db: DatabaseSync) {
    this.#db = db
  }

  close (): void {
    if (this.#db.isOpen) this.#db.close()
  }

  prepare (sql: string): SqliteStatement {
    const statement = this.#db.prepare(sql)
    const params = (p: readonly unknown[]): SQLInputValue[] => p as SQLInputValue[]
    return {
      reader: statement.columns().length > 0,
      all: p => statement.all(...params(p)),
      run: p => statement.run(...params(p)),
      iterate: p => statement.iterate(...params(p))
    }
  }
}

/** Opens transactions with BEGIN IMMEDIATE: the write lock is taken up front, so two processes migrating one file take turns. */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction (connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
  }
}

/**
 * SQLite's DDL is transactional: saying so makes kysely's Migrator run each migration in a
 * transaction, which (with BEGIN IMMEDIATE) is the lock SQLite's own adapter goes without.
 */
class TransactionalSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl (): boolean {
    return true
  }
}

/** Kysely on node:sqlite, for migrations. */
export class NodeSqliteDialect implements Dialect {
  readonly #options: SqliteConnectionOptions

  constructor (options: SqliteConnectionOptions) {
    this.#options = options
  }

  createDriver (): Driver {
    return new ImmediateSqliteDriver({ database: async () => new NodeSqliteDatabase(openSqlite(this.#options)) })
  }

  createQueryCompiler (): QueryCompiler {
    return new SqliteQueryCompiler()
  }

  createAdapter (): DialectAdapter {
    return new TransactionalSqliteAdapter()
  }

  createIntrospector (db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db)
  }
}

/** One SQLite file as a store holds it: opened on first use, so constructing one never touches the disk. */
export class SqliteFile implements AsyncDisposable {
  readonly name: string
  readonly options: SqliteConnectionOptions
  readonly #onOpen: ((db: DatabaseSync) => void) | undefined
  #db: DatabaseSync | undefined
  #closed = false

  /** `onOpen` runs on the connection when it opens (a PRAGMA the store needs). */
  constructor (options: SqliteConnectionOptions, onOpen?: (db: DatabaseSync) => void) {
    this.options = options
    this.name = `sqlite ${options.path}`
    this.#onOpen = onOpen
  }

  /** Whether the file has been opened (and not closed). */
  get opened (): boolean {
    return this.#db !== undefined
  }

  /**
   * Whether the file is not there yet (and so not opened): looking at a store must not leave an
   * empty database file behind, so a look answers from this instead of opening it.
   */
  get absent (): boolean {
    return this.#db === undefined && this.options.path !== ':memory:' && !existsSync(this.options.path)
  }

  /** The connection, opened now if need be; throws once closed. */
  open (): DatabaseSync {
    if (this.#closed) throw new ChurnflowError(ErrorCodes.DATABASE_FAILED, `${this.name}: the store is closed`)
    if (this.#db === undefined) {
      const db = openSqlite(this.options)
      this.#onOpen?.(db)
      this.#db = db
    }
    return this.#db
  }

  /** The file answers, or, while it is absent, could be created: the nearest directory there is writable. */
  async ping (): Promise<void> {
    try {
      if (this.absent) {
        let dir = dirname(this.options.path)
        while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir)
        accessSync(dir, constants.W_OK)
        return
      }
      this.open().prepare('SELECT 1').get()
    } catch (error) {
      throw databaseError(this.name, 'ping', error, isTransientSqliteError)
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    const db = this.#db
    this.#db = undefined
    if (db?.isOpen === true) db.close()
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }
}
