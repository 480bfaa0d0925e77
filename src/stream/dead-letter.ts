import { isoUtc } from '../events/index.ts'
import { DeadLetterHeaders } from '../kafka/topics/index.ts'
import type { OutMessage, Poison } from './types.ts'

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
