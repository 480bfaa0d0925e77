export { alertPolicy, AlertKinds, criticalEventTypes, decideAlert, type AlertDecision, type AlertKind, type AlertPolicy } from './alerts.ts'
export {
  deadLetterMessage, partitionKey, predictionMessage, prepareBatch, processBatch, type BatchContext, type BatchResult, type EventOutcome, type OutMessage, type OutputSink, type PreparedBatch, type ProfileOverlay
} from './batch.ts'
export { decodeRecord, EventStreams, parseJsonObject, PoisonCodes, type Decoded, type DecodedEvent, type EventStream, type Poison, type PoisonCode, type SourceRecord } from './decode.ts'
export { backoffDelay, defaultRetryPolicy, Dependency, DependencyStates, isRetriable, StoppedWhileWaiting, type DependencyState, type RetryPolicy } from './dependency.ts'
export { processorMetrics, type ProcessorMetrics } from './metrics.ts'
export { buildOps, type OpsOptions } from './ops.ts'
export { highBandStart, openPipeline, type PipelineParts } from './pipeline.ts'
export { Processor, type ProcessorOptions } from './processor.ts'
export { HttpScorer, postToScoringApi, scoringUnavailable, whyFetchFailed, type HttpScorerOptions, type LocalScorer, type RemoteRequest, type RemoteResult, type RemoteScorer, type Scorer } from './scoring.ts'
export { KafkaSource, type KafkaSourceOptions, type TakenRecord } from './source.ts'
export { logEventLines } from './console.ts'
export { ProcessingStats } from './stats.ts'
