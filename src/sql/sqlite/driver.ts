import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync } from 'node:sqlite'

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
  if (!memory) mkdirSync(dirname(options.path), { recursive: true })
  const db = new DatabaseSync(options.path, { timeout: options.busyTimeoutMs ?? 5000 })
  try {
    if (!memory) db.exec('PRAGMA journal_mode = WAL')
  } catch (error) {
    db.close()
    throw error
  }
  return db
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
