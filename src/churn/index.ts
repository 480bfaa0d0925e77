export {
  ChurnScorer, defaultBands, loadChurnArtifact, readArtifactJson, saveArtifact, topReasons,
  type ChurnArtifact, type ChurnScore, type ModelMetrics, type Reason, type RiskBand
} from './artifact.ts'
export { eventTypeCodes, History, readHistoryFile, readHistoryTopics } from './history.ts'
export { buildRows, churnGbtDefaults, evaluateChurnModel, trainChurnModel, type EvaluationReport, type Rows, type TrainOptions } from './train.ts'
export { readTruthFile } from './truth.ts'
export { shippedChurnModelPath } from './shipped.ts'
export { ModelHolder } from './model-holder.ts'
