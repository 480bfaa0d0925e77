export { ensureTopics, hasProtocolError, topicReplicas, type EnsureTopicsResult, type TopicSpec } from './topics.ts'
