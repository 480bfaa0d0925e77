import type { PredictionRow } from '../types.ts'
import { ColumnTypes, type TableSpec } from '../spec.ts'

/**
 * The churn prediction consumer's `churn_predictions` table, column for column, plus kafka_topic
 * and the unique key on the Kafka coordinates that make a replayed batch insert nothing twice.
 * An existing table with the original DDL is adopted by adding just those two.
 */
export const churnPredictionsTable: TableSpec<PredictionRow> = {
  name: 'churn_predictions',
  identity: 'id',
  columns: [
    { name: 'user_id', type: ColumnTypes.TEXT, length: 50 },
    { name: 'event_type', type: ColumnTypes.TEXT, length: 50 },
    { name: 'churn_score', type: ColumnTypes.REAL },
    { name: 'event_timestamp', type: ColumnTypes.TIMESTAMP },
    { name: 'prediction_timestamp', type: ColumnTypes.TIMESTAMP, defaultNow: true },
    { name: 'metadata', type: ColumnTypes.JSON, nullable: true },
    { name: 'kafka_partition', type: ColumnTypes.INTEGER, nullable: true },
    { name: 'kafka_offset', type: ColumnTypes.BIGINT, nullable: true },
    { name: 'kafka_topic', type: ColumnTypes.TEXT, length: 249, nullable: true, addOnAdopt: true }
  ],
  unique: { name: 'uq_kafka_coordinates', columns: ['kafka_topic', 'kafka_partition', 'kafka_offset'] },
  indexes: [
    { name: 'idx_user_id', columns: ['user_id'] },
    { name: 'idx_event_type', columns: ['event_type'] },
    { name: 'idx_churn_score', columns: ['churn_score'] },
    { name: 'idx_event_timestamp', columns: ['event_timestamp'] }
  ],
  values: r => [r.userId, r.eventType, r.churnScore, r.eventTime, r.predictionTime, r.metadata, r.partition, r.offset, r.topic]
}
