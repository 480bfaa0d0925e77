export { churnflowTopics, deadLetterTopic, ensureTopics, hasProtocolError, topicReplicas, type EnsureTopicsResult, type TopicSpec, type TopicsConfig } from './topics.ts'
