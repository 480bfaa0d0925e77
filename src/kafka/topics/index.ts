export { churnflowTopics, deadLetterTopic, ensureTopics, type EnsureTopicsResult, type TopicSpec, type TopicsConfig } from './topics.ts'
