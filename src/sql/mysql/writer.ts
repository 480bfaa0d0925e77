import { Readable } from 'node:stream'
import type mysql from 'mysql2/promise'
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import type { Logger } from '../../logging/index.ts'
import { chunkBySize } from '../../util/chunks.ts'
import { sqlTimestamp } from '../common.ts'
import { ColumnTypes, type ColumnType, type SqlValue, type TableSpec } from '../spec.ts'
import { hasErrno, MysqlErrnos, quoteId } from './driver.ts'

export interface MysqlWriterOptions {
  /** How long one statement may take, in ms (30000). */
  readonly queryTimeoutMs?: number
  /** Most rows in one statement (5000); larger batches are split. */
  readonly maxRowsPerStatement?: number
  readonly log?: Logger
  /** The store's name, for logs and errors. */
  readonly name: string
}

/** Statements a large batch is cut into, run at once (each on its own pooled connection). */
const PARALLEL_STATEMENTS = 2
/** Below this many rows a second statement costs more than it saves. */
const MIN_PARALLEL_ROWS = 1000
/** Below this many rows one INSERT beats a load, which costs a round trip more (the server asks for the data). */
const MIN_LOAD_ROWS = 100

type Values = readonly SqlValue[]

/**
 * Writes a spec's rows into a MySQL or MariaDB table: by LOAD DATA LOCAL (until the server
 * refuses it once), else by multi-row INSERT. A row whose unique key is there already is skipped
 * either way, so a replayed batch inserts nothing twice.
 */
export class MysqlTableWriter<Row> {
  readonly #pool: Pool
  readonly #spec: TableSpec<Row>
  readonly #types: readonly ColumnType[]
  readonly #options: MysqlWriterOptions
  readonly #timeoutMs: number
  readonly #maxRows: number
  readonly #insertSql: string
  readonly #loadSql: string
  #load = true

  constructor (pool: Pool, spec: TableSpec<Row>, table: string, options: MysqlWriterOptions) {
    this.#pool = pool
    this.#spec = spec
    this.#types = spec.columns.map(c => c.type)
    this.#options = options
    this.#timeoutMs = options.queryTimeoutMs ?? 30_000
    this.#maxRows = Math.max(1, options.maxRowsPerStatement ?? 5000)
    const columns = spec.columns.map(c => c.name).join(', ')
    // Setting a key column to itself changes nothing: with -FOUND_ROWS the duplicate counts 0 rows.
    const same = spec.identity ?? spec.unique.columns[0] ?? ''
    this.#insertSql = `INSERT INTO ${quoteId(table)} (${columns}) VALUES ? ON DUPLICATE KEY UPDATE ${same} = ${same}`
    this.#loadSql = `LOAD DATA LOCAL INFILE 'churnflow-rows.tsv' INTO TABLE ${quoteId(table)} CHARACTER SET utf8mb4 ` +
      "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' " +
      `(${columns})`
  }

  /** Whether large batches go in by LOAD DATA LOCAL (until the server refuses it once) rather than INSERT. */
  get loadsData (): boolean {
    return this.#load
  }

