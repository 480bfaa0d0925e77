import type { PredictionRow } from '../types.ts'
import { ColumnTypes, defineTable, type TableSpec } from '../spec.ts'

/**
 * The churn prediction consumer's `churn_predictions` table, column for column, plus kafka_topic
 * and the unique key on the Kafka coordinates that make a replayed batch insert nothing twice.
 * An existing table with the original DDL is adopted by adding those two and the indexes it lacks.
 */
export const churnPredictionsTable: TableSpec<PredictionRow> = defineTable<PredictionRow>()({
  name: 'churn_predictions',
  identity: 'id',
  columns: {
    user_id: { type: ColumnTypes.TEXT, length: 50 },
    event_type: { type: ColumnTypes.TEXT, length: 50 },
    churn_score: { type: ColumnTypes.REAL },
    event_timestamp: { type: ColumnTypes.TIMESTAMP },
    prediction_timestamp: { type: ColumnTypes.TIMESTAMP, defaultNow: true },
    metadata: { type: ColumnTypes.JSON, nullable: true },
    kafka_partition: { type: ColumnTypes.INTEGER, nullable: true },
    kafka_offset: { type: ColumnTypes.BIGINT, nullable: true },
    kafka_topic: { type: ColumnTypes.TEXT, length: 249, nullable: true, addOnAdopt: true }
  },
  unique: { name: 'uq_kafka_coordinates', columns: ['kafka_topic', 'kafka_partition', 'kafka_offset'] },
  indexes: [
    { name: 'idx_user_id', columns: ['user_id'] },
    { name: 'idx_event_type', columns: ['event_type'] },
    { name: 'idx_churn_score', columns: ['churn_score'] },
    { name: 'idx_event_timestamp', columns: ['event_timestamp'] },
    // What the dashboard reads (docs/dashboard.md): a customer's rows newest first, and whether a
    // row is its customer's latest (in MySQL and SQLite idx_user_id serves it, the key being implicit);
    { name: 'idx_user_id_id', columns: ['user_id', 'id'] },
    // predictions per minute;
    { name: 'idx_prediction_timestamp', columns: ['prediction_timestamp'] },
    // high-risk customers over time, from the index alone.
    { name: 'idx_event_score_user', columns: ['event_timestamp', 'churn_score', 'user_id'] }
  ],
  values: r => ({
    user_id: r.userId,
    event_type: r.eventType,
    churn_score: r.churnScore,
    event_timestamp: r.eventTime,
    prediction_timestamp: r.predictionTime,
    metadata: r.metadata,
    kafka_partition: r.partition,
    kafka_offset: r.offset,
    kafka_topic: r.topic
  })
})
