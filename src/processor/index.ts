export { alertPolicy, AlertKinds, criticalEventTypes, decideAlert, type AlertDecision, type AlertKind, type AlertPolicy } from './alerts.ts'
export {
  checkMessage, checkRow, INACTIVITY_CHECK, predictionMessage, prepareBatch, SWEEP_LIMIT, processBatch, type BatchContext, type BatchResult, type CheckOutcome, type EventOutcome, type ProfileOverlay
} from './batch.ts'
export { decodeRecord, parseJsonObject, PoisonCodes, type Decoded, type DecodedEvent, type Poison, type PoisonCode, type SourceRecord } from './decode.ts'
export { buildOps, type OpsOptions, type OpsTarget } from './ops.ts'
export { bandsOf, highBandStart, openPipeline, type PipelineParts } from './pipeline.ts'
export { AT_RISK_LIMIT, CustomerReader, type AtRiskCustomer, type CustomerPrediction, type CustomerView, type RiskBand } from './customers.ts'
export { DueIndex, nextDue, silencePolicy, type SilencePolicy } from './silence.ts'
export { ChurnPipeline, Processor, type ProcessorOptions } from './processor.ts'
export { HttpScorer, postToScoringApi, scoringUnavailable, whyFetchFailed, type HttpScorerOptions, type LocalScorer, type RemoteRequest, type RemoteResult, type RemoteScorer, type Scorer } from './scoring.ts'
export { logEventLines } from './console.ts'
