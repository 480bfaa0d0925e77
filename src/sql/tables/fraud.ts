import type { FraudPredictionRow, TransactionRow } from '../../fraud/rows.ts'
import { ColumnTypes, defineTable, type TableSpec } from '../spec.ts'

/**
 * The fraud streaming consumer's `transactions` table as the writer fills it: one row per
 * transaction_id. The table itself is created by the versioned migrations in
 * `migrations/fraud.ts` (created_at is the database's own); a test checks that every column
 * here is in the migrated table.
 */
export const transactionsTable: TableSpec<TransactionRow> = defineTable<TransactionRow>()({
  name: 'transactions',
  columns: {
    transaction_id: { type: ColumnTypes.TEXT, length: 64 },
    account_id: { type: ColumnTypes.TEXT, length: 64 },
    card_id: { type: ColumnTypes.TEXT, length: 64, nullable: true },
    amount: { type: ColumnTypes.DOUBLE },
    currency: { type: ColumnTypes.TEXT, length: 3 },
    merchant_id: { type: ColumnTypes.TEXT, length: 64 },
    merchant_category: { type: ColumnTypes.TEXT, length: 64 },
    channel: { type: ColumnTypes.TEXT, length: 32 },
    country: { type: ColumnTypes.TEXT, length: 2 },
    event_timestamp: { type: ColumnTypes.INSTANT },
    extra: { type: ColumnTypes.JSON, nullable: true }
  },
  unique: { name: 'transactions_pkey', columns: ['transaction_id'] },
  indexes: [],
  values: t => ({
    transaction_id: t.transactionId,
    account_id: t.accountId,
    card_id: t.cardId,
    amount: t.amount,
    currency: t.currency,
    merchant_id: t.merchantId,
    merchant_category: t.merchantCategory,
    channel: t.channel,
    country: t.country,
    event_timestamp: t.eventTime,
    extra: t.extra
  })
})

/**
 * The fraud streaming consumer's `predictions` table as the writer fills it: one row per
 * transaction_id, which references `transactions`, with the Kafka coordinates it was read at.
 */
export const fraudPredictionsTable: TableSpec<FraudPredictionRow> = defineTable<FraudPredictionRow>()({
  name: 'predictions',
  identity: 'id',
  columns: {
    transaction_id: { type: ColumnTypes.TEXT, length: 64 },
    fraud_score: { type: ColumnTypes.DOUBLE },
    prediction: { type: ColumnTypes.TEXT, length: 5 },
    model_version: { type: ColumnTypes.TEXT, length: 64 },
    reasons: { type: ColumnTypes.JSON },
    kafka_topic: { type: ColumnTypes.TEXT, length: 249, nullable: true },
    kafka_partition: { type: ColumnTypes.INTEGER, nullable: true },
    kafka_offset: { type: ColumnTypes.BIGINT, nullable: true }
  },
  unique: { name: 'predictions_transaction_id_key', columns: ['transaction_id'] },
  indexes: [],
  values: p => ({
    transaction_id: p.transactionId,
    fraud_score: p.fraudScore,
    prediction: p.prediction,
    model_version: p.modelVersion,
    reasons: p.reasons,
    kafka_topic: p.topic,
    kafka_partition: p.partition,
    kafka_offset: p.offset
  })
})
