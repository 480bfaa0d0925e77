import type { MessageToProduce, Producer } from '@platformatic/kafka'
import { requestChunks } from '../kafka/client/index.ts'
import { refusedForGood } from '../stream/index.ts'
import type { DeliveryReport, OutRecord, RecordSink } from './types.ts'

export interface KafkaSinkOptions {
  /** Batches awaiting their acknowledgement at once; at most 5 keeps the idempotent producer in order. */
  readonly maxInFlight?: number
  readonly onDelivery: (report: DeliveryReport) => void
}

/**
 * Writes batches to Kafka with a bounded number in flight. A batch that still fails after the
 * client's retries is reported as failed, never dropped silently.
 */
export class KafkaSink implements RecordSink {
  readonly #producer: Producer<Buffer, Buffer, Buffer, Buffer>
  readonly #maxInFlight: number
  readonly #onDelivery: (report: DeliveryReport) => void
  readonly #inFlight = new Set<Promise<void>>()

  constructor (producer: Producer<Buffer, Buffer, Buffer, Buffer>, options: KafkaSinkOptions) {
    this.#producer = producer
    this.#maxInFlight = Math.min(5, Math.max(1, options.maxInFlight ?? 4))
    this.#onDelivery = options.onDelivery
  }

  /** Sends the records, in as many requests as a broker's size limit needs (see REQUEST_BYTES), each reported on its own. */
  async write (records: readonly OutRecord[]): Promise<void> {
    const messages = records.map(r => ({
      topic: r.topic,
      key: Buffer.from(r.key),
      value: Buffer.from(r.payload),
      timestamp: BigInt(r.time)
    }))
    let from = 0
    for (const chunk of requestChunks(messages)) {
      await this.#send(chunk, records.slice(from, from + chunk.length))
      from += chunk.length
    }
  }

  async #send (messages: MessageToProduce<Buffer, Buffer, Buffer, Buffer>[], records: readonly OutRecord[]): Promise<void> {
    while (this.#inFlight.size >= this.#maxInFlight) await Promise.race(this.#inFlight)
    const sentAt = performance.now()
    const done: Promise<void> = this.#producer.send({ messages }).then(
      result => {
        const first = result.offsets?.[0]
        this.#onDelivery(first === undefined || records.length !== 1
          ? { records }
          : { records, partition: first.partition, offset: first.offset })
      },
      (error: unknown) => {
        this.#onDelivery({ records, error: error as Error, elapsedMs: performance.now() - sentAt, retriable: !refusedForGood(error) })
      }
    ).finally(() => { this.#inFlight.delete(done) })
    this.#inFlight.add(done)
  }

  async flush (): Promise<void> {
    await Promise.all(this.#inFlight)
  }

  async close (): Promise<void> {
    await this.flush()
    await this.#producer.close()
  }
}
