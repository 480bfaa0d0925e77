import {
  Admin, Consumer, createAPI, kGetApi, Producer, ProduceAcks, produceV11, SASLMechanisms,
  type API, type Callback, type CompressionAlgorithmValue, type ConsumerOptions, type ProducerOptions, type SASLMechanismValue
} from '@platformatic/kafka'
import type { Config } from '../../config/index.ts'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import { javaCompatiblePartitioner } from './partitioner.ts'
import { createProduceRequestV11, type EncodableRecord, type RecordBatchOptions } from './record-batch.ts'

/** What a client needs to reach the cluster; the part of `Config` the Kafka clients use. */
export type KafkaConnection = Pick<Config, 'kafkaBrokers' | 'kafkaClientId' | 'saslMechanism' | 'saslUsername' | 'saslPassword' | 'kafkaTls'>

interface BaseClientOptions {
  clientId: string
  bootstrapBrokers: string[]
  tls?: Record<string, never>
  sasl?: { mechanism: SASLMechanismValue, username?: string, password?: string }
  connectTimeout?: number
  timeout?: number
  retries?: number | boolean
}

const mechanisms: Readonly<Record<NonNullable<Config['saslMechanism']>, SASLMechanismValue>> = {
  plain: SASLMechanisms.PLAIN,
  'scram-sha-256': SASLMechanisms.SCRAM_SHA_256,
  'scram-sha-512': SASLMechanisms.SCRAM_SHA_512
}

export function baseClientOptions (connection: KafkaConnection, suffix: string): BaseClientOptions {
  const options: BaseClientOptions = {
    clientId: `${connection.kafkaClientId}-${suffix}`,
    bootstrapBrokers: [...connection.kafkaBrokers]
  }
  if (connection.kafkaTls) options.tls = {}
  if (connection.saslMechanism !== undefined) {
    options.sasl = { mechanism: mechanisms[connection.saslMechanism] }
    if (connection.saslUsername !== undefined) options.sasl.username = connection.saslUsername
    if (connection.saslPassword !== undefined) options.sasl.password = connection.saslPassword
  }
  return options
}

export function createAdmin (connection: KafkaConnection, overrides: Partial<BaseClientOptions> = {}): Admin {
  return new Admin({ ...baseClientOptions(connection, 'admin'), ...overrides })
}

export interface ChurnflowProducerOptions {
  readonly compression?: Config['compression']
  /** Idempotent, acks=all: the default for everything churnflow produces. */
  readonly idempotent?: boolean
  readonly suffix?: string
  /** Retries of a failed send inside the client (same batch, same sequence numbers). */
  readonly retries?: number
  readonly retryDelay?: (attempt: number) => number
}

/** Produce v11 with churnflow's record batch encoder and the client's own response parser. */
const produceV11Direct = createAPI(0, 11,
  (acks: number, timeout: number, topicData: EncodableRecord[], options: RecordBatchOptions) => createProduceRequestV11(acks, timeout, topicData, options) as never,
  produceV11.parseResponse)

/**
 * The Kafka client's producer with its Produce requests' record batches written by
 * `encodeRecordBatch`: the same bytes from one buffer per partition instead of about ten small
 * buffers per record, and timestamps far apart encoded right. Everything else (metadata, leaders,
 * idempotent sequences, retries, compression algorithms, the response) is the client's.
 */
class DirectEncodingProducer extends Producer<Buffer, Buffer, Buffer, Buffer> {
  override [kGetApi]<RequestArguments extends unknown[], ResponseType> (name: string, callback: Callback<API<RequestArguments, ResponseType>>): void {
    super[kGetApi]<RequestArguments, ResponseType>(name, (error, api) => {
      if (error === null && name === 'Produce' && api?.version === 11) callback(null, produceV11Direct as unknown as API<RequestArguments, ResponseType>)
      else callback(error, api)
    })
  }
}

/**
 * A producer of Buffer keys and values that places keys exactly as Kafka's Java client does
 * (murmur2, positive), so a key lands on the same partition whichever client produced it.
 */
export function createProducer (connection: KafkaConnection, options: ChurnflowProducerOptions = {}): Producer<Buffer, Buffer, Buffer, Buffer> {
  const producerOptions: ProducerOptions<Buffer, Buffer, Buffer, Buffer> = {
    ...baseClientOptions(connection, options.suffix ?? 'producer'),
    acks: ProduceAcks.ALL,
    idempotent: options.idempotent ?? true,
    partitioner: javaCompatiblePartitioner,
    autocreateTopics: false
  }
  if (options.retries !== undefined) producerOptions.retries = options.retries
  const retryDelay = options.retryDelay
  if (retryDelay !== undefined) producerOptions.retryDelay = (_client, _operation, attempt) => retryDelay(attempt)
  if (options.compression !== undefined && options.compression !== 'none') {
    producerOptions.compression = options.compression as CompressionAlgorithmValue
  }
  return new DirectEncodingProducer(producerOptions)
}

export function createConsumer (connection: KafkaConnection, groupId: string, overrides: Partial<ConsumerOptions<Buffer, Buffer, Buffer, Buffer>> = {}): Consumer<Buffer, Buffer, Buffer, Buffer> {
  return new Consumer({ ...baseClientOptions(connection, 'consumer'), groupId, ...overrides } as ConsumerOptions<Buffer, Buffer, Buffer, Buffer>)
}

export interface ClusterInfo {
  readonly clusterId: string
  readonly controllerId: number
  readonly brokers: readonly { id: number, host: string, port: number }[]
}

/** Asks the cluster who it is. Fails with a retriable `CHURNFLOW_KAFKA_UNREACHABLE` when no broker answers. */
export async function describeCluster (connection: KafkaConnection, timeoutMs = 5000): Promise<ClusterInfo> {
  const admin = createAdmin(connection, { connectTimeout: timeoutMs, timeout: timeoutMs, retries: 0 })
  try {
    const metadata = await admin.metadata({ topics: [] })
    return {
      clusterId: metadata.id,
      controllerId: metadata.controllerId,
      brokers: [...metadata.brokers.entries()].map(([id, b]) => ({ id, host: b.host, port: b.port })).sort((a, b) => a.id - b.id)
    }
  } catch (error) {
    throw new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE,
      `no Kafka broker answered at ${connection.kafkaBrokers.join(',')}`, { cause: error, retriable: true })
  } finally {
    await admin.close().catch(() => undefined)
  }
}
