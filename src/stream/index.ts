export { changelogTopic, changelogTopicConfigs, readChangelogPartition, type RestoreRead } from './state/changelog.ts'
export { checkpointPath, readCheckpoint, StateDirLock, writeCheckpoint, type Checkpoint } from './state/checkpoint.ts'
export { offsetsCover, partitionOfOffsets, type AppliedOffsets } from './state/offsets.ts'
export {
  MapTable, PartitionedState, type PartitionedStateOptions, type PartitionedStore, type PartitionTable, type RestoreSummary, type StateCodec, type StateIO
} from './state/partitioned.ts'
export { taskAssigner } from './assignor.ts'
export { FetchModes, KafkaSource, parsePartitionKey, partitionKey, type KafkaSourceOptions, type RecordSource, type SourceRecord, type TakenRecord } from './source.ts'
export { DEAD_LETTER_SUFFIX, deadLetterMessage, DeadLetterHeaders, deadLetterTopic } from './dead-letter/record.ts'
export {
  errorCodeOf, headerText, NO_ERROR_CODE, NO_TARGET, REPLAYED_FROM_HEADER, replayDeadLetters, replayGroupId, replayMessage, ReplayStops, replayTarget,
  type DeadLetterRecord, type DeadLetterSample, type ReplayOptions, type ReplayProgress, type ReplayResult, type ReplayStop
} from './dead-letter/replay.ts'
export { churnflowTopics, type TopicsConfig } from './topics.ts'
export { defaultRetryPolicy, Dependency, DependencyStates, isRetriable, refusedForGood, type DependencyState, type RetryPolicy } from './dependency.ts'
export { streamMetrics, type StreamMetrics } from './metrics.ts'
export { StreamRuntime, type StreamRuntimeOptions } from './runtime.ts'
export { ProcessingStats } from './stats.ts'
export type { BatchIO, BatchOutcome, Dependencies, OutMessage, OutputSink, Pipeline, PipelineDependency, Poison, PreparedBatch, WrittenContext } from './types.ts'
