import { ChurnflowError, ErrorCodes, isChurnflowError } from '../errors.ts'
import { utcText } from '../events/index.ts'
import { churnPredictionsTable } from './tables/churn-predictions.ts'

/** The churn prediction consumer's table name. */
export const defaultTable = churnPredictionsTable.name

const identifier = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/

/**
 * Table names are spliced into DDL and DML (placeholders cannot name a table), so only plain
 * identifiers are accepted, never anything that needs quoting to be safe.
 */
export function validTable (table: string): string {
  if (!identifier.test(table)) {
    throw new ChurnflowError(ErrorCodes.CONFIG_INVALID,
      `invalid SQL table name ${JSON.stringify(table)}: expected a letter or _ then up to 63 letters, digits or _`)
  }
  return table
}

/**
 * `YYYY-MM-DD HH:MM:SS.mmm` in UTC. Every backend is handed text, not a Date, so neither the
 * driver's nor the server's time zone can shift what is stored.
 */
export function sqlTimestamp (ms: number): string {
  // A batch's rows share their prediction time and often an event time: format each once. Two
  // slots, because rows alternate an event time with the batch's prediction time.
  if (ms === msA) return textA
  if (ms === msB) return textB
  msB = msA
  textB = textA
  msA = ms
  const fast = utcText(ms, ' ', '')
  if (fast !== undefined) return textA = fast
  const iso = new Date(ms).toISOString()
  textA = `${iso.slice(0, 10)} ${iso.slice(11, 23)}`
  return textA
}

let msA = NaN
let textA = ''
let msB = NaN
let textB = ''

/** Every `code` along an error, its `errors` (AggregateError from multi-address connects) and `cause` chain. */
export function errorCodes (error: unknown): string[] {
  const codes: string[] = []
  const seen = new Set<unknown>()
  const visit = (e: unknown): void => {
    if (typeof e !== 'object' || e === null || seen.has(e)) return
    seen.add(e)
    const { code, errors, cause } = e as { code?: unknown, errors?: unknown, cause?: unknown }
    if (typeof code === 'string') codes.push(code)
    if (Array.isArray(errors)) for (const inner of errors) visit(inner)
    visit(cause)
  }
  visit(error)
  return codes
}

/** Socket-level failures: the database is down, restarting or unreachable, not wrong. */
export const networkErrorCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'EHOSTDOWN',
  'ENETUNREACH', 'ENETDOWN', 'ENETRESET', 'EAI_AGAIN', 'ENOTFOUND'
])

export function message (error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * Wraps a driver error: `DATABASE_UNAVAILABLE` (retriable) when `transient` says the database
 * was unreachable or busy, else `DATABASE_FAILED`. ChurnflowErrors pass through unchanged.
 */
export function databaseError (storeName: string, what: string, error: unknown, transient: (error: unknown) => boolean): ChurnflowError {
  if (isChurnflowError(error)) return error
  return transient(error)
    ? new ChurnflowError(ErrorCodes.DATABASE_UNAVAILABLE, `${storeName} is unavailable (${what}): ${message(error)}`, { retriable: true, cause: error })
    : new ChurnflowError(ErrorCodes.DATABASE_FAILED, `${storeName}: ${what} failed: ${message(error)}`, { cause: error })
}

/** A database behind a connection pool, as a dialect's stores share it: the pool until closed, a ping, and closing. */
export abstract class PooledDatabase<P extends { end (): Promise<void> }> implements AsyncDisposable {
  readonly name: string
  readonly #pool: P
  #closed = false

  constructor (name: string, pool: P) {
    this.name = name
    this.#pool = pool
  }

  /** Throws once the database is closed. */
  assertOpen (): void {
    if (this.#closed) throw new ChurnflowError(ErrorCodes.DATABASE_FAILED, `${this.name}: the store is closed`)
  }

  /** The pool; throws once the database is closed. */
  get pool (): P {
    this.assertOpen()
    return this.#pool
  }

  /** Round trip to the database; rejects (retriable) when it is not answering. */
  abstract ping (): Promise<void>

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#pool.end().catch(() => undefined)
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }
}
