export {
  localKafkaStatus, randomClusterId, startLocalKafka, stopLocalKafka,
  type LocalKafkaOptions, type LocalKafkaStatus, type NodeStatus, type StartResult, type StopResult
} from './cluster.ts'
export { findJava, parseJavaMajor, which, type JavaRuntime } from './java.ts'
export { CONTROLLER_PORT_OFFSET, KAFKA_VERSION, localKafkaDefaults, MIN_JAVA_MAJOR } from './options.ts'
export { bootstrapOf, HOST, serverProperties, type LocalNode } from './properties.ts'
export { ensureKafkaDistribution, parseDownloadedBytes, type KafkaDistribution } from './provision.ts'
