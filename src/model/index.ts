export { createDataset, validateDataset, type Dataset } from './dataset.ts'
export {
  bgnbdLogLikelihood, bgnbdLogLikelihoodOne, expectedPurchases, fitBgNbd, probabilityAlive, probabilityNoPurchase,
  type BgNbdParams, type PurchaseSummaries, type PurchaseSummary
} from './bgnbd.ts'
export { IsotonicCalibrator, type IsotonicJson } from './calibration.ts'
export {
  GbtModel, gbtDefaults, gbtMaxDepth, trainGbt,
  type GbtModelJson, type GbtOptions, type GbtProgress, type GbtTreeJson
} from './gbt.ts'
export { LogisticModel, logisticDefaults, trainLogistic, type LogisticModelJson, type LogisticOptions } from './logistic.ts'
export { lnGamma, logLossOfMargin, nelderMead, sigmoid } from './math.ts'
export {
  brierScore, calibrationTable, largestCalibrationGap, logLoss, prAuc, reliabilityDeciles, rocAuc, type CalibrationBin
} from './metrics.ts'
