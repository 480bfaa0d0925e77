export { churnflowTopics, deadLetterTopic, ensureTopics, hasProtocolError, type EnsureTopicsResult, type TopicSpec, type TopicsConfig } from './topics.ts'
