/**
 * The fraud pipeline's rows, as its SQL tables store them (the fraud streaming consumer's
 * `transactions` and `predictions` tables). One home for the shape that the pipeline builds and
 * the table specs write.
 */

/** One row of `transactions`, keyed by `transaction_id`. */
export interface TransactionRow {
  readonly transactionId: string
  readonly accountId: string
  /** Card or payment instrument, when the transaction names one; else null. */
  readonly cardId: string | null
  readonly amount: number
  /** ISO 4217, upper case. */
  readonly currency: string
  readonly merchantId: string
  readonly merchantCategory: string
  readonly channel: string
  /** ISO 3166-1 alpha-2, upper case. */
  readonly country: string
  /** The transaction's own time, epoch ms (UTC). */
  readonly eventTime: number
  /** The fields beyond the schema's, as JSON text of an object; null when there are none. */
  readonly extra: string | null
}

export const FraudLabels = {
  FRAUD: 'fraud',
  LEGIT: 'legit'
} as const
export type FraudLabel = (typeof FraudLabels)[keyof typeof FraudLabels]

/** One row of `predictions`: a transaction's score, unique per `transaction_id`. */
export interface FraudPredictionRow {
  readonly transactionId: string
  readonly fraudScore: number
  readonly prediction: FraudLabel
  readonly modelVersion: string
  /** The top reasons as JSON text of an array (jsonb in PostgreSQL). */
  readonly reasons: string
  /** Where the transaction was read: Kafka topic, partition and offset. */
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
}
