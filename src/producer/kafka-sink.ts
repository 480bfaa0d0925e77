import type { MessageToProduce, Producer } from '@platformatic/kafka'
import { requestChunks } from '../kafka/client/index.ts'
import { refusedForGood } from '../stream/index.ts'
import type { DeliveryReport, OutRecord, RecordSink } from './types.ts'

export interface KafkaSinkOptions {
  /** Batches awaiting their acknowledgement at once; at most 5 keeps the idempotent producer in order. */
  readonly maxInFlight?: number
  /**
   * How long records wait for more to fill their batch, as the Java producer's `linger.ms`
   * (KAFKA_LINGER_MS); 0 (the default here) sends each write at once.
   */
  readonly lingerMs?: number
  readonly onDelivery: (report: DeliveryReport) => void
}

/** Records held for the linger that are sent without waiting it out: `produce --rate max`'s whole write. */
const LINGER_RECORDS = 4000

/**
 * Writes batches to Kafka with a bounded number in flight. A batch that still fails after the
 * client's retries is reported as failed, never dropped silently.
 *
 * With a linger, a write that does not fill a batch is held until the linger has passed since the
 * first record held, then sent with whatever came after it: a producer at 2,000 records a second
 * writes a record or two each millisecond, and a request for each is most of the broker's work.
 * The records keep the timestamps they were written with, so the wait shows in any latency
 * measured from them. Batches are sent in the order they were written.
 */
export class KafkaSink implements RecordSink {
  readonly #producer: Producer<Buffer, Buffer, Buffer, Buffer>
  readonly #maxInFlight: number
  readonly #lingerMs: number
  readonly #onDelivery: (report: DeliveryReport) => void
  readonly #inFlight = new Set<Promise<void>>()
  #held: OutRecord[] = []
  #timer: NodeJS.Timeout | undefined
  /** The sends of held batches, one after another: the order they were written in. */
  #sending: Promise<void> = Promise.resolve()
  /** Held batches released but not yet handed to the client. */
  #queued = 0
  /** What stopped a held batch's send (nothing should): thrown to the next write or flush. */
  #failure: unknown

  constructor (producer: Producer<Buffer, Buffer, Buffer, Buffer>, options: KafkaSinkOptions) {
    this.#producer = producer
    this.#maxInFlight = Math.min(5, Math.max(1, options.maxInFlight ?? 4))
    this.#lingerMs = Math.max(0, options.lingerMs ?? 0)
    this.#onDelivery = options.onDelivery
  }

  /**
   * Sends the records, or holds them for the linger; resolves once they are handed to the client
   * (the answers come to `onDelivery`), waiting while the most batches are in flight.
   */
  async write (records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return
    // Held batches waiting for room in flight (a slow or absent broker): the writer waits too, as
    // it would without a linger, so nothing piles up in memory behind an outage.
    if (this.#queued > 0) await this.#sending
    this.#rethrow()
    for (const r of records) this.#held.push(r)
    if (this.#lingerMs === 0 || this.#held.length >= LINGER_RECORDS) {
      await this.#release()
      this.#rethrow()
      return
    }
    this.#timer ??= setTimeout(() => { void this.#release() }, this.#lingerMs)
  }

  /** Sends what is held, after every batch written before it. */
  #release (): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const records = this.#held
    if (records.length === 0) return this.#sending
    this.#held = []
    this.#queued++
    this.#sending = this.#sending.then(() => this.#sendAll(records)).catch((error: unknown) => { this.#failure ??= error }).finally(() => { this.#queued-- })
    return this.#sending
  }

  #rethrow (): void {
    if (this.#failure !== undefined) throw this.#failure
  }

  /** The records, in as many requests as a broker's size limit needs (see REQUEST_BYTES), each reported on its own. */
  async #sendAll (records: readonly OutRecord[]): Promise<void> {
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

  /** Sends what is held at once, then waits for every answer. */
  async flush (): Promise<void> {
    await this.#release()
    await Promise.all(this.#inFlight)
    this.#rethrow()
  }

  async close (): Promise<void> {
    await this.flush()
    await this.#producer.close()
  }
}
