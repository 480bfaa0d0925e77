export {
  applyTransaction, emptyAccount, factsOf, FRAUD_FEATURES, fraudFeatureNames, fraudFeatures,
  type AccountProfile, type TransactionFacts
} from './account.ts'
export {
  featureRecord, featureVector, FraudScorer, readFraudTruth, readTransactions, shippedFraudModelPath, trainFraudModel, trainingFeatures,
  type FraudArtifact, type FraudScore, type TrainingTransaction
} from './model.ts'
export { FraudLabels, type FraudLabel, type FraudPredictionRow, type TransactionRow } from './rows.ts'
export {
  accountIds, ACCOUNTS_STORE, decodeAccount, decodeTransaction, decodeTransactions, emptyAccountRecord, encodeAccount, FRAUD_BATCH_ROUTE, fraudBatch,
  FraudConsole, FraudHttpScorer, FraudPipeline, fraudScoring, fraudSettings, FraudStats, openFraudPipeline, type FraudOutcome, type FraudPipelineOptions, type OpenedFraudPipeline,
  type AccountRecord, type DecodedBatch, type DecodedTransaction, type FraudBatchContext, type FraudBatchResult, type FraudRequest,
  type FraudResult, type FraudScoring, type FraudSettings
} from './pipeline/index.ts'
