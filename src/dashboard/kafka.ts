import { randomBytes } from 'node:crypto'
import { ListOffsetTimestamps, MessagesStreamModes, type Admin, type Consumer, type Message, type MessagesStream } from '@platformatic/kafka'
import { createAdmin, createConsumer, type KafkaConnection } from '../kafka/client/index.ts'
import type { Logger } from '../logging/index.ts'

type KafkaMessage = Message<Buffer, Buffer, Buffer, Buffer>

/** A record the tail keeps: what the dashboard shows of it, text only. */
export interface TailRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: string
  readonly timestamp: number
  readonly key: string
  readonly value: string
  readonly headers: Readonly<Record<string, string>>
}

export interface TopicTailOptions {
  readonly connection: KafkaConnection
  readonly topics: readonly string[]
  /** How many of the newest records to keep (and to read back at start). */
  readonly keep: number
  readonly log: Logger
  /** Called for each record as it arrives. */
  readonly onRecord?: (record: TailRecord) => void
  /** How often to look again for topics that did not exist yet, ms (10000). */
  readonly retryMs?: number
}

/** Whole values are kept up to this size; longer ones are cut, since they are shown, not processed. */
const MAX_VALUE = 8192

function tailRecord (m: KafkaMessage): TailRecord {
  const headers: Record<string, string> = {}
  for (const [k, v] of m.headers) headers[k.toString('utf8')] = v.toString('utf8')
  const value = m.value === undefined || m.value === null ? '' : m.value.subarray(0, MAX_VALUE).toString('utf8')
  return { topic: m.topic, partition: m.partition, offset: m.offset.toString(), timestamp: Number(m.timestamp), key: m.key?.toString('utf8') ?? '', value, headers }
}

/**
 * The newest records of some topics, read back a little at start and followed live. It joins no
 * group that matters (a random one, never committed), so it takes nothing from the processors.
 * Topics that do not exist yet are looked for again every few seconds.
 */
export class TopicTail {
  readonly #options: TopicTailOptions
  readonly #records: TailRecord[] = []
  #consumer: Consumer<Buffer, Buffer, Buffer, Buffer> | undefined
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined
  #following: string[] = []
  #timer: NodeJS.Timeout | undefined
  #closed = false
  /** Every record seen since start, kept or not. */
  seen = 0

  constructor (options: TopicTailOptions) {
    this.#options = options
  }

  /** The records kept, oldest first. */
  get records (): readonly TailRecord[] {
    return this.#records
  }

  /** The topics being followed (those that exist). */
  get following (): readonly string[] {
    return this.#following
  }

  /** Starts following; never rejects: a broker that does not answer is tried again later. */
  start (): void {
    void this.#attempt()
  }

