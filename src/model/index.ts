export { createDataset, validateDataset, type Dataset } from './dataset.ts'
export {
  GbtModel, gbtDefaults, gbtMaxDepth, trainGbt,
  type GbtModelJson, type GbtOptions, type GbtProgress, type GbtTreeJson
} from './gbt.ts'
export { LogisticModel, logisticDefaults, trainLogistic, type LogisticModelJson, type LogisticOptions } from './logistic.ts'
export { logLossOfMargin, sigmoid } from './math.ts'
export { brierScore, calibrationTable, logLoss, prAuc, rocAuc, type CalibrationBin } from './metrics.ts'
