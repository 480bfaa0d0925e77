export {
  bandOf, bandRange, ChurnScorer, defaultBands, loadChurnArtifact, readArtifactJson, saveArtifact, topReasons,
  type ChurnArtifact, type ChurnScore, type ModelMetrics, type PurchaseModel, type Reason, type RiskBand
} from './artifact.ts'
export { profilesAsOf, riskAsOf, type RiskAsOf } from './as-of.ts'
export {
  isPurchaseHistory, PURCHASE_FEATURES, purchaseFeatureNames, purchaseFeatures, PurchaseScorer, purchaseSummariesOf, purchaseSummaryOf, purchaseViewOf,
  type PurchaseView
} from './purchases.ts'
export { trainPurchaseModel, type PurchaseModelOptions } from './purchase-model.ts'
export { CDNOW, cdnowDir, noPurchaseLabels, readCdnow } from './cdnow.ts'
export { eventTypeCodes, History, readHistoryFile, readHistoryTopics } from './history.ts'
export {
  buildRows, churnGbtDefaults, evaluateChurnModel, trainChurnModel, windowsOf, type BuiltRows, type EvaluationReport, type Rows, type TrainOptions, type Windows
} from './train.ts'
export { readTruthFile } from './truth.ts'
export { shippedChurnModelPath } from './shipped.ts'
export { ModelHolder } from './model-holder.ts'
