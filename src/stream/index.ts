export { changelogTopic, changelogTopicConfigs, readChangelogPartition, type RestoreRead } from './state/changelog.ts'
export { checkpointPath, readCheckpoint, StateDirLock, writeCheckpoint, type Checkpoint } from './state/checkpoint.ts'
export {
  PartitionedState, type PartitionedStateOptions, type PartitionedStore, type PartitionTable, type RestoreSummary, type StateCodec, type StateIO
} from './state/partitioned.ts'
export { taskAssigner } from './assignor.ts'
export { FetchModes, KafkaSource, type KafkaSourceOptions, type SourceRecord, type TakenRecord } from './source.ts'
