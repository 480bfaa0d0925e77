export {
  accountIds, decodeTransactions, fraudAlertMessage, fraudBatch, fraudPredictionMessage,
  type DecodedBatch, type FraudBatchContext, type FraudBatchResult, type ScoredTransaction
} from './batch.ts'
export { FraudConsole, FraudStats, type FraudConsoleOptions } from './console.ts'
export { decodeTransaction, type DecodedTransaction, type DecodedTransactionResult } from './decode.ts'
export {
  FRAUD_BATCH_ROUTE, FraudHttpScorer,
  type FraudHttpScorerOptions, type FraudRequest, type FraudResult, type FraudScoring, type LocalFraudScorer, type RemoteFraudScorer
} from './scoring.ts'
export { fraudScoring, fraudSettings, type FraudConfig, type FraudSettings } from './settings.ts'
export {
  ACCOUNT_FORMAT_VERSION, admitTransaction, ApplyOutcomes, copyAccount, decodeAccount, emptyAccountRecord, encodeAccount, RECENT_TRANSACTION_IDS,
  type AccountRecord, type ApplyOutcome, type WorkingAccount
} from './state.ts'
export { openFraudPipeline, type OpenedFraudPipeline, type OpenFraudPipelineOptions } from './open.ts'
export { ACCOUNTS_STORE, FraudPipeline, type FraudOutcome, type FraudPipelineOptions } from './pipeline.ts'
