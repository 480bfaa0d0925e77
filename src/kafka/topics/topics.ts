import type { Admin } from '@platformatic/kafka'
import type { Config } from '../../config/index.ts'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'

export interface TopicSpec {
  readonly name: string
  readonly partitions: number
  readonly replicas: number
  /** Topic configuration set at creation (a changelog's `cleanup.policy=compact`). */
  readonly configs?: readonly { name: string, value: string }[]
}

/** True when a Kafka protocol error with this id (TOPIC_ALREADY_EXISTS, ...) is anywhere in the error's chain. */
export function hasProtocolError (error: unknown, id: string, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 8) return false
  const e = error as { apiId?: unknown, errors?: unknown, cause?: unknown }
  if (e.apiId === id) return true
  if (Array.isArray(e.errors) && e.errors.some(inner => hasProtocolError(inner, id, depth + 1))) return true
  return hasProtocolError(e.cause, id, depth + 1)
}

/** Replication of the topics churnflow creates: KAFKA_REPLICATION_FACTOR, where `auto` is 3 or the broker count when smaller. */
export function topicReplicas (config: Pick<Config, 'replicationFactor'>, brokerCount: number): number {
  return config.replicationFactor === 'auto' ? Math.max(1, Math.min(3, brokerCount)) : config.replicationFactor
}

export interface EnsureTopicsResult {
  /** Topics this call created. */
  readonly created: readonly TopicSpec[]
  /** Topics that were there already (or that another client created meanwhile), with their partitions. */
  readonly existing: readonly { name: string, partitions: number }[]
}

/**
 * Creates the topics that are missing and leaves the others alone, so running it twice, or from
 * two processes at once, is harmless.
 */
export async function ensureTopics (admin: Admin, specs: readonly TopicSpec[]): Promise<EnsureTopicsResult> {
  const present = new Set(await admin.listTopics())
  const created: TopicSpec[] = []
  for (const spec of specs.filter(s => !present.has(s.name))) {
    try {
      await admin.createTopics({ topics: [spec.name], partitions: spec.partitions, replicas: spec.replicas, ...(spec.configs === undefined ? {} : { configs: [...spec.configs] }) })
      created.push(spec)
    } catch (error) {
      // Someone else created it between our list and our create: that is success. The broker's
      // answer decides, not a second listing, which may not show the new topic yet.
      if (!hasProtocolError(error, 'TOPIC_ALREADY_EXISTS')) {
        throw new ChurnflowError(ErrorCodes.TOPIC_CREATE_FAILED,
          `topic ${spec.name} (${spec.partitions} partitions, replication ${spec.replicas}) could not be created: ${(error as Error).message}`,
          { cause: error, retriable: true })
      }
    }
  }
  const createdNames = new Set(created.map(s => s.name))
  const existingNames = specs.map(s => s.name).filter(name => !createdNames.has(name))
  // A copy: @platformatic/kafka's metadata() sorts the array it is given, in place.
  const metadata = existingNames.length > 0 ? await admin.metadata({ topics: [...existingNames] }) : undefined
  const existing = existingNames.map(name => ({ name, partitions: metadata?.topics.get(name)?.partitionsCount ?? 0 }))
  return { created, existing }
}
