export {
  SqlDialects, TableStates, type FraudStore, type FraudWriteResult, type PredictionRow, type PredictionStore, type SqlDialect, type TableState, type TableStore
} from './types.ts'
export { defaultTable, sqlTimestamp, validTable } from './common.ts'
export {
  ColumnTypes, defineTable, type ColumnDef, type ColumnSpec, type ColumnType, type ColumnValue, type ColumnValues, type IndexSpec, type SqlValue,
  type TableDefinition, type TableSpec
} from './spec.ts'
export { churnPredictionsTable } from './tables/churn-predictions.ts'
export { fraudPredictionsTable, transactionsTable } from './tables/fraud.ts'
export { migrate, migrateAtStart, migrationStatus, migrationTables, targetName, type MigrateOptions, type MigrationState } from './migrations/migrator.ts'
export { fraudMigrations } from './migrations/fraud.ts'
export { MysqlFraudStore } from './mysql/fraud-store.ts'
export { PostgresFraudStore } from './postgres/fraud-store.ts'
export { SqliteFraudStore } from './sqlite/fraud-store.ts'
export { isTransientMysqlError } from './mysql/driver.ts'
export { MysqlPredictionStore, MysqlTableStore, type MysqlStoreOptions } from './mysql/table-store.ts'
export { isTransientPgError } from './postgres/driver.ts'
export { PostgresPredictionStore, PostgresTableStore, type PostgresStoreOptions } from './postgres/table-store.ts'
export { isTransientSqliteError } from './sqlite/driver.ts'
export { SqlitePredictionStore, SqliteTableStore, type SqliteStoreOptions } from './sqlite/table-store.ts'
export { defaultSqlitePath, openFraudStore, openPredictionStore, openTableStore, sqlTarget, type OpenPredictionStoreOptions, type SqlConnection, type SqlTarget } from './open.ts'
