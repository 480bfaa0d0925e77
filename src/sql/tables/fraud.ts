import type { FraudPredictionRow, TransactionRow } from '../../fraud/rows.ts'
import { ColumnTypes, type TableSpec } from '../spec.ts'

/**
 * The fraud streaming consumer's `transactions` table as the writer fills it: one row per
 * transaction_id. The table itself is created by the versioned migrations in
 * `migrations/fraud.ts` (created_at is the database's own); a test checks that every column
 * here is in the migrated table.
 */
export const transactionsTable: TableSpec<TransactionRow> = {
  name: 'transactions',
  columns: [
    { name: 'transaction_id', type: ColumnTypes.TEXT, length: 64 },
    { name: 'account_id', type: ColumnTypes.TEXT, length: 64 },
    { name: 'card_id', type: ColumnTypes.TEXT, length: 64, nullable: true },
    { name: 'amount', type: ColumnTypes.DOUBLE },
    { name: 'currency', type: ColumnTypes.TEXT, length: 3 },
    { name: 'merchant_id', type: ColumnTypes.TEXT, length: 64 },
    { name: 'merchant_category', type: ColumnTypes.TEXT, length: 64 },
    { name: 'channel', type: ColumnTypes.TEXT, length: 32 },
    { name: 'country', type: ColumnTypes.TEXT, length: 2 },
    { name: 'event_timestamp', type: ColumnTypes.INSTANT },
    { name: 'extra', type: ColumnTypes.JSON, nullable: true }
  ],
  unique: { name: 'transactions_pkey', columns: ['transaction_id'] },
  indexes: [],
  values: t => [t.transactionId, t.accountId, t.cardId, t.amount, t.currency, t.merchantId, t.merchantCategory, t.channel, t.country, t.eventTime, t.extra]
}

/**
 * The fraud streaming consumer's `predictions` table as the writer fills it: one row per
 * transaction_id, which references `transactions`, with the Kafka coordinates it was read at.
 */
export const fraudPredictionsTable: TableSpec<FraudPredictionRow> = {
  name: 'predictions',
  identity: 'id',
  columns: [
    { name: 'transaction_id', type: ColumnTypes.TEXT, length: 64 },
    { name: 'fraud_score', type: ColumnTypes.DOUBLE },
    { name: 'prediction', type: ColumnTypes.TEXT, length: 5 },
    { name: 'model_version', type: ColumnTypes.TEXT, length: 64 },
    { name: 'reasons', type: ColumnTypes.JSON },
    { name: 'kafka_topic', type: ColumnTypes.TEXT, length: 249, nullable: true },
    { name: 'kafka_partition', type: ColumnTypes.INTEGER, nullable: true },
    { name: 'kafka_offset', type: ColumnTypes.BIGINT, nullable: true }
  ],
  unique: { name: 'predictions_transaction_id_key', columns: ['transaction_id'] },
  indexes: [],
  values: p => [p.transactionId, p.fraudScore, p.prediction, p.modelVersion, p.reasons, p.topic, p.partition, p.offset]
}