  async #attempt (): Promise<void> {
    if (this.#closed) return
    try {
      const admin = createAdmin(this.#options.connection)
      let present: Set<string>
      try { present = new Set(await admin.listTopics()) } finally { await admin.close().catch(() => undefined) }
      if (this.#closed) return
      const topics = this.#options.topics.filter(t => present.has(t))
      if (topics.length > 0 && topics.join() !== this.#following.join()) await this.#follow(topics)
    } catch (error) {
      this.#options.log.debug({ err: error }, 'the dashboard could not read Kafka yet; trying again')
    }
    if (!this.#closed && this.#following.length < this.#options.topics.length) {
      this.#timer = setTimeout(() => { void this.#attempt() }, this.#options.retryMs ?? 10_000)
      this.#timer.unref()
    }
  }

  async #follow (topics: string[]): Promise<void> {
    await this.#stop()
    const consumer = createConsumer(this.#options.connection, `churnflow-dashboard-${randomBytes(6).toString('hex')}`)
    this.#consumer = consumer
    const end = await consumer.listOffsets({ topics })
    const earliest = await consumer.listOffsets({ topics, timestamp: ListOffsetTimestamps.EARLIEST })
    const perPartition = (topic: string): bigint => BigInt(Math.ceil(this.#options.keep / Math.max(1, end.get(topic)?.length ?? 1)))
    const offsets = topics.flatMap(topic => (end.get(topic) ?? []).map((e, partition) => {
      const first = earliest.get(topic)?.[partition] ?? 0n
      const back = e - perPartition(topic)
      return { topic, partition, offset: back > first ? back : first }
    }))
    const stream = await consumer.consume({ topics, mode: MessagesStreamModes.MANUAL, offsets, autocommit: false, maxWaitTime: 200 })
    this.#stream = stream
    // Closed while joining: close() found nothing to stop yet.
    if (this.#closed) {
      await this.#stop()
      return
    }
    this.#following = topics
    stream.on('data', (m: KafkaMessage) => { this.#add(tailRecord(m)) })
    stream.on('error', (error: Error) => {
      this.#options.log.warn({ err: error }, 'the dashboard lost its Kafka reader; starting again')
      this.#following = []
      if (!this.#closed) {
        this.#timer = setTimeout(() => { void this.#attempt() }, 2000)
        this.#timer.unref()
      }
    })
  }

  #add (record: TailRecord): void {
    this.seen++
    this.#records.push(record)
    if (this.#records.length > this.#options.keep * 1.5) this.#records.splice(0, this.#records.length - this.#options.keep)
    this.#options.onRecord?.(record)
  }

  async #stop (): Promise<void> {
    const stream = this.#stream
    const consumer = this.#consumer
    this.#stream = undefined
    this.#consumer = undefined
    await stream?.close().catch(() => undefined)
    await consumer?.close(true).catch(() => undefined)
  }

  async close (): Promise<void> {
    this.#closed = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    await this.#stop()
  }
}

/** Records per second arriving on each topic, from the change of its end offsets between two looks. */
export class StreamRates {
  readonly #connection: KafkaConnection
  readonly #topics: readonly string[]
  readonly #log: Logger
  #consumer: Consumer<Buffer, Buffer, Buffer, Buffer> | undefined
  #admin: Admin | undefined
  #last: { at: number, ends: Map<string, bigint> } | undefined
  #rates: Record<string, number> = {}
  #ends: Record<string, number> = {}

  constructor (connection: KafkaConnection, topics: readonly string[], log: Logger) {
    this.#connection = connection
    this.#topics = topics
    this.#log = log
  }

  /** Looks at the end offsets again; the rate is over the time since the previous look. */
  async sample (): Promise<{ rates: Record<string, number>, totals: Record<string, number> }> {
    try {
      this.#consumer ??= createConsumer(this.#connection, `churnflow-dashboard-rates-${randomBytes(6).toString('hex')}`)
      this.#admin ??= createAdmin(this.#connection)
      const present = (await this.#admin.listTopics()).filter(t => this.#topics.includes(t))
      const offsets = present.length === 0 ? new Map<string, bigint[]>() : await this.#consumer.listOffsets({ topics: present })
      const now = Date.now()
      const ends = new Map<string, bigint>()
      for (const [topic, parts] of offsets) ends.set(topic, parts.reduce((a, b) => a + b, 0n))
      const last = this.#last
      if (last !== undefined && now > last.at) {
        for (const [topic, end] of ends) this.#rates[topic] = Number(end - (last.ends.get(topic) ?? end)) / ((now - last.at) / 1000)
      }
      for (const [topic, end] of ends) this.#ends[topic] = Number(end)
      this.#last = { at: now, ends }
    } catch (error) {
      this.#log.debug({ err: error }, 'the dashboard could not read the end offsets')
    }
    return { rates: { ...this.#rates }, totals: { ...this.#ends } }
  }

  async close (): Promise<void> {
    await this.#consumer?.close(true).catch(() => undefined)
    await this.#admin?.close().catch(() => undefined)
  }
}
