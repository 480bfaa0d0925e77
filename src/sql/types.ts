import type { FraudPredictionRow, TransactionRow } from '../fraud/rows.ts'
import type { IndexSpec } from './spec.ts'

/**
 * One stored churn prediction: a row of the churn prediction consumer's `churn_predictions` table plus the Kafka topic,
 * which together with partition and offset is the unique key that makes writes idempotent.
 */
export interface PredictionRow {
  /** The event's user_id or customer_id, as text (VARCHAR(50)). */
  readonly userId: string
  readonly eventType: string
  readonly churnScore: number
  /** Event time, epoch ms (UTC). */
  readonly eventTime: number
  /** When the prediction was made, epoch ms (UTC). */
  readonly predictionTime: number
  /** The event's metadata (user-events) or data (customer-events) as JSON text, or null. */
  readonly metadata: string | null
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
}

export const SqlDialects = {
  MYSQL: 'mysql',
  POSTGRES: 'postgres',
  SQLITE: 'sqlite'
} as const
export type SqlDialect = (typeof SqlDialects)[keyof typeof SqlDialects]

/** What `ensureTable()` would find: nothing, the original table without the unique key, or a table ready for idempotent writes. */
export const TableStates = {
  MISSING: 'missing',
  NEEDS_KEY: 'needs-key',
  READY: 'ready'
} as const
export type TableState = (typeof TableStates)[keyof typeof TableStates]

/**
 * One table, written idempotently: every backend has the spec's columns in its own types and its
 * unique key, so a replayed batch inserts nothing twice. `openTableStore()` gives one for any spec;
 * `Symbol.asyncDispose` closes it, as `close()` does.
 */
export interface TableStore<Row> extends AsyncDisposable {
  readonly dialect: SqlDialect
  /** For logs and /health, with no password: `mysql root@127.0.0.1:3306/churn_db`, `sqlite /path/file.db`. */
  readonly name: string
  readonly table: string
  /**
   * Creates the table when it is missing; on a table that already has the original columns it
   * adds only what idempotency needs (the spec's adoption columns, such as churn_predictions'
   * kafka_topic, and the unique key). Idempotent and safe
   * when several processes run it at once.
   */
  ensureTable (): Promise<void>
  /** Looks at the table without changing anything (for `churnflow doctor`); rejects like `ping()` when the database does not answer. */
  tableState (): Promise<TableState>
  /**
   * The spec's indexes an existing table lacks, which `ensureTable()` would add (none for a
   * missing table, which gets them with it); changes nothing.
   */
  missingIndexes (): Promise<IndexSpec[]>
  /**
   * Inserts the rows in one statement or transaction; rows whose Kafka coordinates are already
   * stored are skipped. Resolves to the number of rows actually inserted. A dependency failure
   * rejects with a ChurnflowError whose `retriable` is true (connection refused or lost, timeout,
   * deadlock, server shutting down); anything else (bad SQL, permission) is not retriable.
   */
  insert (rows: readonly Row[]): Promise<number>
  /** Round trip to the database; rejects (retriable) when it is not answering. */
  ping (): Promise<void>
  close (): Promise<void>
}

/**
 * Where churn predictions are stored: `churn_predictions`, with a unique key on (kafka_topic,
 * kafka_partition, kafka_offset).
 */
export type PredictionStore = TableStore<PredictionRow>

/** How many rows of a fraud batch were new in each table (the rest were there already: a replay). */
export interface FraudWriteResult {
  readonly transactions: number
  readonly predictions: number
}

/**
 * Where the fraud pipeline's rows go: `transactions` and `predictions`, created by the
 * migrations (`migrate()`), with exactly one row per transaction_id in each.
 */
export interface FraudStore extends AsyncDisposable {
  readonly dialect: SqlDialect
  /** For logs and /health, with no password. */
  readonly name: string
  /**
   * Writes a batch's transactions and their predictions in one database transaction: all of it
   * or none. A transaction_id already stored is skipped in either table, so a replayed or
   * overlapping batch stores nothing twice. A dependency failure rejects with a ChurnflowError
   * whose `retriable` is true, as `PredictionStore.insert` does.
   */
  write (transactions: readonly TransactionRow[], predictions: readonly FraudPredictionRow[]): Promise<FraudWriteResult>
  /** Round trip to the database; rejects (retriable) when it is not answering. */
  ping (): Promise<void>
  close (): Promise<void>
}
