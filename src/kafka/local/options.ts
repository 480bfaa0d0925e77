/** The Apache Kafka release churnflow runs locally, pinned. */
export const KAFKA_VERSION = '4.1.2'
export const LOG4J_VERSION = '2.24.3'
export const SLF4J_VERSION = '1.7.36'
export const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1'
export const MIN_JAVA_MAJOR = 17

/** Controller ports sit this far above the broker ports unless told otherwise. */
export const CONTROLLER_PORT_OFFSET = 10000

export const localKafkaDefaults = {
  nodes: 1,
  brokerPort: 9092,
  startTimeoutMs: 120_000,
  stopTimeoutMs: 60_000
} as const
