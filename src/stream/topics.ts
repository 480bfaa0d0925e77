import type { Config } from '../config/index.ts'
import { topicReplicas, type TopicSpec } from '../kafka/topics/index.ts'
import { deadLetterTopic } from './dead-letter/record.ts'

export type TopicsConfig = Pick<Config,
  'userEventsTopic' | 'customerEventsTopic' | 'transactionsTopic' | 'predictionsTopic' | 'alertsTopic' |
  'fraudPredictionsTopic' | 'fraudAlertsTopic' | 'errorTopic' | 'partitions' | 'replicationFactor'>

/** churnflow's topics (DESIGN.md "Streams"): every pipeline's sources, outputs and dead-letter topics, with the configured partitions and replication. */
export function churnflowTopics (config: TopicsConfig, brokerCount: number): TopicSpec[] {
  const replicas = topicReplicas(config, brokerCount)
  const sources = [config.userEventsTopic, config.customerEventsTopic, config.transactionsTopic]
  const outputs = [config.predictionsTopic, config.alertsTopic, config.fraudPredictionsTopic, config.fraudAlertsTopic]
  const names = [...sources, ...outputs, ...sources.map(s => deadLetterTopic(config, s))]
  return [...new Set(names)].map(name => ({ name, partitions: config.partitions, replicas }))
}
