export {
  baseClientOptions, createAdmin, createConsumer, createProducer, describeCluster,
  type ChurnflowProducerOptions, type ClusterInfo, type KafkaConnection
} from './clients.ts'
export { REQUEST_BYTES, requestChunks } from './requests.ts'
