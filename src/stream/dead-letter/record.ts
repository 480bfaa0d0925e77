/**
 * Dead letters, in one home with their replay (./replay.ts): the topic a poison record goes to, the
 * headers that say why, and the record itself, its source's value and key byte for byte.
 */
import type { Config } from '../../config/index.ts'
import { isoUtc } from '../../events/index.ts'
import type { OutMessage, Poison } from '../types.ts'

/** The suffix of a dead-letter topic's name when KAFKA_ERROR_TOPIC is not set. */
export const DEAD_LETTER_SUFFIX = '-failed'

/** The headers a dead-letter record carries beside its source record's own. */
export const DeadLetterHeaders = {
  ERROR_CODE: 'churnflow-error-code',
  ERROR_MESSAGE: 'churnflow-error-message',
  SOURCE_TOPIC: 'churnflow-source-topic',
  SOURCE_PARTITION: 'churnflow-source-partition',
  SOURCE_OFFSET: 'churnflow-source-offset',
  FAILED_AT: 'churnflow-failed-at'
} as const

/** The dead-letter topic of a source topic: KAFKA_ERROR_TOPIC when set, else `<topic>-failed`. */
export function deadLetterTopic (config: Pick<Config, 'errorTopic'>, source: string): string {
  return config.errorTopic ?? `${source}${DEAD_LETTER_SUFFIX}`
}


const text = (s: string): Buffer => Buffer.from(s)

/** The dead-letter record: the value and key byte for byte, the reason and the source in headers. */
export function deadLetterMessage (poison: Poison, topic: string, at: number): OutMessage {
  const r = poison.record
  const headers = new Map<Buffer, Buffer>()
  if (r.headers !== undefined) for (const [k, v] of r.headers) headers.set(k, v)
  headers.set(text(DeadLetterHeaders.ERROR_CODE), text(poison.code))
  headers.set(text(DeadLetterHeaders.ERROR_MESSAGE), text(poison.message.slice(0, 1000)))
  headers.set(text(DeadLetterHeaders.SOURCE_TOPIC), text(r.topic))
  headers.set(text(DeadLetterHeaders.SOURCE_PARTITION), text(String(r.partition)))
  headers.set(text(DeadLetterHeaders.SOURCE_OFFSET), text(String(r.offset)))
  headers.set(text(DeadLetterHeaders.FAILED_AT), text(isoUtc(at)))
  return { topic, key: r.key, value: r.value, headers, timestamp: BigInt(r.timestamp) }
}