  /**
   * Inserts the rows; resolves to how many were new. Every statement is atomic and idempotent on
   * its own (the unique key turns a replayed row into a no-op), so a batch's statements need no
   * transaction around them and run side by side on the pool's connections.
   */
  async write (rows: readonly Row[]): Promise<number> {
    if (rows.length === 0) return 0
    const chunks = this.#chunks(rows.map(this.#spec.values), PARALLEL_STATEMENTS)
    const counts = await Promise.all(chunks.map(chunk => this.#writeChunk(undefined, chunk)))
    return counts.reduce((sum, n) => sum + n, 0)
  }

  /** Inserts the rows one statement after another on this connection, inside whatever transaction it holds. */
  async writeOn (connection: PoolConnection, rows: readonly Row[]): Promise<number> {
    let inserted = 0
    for (const chunk of this.#chunks(rows.map(this.#spec.values), 1)) inserted += await this.#writeChunk(connection, chunk)
    return inserted
  }

  /** One statement, on `connection` when given, else on any of the pool's. */
  async #writeChunk (connection: PoolConnection | undefined, rows: readonly Values[]): Promise<number> {
    if (this.#load && rows.length >= MIN_LOAD_ROWS) {
      try {
        return await this.#loadChunk(connection, rows)
      } catch (error) {
        if (!hasErrno(error, MysqlErrnos.ER_NOT_ALLOWED_COMMAND, MysqlErrnos.ER_CLIENT_LOCAL_FILES_DISABLED,
          MysqlErrnos.CR_LOAD_DATA_LOCAL_INFILE_REJECTED, MysqlErrnos.ER_LOAD_INFILE_CAPABILITY_DISABLED)) throw error
        if (this.#load) this.#options.log?.info({ store: this.#options.name, err: error }, 'the server does not take LOAD DATA LOCAL (local_infile is off); inserting rows with INSERT statements')
        this.#load = false
      }
    }
    const values = rows.map(row => row.map((v, i) => isTimestamp(this.#types[i]) && typeof v === 'number' ? sqlTimestamp(v) : v))
    const [result] = await (connection ?? this.#pool).query<ResultSetHeader>({ sql: this.#insertSql, values: [values], timeout: this.#timeoutMs })
    return result.affectedRows
  }

  /**
   * The rows as LOAD DATA LOCAL text: the server parses it for less than a multi-row INSERT, and
   * the client builds no statement text. A row whose key is there already is skipped with a
   * duplicate warning, as the INSERT's ON DUPLICATE KEY leaves it; any other warning (a value cut
   * short, a failed CHECK) means a row was not stored as given, and fails the batch as the INSERT
   * would have.
   */
  async #loadChunk (given: PoolConnection | undefined, rows: readonly Values[]): Promise<number> {
    const data = loadDataText(rows, this.#types)
    // The warnings must be read on the connection that loaded.
    const borrowed = given === undefined ? await this.#pool.getConnection() : undefined
    const target = given ?? borrowed as PoolConnection
    try {
      const [result] = await target.query<ResultSetHeader>({
        sql: this.#loadSql,
        timeout: this.#timeoutMs,
        infileStreamFactory: () => Readable.from(pieces(data), { objectMode: false })
      } as mysql.QueryOptions)
      if (result.warningStatus > 0) {
        const [warnings] = await target.query<RowDataPacket[]>('SHOW WARNINGS')
        const wrong = warnings.filter(w => w.Level !== 'Note' && Number(w.Code) !== MysqlErrnos.ER_DUP_ENTRY)
        if (wrong.length > 0) {
          throw new ChurnflowError(ErrorCodes.DATABASE_FAILED,
            `${this.#options.name}: ${wrong.length} of ${rows.length} rows were not stored as given (${wrong.slice(0, 3).map(w => `${String(w.Code)} ${String(w.Message)}`).join('; ')})`)
        }
      }
      return result.affectedRows
    } finally {
      borrowed?.release()
    }
  }

  /** Splits by rows and by an estimate of the statement's size, well under max_allowed_packet (16 MiB by default). */
  #chunks (rows: readonly Values[], parallel: number): Values[][] {
    const maxBytes = 4 * 1024 * 1024
    // A large batch is cut in `parallel` statements, each of at least MIN_PARALLEL_ROWS rows.
    const maxRows = Math.min(this.#maxRows, Math.max(MIN_PARALLEL_ROWS, Math.ceil(rows.length / parallel)))
    // Worst case escaping doubles a string; 4 bytes per UTF-16 unit covers any character.
    return chunkBySize(rows, row => {
      let size = 160
      for (const v of row) if (typeof v === 'string') size += 4 * v.length
      return size
    }, maxBytes, maxRows)
  }
}

const isTimestamp = (type: ColumnType | undefined): boolean => type === ColumnTypes.TIMESTAMP || type === ColumnTypes.INSTANT

/** A string as a LOAD DATA field: its backslashes, tabs, newlines, carriage returns and NULs escaped. */
const needsEscape = /[\\\t\n\r\0]/
const escapes: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' }
const escapeField = (s: string): string => needsEscape.test(s) ? s.replace(/[\\\t\n\r\0]/g, c => escapes[c] as string) : s

/** One value as a LOAD DATA field, NULL as `\N`. */
function field (value: SqlValue, type: ColumnType | undefined): string {
  if (value === null) return '\\N'
  if (typeof value === 'string') return escapeField(value)
  if (typeof value === 'number' && isTimestamp(type)) return sqlTimestamp(value)
  return String(value)
}

/** Tab-separated rows in the order of the load's column list, each line ending in a newline. */
function loadDataText (rows: readonly Values[], types: readonly ColumnType[]): Buffer {
  let size = 0
  for (const row of rows) {
    size += 16 * row.length
    for (const v of row) if (typeof v === 'string') size += 2 * v.length
  }
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
  for (const row of rows) {
    let line = ''
    for (let i = 0; i < row.length; i++) line += (i === 0 ? '' : '\t') + field(row[i] as SqlValue, types[i])
    put(line + '\n')
  }
  return out.subarray(0, at)
}

/** A buffer in 256 KB pieces: each becomes one protocol packet. */
function * pieces (data: Buffer): Generator<Buffer> {
  for (let i = 0; i < data.length; i += 256 * 1024) yield data.subarray(i, i + 256 * 1024)
}
