import { sql, type ColumnDataType, type Expression, type Kysely, type Migration } from 'kysely'
import { SqlDialects, type SqlDialect } from '../types.ts'

/** How each dialect spells the types the fraud tables use. */
interface Types {
  readonly double: ColumnDataType
  /** A UTC instant: TIMESTAMPTZ, so `created_at > NOW() - INTERVAL '1 hour'` holds in any session zone. */
  readonly instant: ColumnDataType
  readonly json: ColumnDataType
  readonly now: Expression<unknown>
  readonly identity: ColumnDataType
}

const dialectTypes: Readonly<Record<SqlDialect, Types>> = {
  [SqlDialects.POSTGRES]: { double: 'double precision', instant: 'timestamptz', json: 'jsonb', now: sql`now()`, identity: 'bigint' },
  [SqlDialects.MYSQL]: { double: 'double precision', instant: 'datetime(3)', json: 'json', now: sql`CURRENT_TIMESTAMP(3)`, identity: 'bigint' },
  [SqlDialects.SQLITE]: { double: 'real', instant: 'text', json: 'text', now: sql`(strftime('%Y-%m-%d %H:%M:%f', 'now'))`, identity: 'integer' }
}

/**
 * 001: the fraud streaming consumer's two tables. `transactions` keyed by transaction_id, with
 * the transaction's fields and created_at; `predictions` with one row per transaction_id
 * (unique, referencing `transactions`), its score, label, model version, reasons and created_at.
 */
function createTables (dialect: SqlDialect): Migration {
  const t = dialectTypes[dialect]
  return {
    async up (db: Kysely<unknown>) {
      await db.schema.createTable('transactions')
        .addColumn('transaction_id', 'varchar(64)', c => c.primaryKey())
        .addColumn('account_id', 'varchar(64)', c => c.notNull())
        .addColumn('card_id', 'varchar(64)')
        .addColumn('amount', t.double, c => c.notNull())
        .addColumn('currency', 'varchar(3)', c => c.notNull())
        .addColumn('merchant_id', 'varchar(64)', c => c.notNull())
        .addColumn('merchant_category', 'varchar(64)', c => c.notNull())
        .addColumn('channel', 'varchar(32)', c => c.notNull())
        .addColumn('country', 'varchar(2)', c => c.notNull())
        .addColumn('event_timestamp', t.instant, c => c.notNull())
        .addColumn('created_at', t.instant, c => c.notNull().defaultTo(t.now))
        .execute()
      // created_at only, the column the README's queries filter on: each index costs every insert.
      await db.schema.createIndex('transactions_created_at_idx').on('transactions').column('created_at').execute()
      await db.schema.createTable('predictions')
        .addColumn('id', t.identity, c => {
          const key = c.primaryKey()
          return dialect === SqlDialects.POSTGRES ? key.generatedAlwaysAsIdentity() : key.autoIncrement()
        })
        .addColumn('transaction_id', 'varchar(64)', c => c.notNull())
        .addColumn('fraud_score', t.double, c => c.notNull())
        .addColumn('prediction', 'varchar(5)', c => c.notNull().check(sql`prediction IN ('fraud', 'legit')`))
        .addColumn('model_version', 'varchar(64)', c => c.notNull())
        .addColumn('reasons', t.json, c => c.notNull())
        .addColumn('created_at', t.instant, c => c.notNull().defaultTo(t.now))
        .addUniqueConstraint('predictions_transaction_id_key', ['transaction_id'])
        .addForeignKeyConstraint('predictions_transaction_id_fkey', ['transaction_id'], 'transactions', ['transaction_id'])
        .execute()
      await db.schema.createIndex('predictions_created_at_idx').on('predictions').column('created_at').execute()
    },
    async down (db: Kysely<unknown>) {
      await db.schema.dropTable('predictions').execute()
      await db.schema.dropTable('transactions').execute()
    }
  }
}

/**
 * 002: what churnflow keeps beyond the original: the fields a transaction carries beyond the
 * schema (`transactions.extra`), and where each prediction's transaction was read in Kafka
 * (`predictions.kafka_topic`, `kafka_partition`, `kafka_offset`). Nullable, so rows written
 * before it stay valid.
 */
function addKafkaCoordinates (dialect: SqlDialect): Migration {
  const t = dialectTypes[dialect]
  return {
    async up (db: Kysely<unknown>) {
      await db.schema.alterTable('transactions').addColumn('extra', t.json).execute()
      // One column per statement: SQLite's ALTER TABLE adds one at a time.
      await db.schema.alterTable('predictions').addColumn('kafka_topic', 'varchar(249)').execute()
      await db.schema.alterTable('predictions').addColumn('kafka_partition', 'integer').execute()
      await db.schema.alterTable('predictions').addColumn('kafka_offset', 'bigint').execute()
    },
    async down (db: Kysely<unknown>) {
      await db.schema.alterTable('predictions').dropColumn('kafka_offset').execute()
      await db.schema.alterTable('predictions').dropColumn('kafka_partition').execute()
      await db.schema.alterTable('predictions').dropColumn('kafka_topic').execute()
      await db.schema.alterTable('transactions').dropColumn('extra').execute()
    }
  }
}

/**
 * 003: the index the dashboard's fraud view reads the latest flagged transactions by (and its
 * counts per label over time): predictions (prediction, created_at). Fraud rate over time reads
 * 001's `predictions_created_at_idx`.
 */
function addFlaggedIndex (dialect: SqlDialect): Migration {
  const name = 'predictions_prediction_created_at_idx'
  return {
    async up (db: Kysely<unknown>) {
      await db.schema.createIndex(name).on('predictions').columns(['prediction', 'created_at']).execute()
    },
    async down (db: Kysely<unknown>) {
      // MySQL's index names are per table, and its DROP INDEX names the table; the others' may not.
      const drop = db.schema.dropIndex(name)
      await (dialect === SqlDialects.MYSQL ? drop.on('predictions') : drop).execute()
    }
  }
}

/** The fraud tables' migrations in order; a name, once released, never changes. */
export function fraudMigrations (dialect: SqlDialect): Record<string, Migration> {
  return {
    '0001_fraud_tables': createTables(dialect),
    '0002_extra_and_kafka_coordinates': addKafkaCoordinates(dialect),
    '0003_flagged_transactions_index': addFlaggedIndex(dialect)
  }
}
