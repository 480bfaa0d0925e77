export {
  applyTransaction, emptyAccount, factsOf, FRAUD_FEATURES, fraudFeatureNames, fraudFeatures,
  type AccountProfile, type TransactionFacts
} from './account.ts'
export {
  FraudScorer, readFraudTruth, readTransactions, shippedFraudModelPath, trainFraudModel,
  type FraudArtifact, type FraudScore, type TransactionRow
} from './model.ts'
