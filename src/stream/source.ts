import { kOptions, MessagesStreamModes, type Consumer, type GroupPartitionsAssigner, type Message, type MessagesStream } from '@platformatic/kafka'
import { createConsumer, type KafkaConnection } from '../kafka/client/index.ts'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import type { Logger } from '../logging/index.ts'

type KafkaMessage = Message<Buffer, Buffer, Buffer, Buffer>

export interface KafkaSourceOptions {
  readonly connection: KafkaConnection
  readonly groupId: string
  readonly topics: readonly string[]
  /** Records the source buffers before it stops fetching: bounded memory on any backlog. */
  readonly maxBuffered: number
  /** Largest fetch response, bytes. */
  readonly maxBytes?: number
  /** How the group's partitions are dealt (the client's round robin when not given). */
  readonly partitionAssigner?: GroupPartitionsAssigner
  readonly log: Logger
}

/** A record as a pipeline gets it from Kafka. */
export interface SourceRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  readonly key: Buffer | undefined
  readonly value: Buffer | undefined
  readonly headers: ReadonlyMap<Buffer, Buffer> | undefined
  /** Kafka record timestamp, epoch ms. */
  readonly timestamp: number
}

/** `<topic>:<partition>`: the key of an applied-offsets entry and of a pending commit; made once per partition, not per record. */
const partitionKeys = new Map<string, string[]>()
export function partitionKey (r: { readonly topic: string, readonly partition: number }): string {
  let keys = partitionKeys.get(r.topic)
  if (keys === undefined) partitionKeys.set(r.topic, keys = [])
  return keys[r.partition] ??= `${r.topic}:${r.partition}`
}

/** The topic and partition a `partitionKey` names; undefined for text that is not one. */
export function parsePartitionKey (key: string): { topic: string, partition: number } | undefined {
  const colon = key.lastIndexOf(':')
  if (colon < 0) return undefined
  return { topic: key.slice(0, colon), partition: Number(key.slice(colon + 1)) }
}

/** A taken record with what committing it needs. */
export interface TakenRecord extends SourceRecord {
  readonly leaderEpoch: number
}

const toRecord = (m: KafkaMessage): TakenRecord => ({
  topic: m.topic,
  partition: m.partition,
  offset: m.offset,
  key: m.key === undefined || m.key === null || m.key.length === 0 ? undefined : m.key,
  value: m.value === undefined || m.value === null ? undefined : m.value,
  headers: m.headers.size === 0 ? undefined : m.headers,
  timestamp: Number(m.timestamp),
  leaderEpoch: m.leaderEpoch
})

/**
 * Where the runtime takes its records from and commits them: a consumer group member
 * (`KafkaSource`), or, in a unit test, records in memory.
 */
export interface RecordSource {
  start (): Promise<void>
  /** Up to `max` records, waiting at most `waitMs` for the first and `lingerMs` for more; empty when nothing came. */
  take (max: number, waitMs: number, lingerMs: number, signal: AbortSignal): Promise<TakenRecord[]>
  /** Commits the offset after each given record (the last taken per partition). */
  commit (last: readonly TakenRecord[]): Promise<void>
  reconnect (): Promise<void>
  close (): Promise<void>
  /** Changes each time the assignment may have changed. */
  readonly generation: number
  holds (topic: string, partition: number): boolean
  /** The partition numbers held now, over every topic. */
  heldPartitions (): number[]
  assignments (): { topic: string, partitions: number[] }[]
  /** Epoch ms when the last record arrived. */
  readonly lastRecordAt: number
  readonly buffered: number
  touch (): void
  /** The group member's consumer, for lag and health; undefined when not connected (or not Kafka). */
  readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer> | undefined
  endOffsets (): Promise<Map<string, bigint[]>>
}

/**
 * How fetches wait, by the rate records come in. Quiet (the Java consumer's way): the broker
 * answers as soon as it has a byte, or after 200 ms. At a steady few thousand events a second that
 * is a fetch for every few dozen records, some 200 a second, each a request, a response to parse
 * and the broker's work. Busy: the broker holds the answer until it has 64 KiB or 10 ms have
 * passed, a quarter as many fetches for at most 10 ms more per event (at 5,000 events/s the
 * processor's CPU fell from 70-71% to 64-65% of a core). A backlog is fetched in full responses
 * either way.
 */
export const FetchModes = {
  QUIET: { minBytes: 1, maxWaitTime: 200 },
  BUSY: { minBytes: 64 * 1024, maxWaitTime: 10 }
} as const
/** Records per second at or above which fetches go busy, and below which they go quiet again. */
const BUSY_RATE = 2000
const QUIET_RATE = 1000
/** How long a window the rate is measured over. */
const RATE_WINDOW_MS = 500

/**
 * The processor's side of a consumer group: a messages stream read into a bounded buffer, taken
 * a batch at a time, and committed explicitly (never automatically). When the stream fails (the
 * broker went away past the client's retries) `take` throws a retriable error and `reconnect`
 * builds a new member that resumes from the committed offsets.
 */
export class KafkaSource implements RecordSource {
  readonly #options: KafkaSourceOptions
  #consumer: Consumer<Buffer, Buffer, Buffer, Buffer> | undefined
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined
  #buffer: KafkaMessage[] = []
  #head = 0
  #failure: Error | undefined
  #wake: (() => void) | undefined
  #paused = false
  #lastRecordAt = Date.now()
  #busy = false
  #windowStart = performance.now()
  #windowRecords = 0
  /** Bumped each time the member (re)joins its group: its assignment may have changed. */
  #generation = 0
  /** Per topic, whether each partition is held now; records of others are not taken. */
  #held = new Map<string, boolean[]>()

  constructor (options: KafkaSourceOptions) {
    this.#options = options
  }

  /** Epoch ms when the last record arrived. */
  get lastRecordAt (): number { return this.#lastRecordAt }
  get buffered (): number { return this.#buffer.length - this.#head }

  /** The partitions this member holds now, by topic. */
  assignments (): { topic: string, partitions: number[] }[] {
    return (this.#consumer?.assignments ?? []).map(a => ({ topic: a.topic, partitions: [...a.partitions] }))
  }

  get consumer (): Consumer<Buffer, Buffer, Buffer, Buffer> | undefined { return this.#consumer }

  /** Changes each time the member's assignment may have changed (a rebalance, a new member). */
  get generation (): number { return this.#generation }

  /** The partition numbers held now, over every topic: the tasks whose state this member keeps. */
  heldPartitions (): number[] {
    const out = new Set<number>()
    for (const a of this.assignments()) for (const p of a.partitions) out.add(p)
    return [...out].sort((a, b) => a - b)
  }

  /** Whether this member holds the partition now. */
  holds (topic: string, partition: number): boolean {
    return this.#held.get(topic)?.[partition] === true
  }

  #onJoin (): void {
    const held = new Map<string, boolean[]>()
    for (const a of this.assignments()) {
      const flags: boolean[] = []
      for (const p of a.partitions) flags[p] = true
      held.set(a.topic, flags)
    }
    this.#held = held
    this.#generation++
  }

  async start (): Promise<void> {
    const o = this.#options
    const consumer = createConsumer(o.connection, o.groupId, {
      // A member that misses heartbeats for this long is replaced; a batch waiting on an outage keeps heartbeating.
      sessionTimeout: 10_000,
      heartbeatInterval: 3_000,
      rebalanceTimeout: 60_000,
      connectTimeout: 5_000,
      timeout: 10_000,
      retries: 3,
      retryDelay: 500,
      ...FetchModes.QUIET,
      ...(o.partitionAssigner === undefined ? {} : { partitionAssigner: o.partitionAssigner })
    })
    this.#consumer = consumer
    consumer.on('consumer:group:join', () => { this.#onJoin() })
    this.#failure = undefined
    // Idle time counts from when this member could first fetch, not from before an outage.
    this.#lastRecordAt = Date.now()
    this.#buffer = []
    this.#head = 0
    this.#busy = false
    this.#windowStart = performance.now()
    this.#windowRecords = 0
    try {
      const stream = await consumer.consume({
        topics: [...o.topics],
        mode: MessagesStreamModes.COMMITTED,
        fallbackMode: 'earliest',
        autocommit: false,
        // minBytes and maxWaitTime are left to the consumer's options, which every fetch reads: #pace sets them.
        maxBytes: o.maxBytes ?? 1024 * 1024
      } as Parameters<typeof consumer.consume>[0])
      this.#stream = stream
      // The join event of the first join may come before the listener: read the assignment now too.
      this.#onJoin()
      stream.on('data', (m: KafkaMessage) => {
        this.#buffer.push(m)
        this.#windowRecords++
        this.#lastRecordAt = Date.now()
        if (!this.#paused && this.buffered >= o.maxBuffered) {
          this.#paused = true
          stream.pause()
        }
        this.#wake?.()
      })
      stream.on('error', (error: Error) => {
        this.#failure = error
        this.#wake?.()
      })
    } catch (error) {
      await consumer.close(true).catch(() => undefined)
      this.#consumer = undefined
      throw new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE, `could not join consumer group ${o.groupId} at ${o.connection.kafkaBrokers.join(',')}: ${(error as Error).message}`, { cause: error, retriable: true })
    }
  }

  /**
   * Takes up to `max` records, waiting at most `waitMs` for the first one and then `lingerMs` for
   * more to fill the batch. An empty array means nothing came.
   */
  async take (max: number, waitMs: number, lingerMs: number, signal: AbortSignal): Promise<TakenRecord[]> {
    this.#check()
    this.#pace()
    if (this.buffered === 0) await this.#waitFor(waitMs, signal)
    if (this.buffered > 0 && this.buffered < max && lingerMs > 0) await this.#waitFor(lingerMs, signal, max)
    this.#check()
    const n = Math.min(max, this.buffered)
    const out: TakenRecord[] = []
    const held = this.#held
    for (let i = 0; i < n; i++) {
      const m = this.#buffer[this.#head + i] as KafkaMessage
      // Fetched before a rebalance took the partition away: its new owner reads it from the committed offset.
      if (held.get(m.topic)?.[m.partition] !== true) continue
      out.push(toRecord(m))
    }
    this.#head += n
    if (this.#head > 4096 && this.#head * 2 > this.#buffer.length) {
      this.#buffer = this.#buffer.slice(this.#head)
      this.#head = 0
    }
    if (this.#paused && this.buffered < this.#options.maxBuffered / 2) {
      this.#paused = false
      this.#stream?.resume()
    }
    return out
  }

  /** Whether fetches now wait for 64 KiB (FetchModes.BUSY). */
  get busy (): boolean { return this.#busy }

  /** Switches the fetch mode when the rate of the last window crossed BUSY_RATE or QUIET_RATE. */
  #pace (): void {
    const now = performance.now()
    const elapsed = now - this.#windowStart
    if (elapsed < RATE_WINDOW_MS) return
    const rate = this.#windowRecords * 1000 / elapsed
    this.#windowStart = now
    this.#windowRecords = 0
    const busy = this.#busy ? rate >= QUIET_RATE : rate >= BUSY_RATE
    if (busy === this.#busy || this.#consumer === undefined) return
    this.#busy = busy
    // The consumer's own options are what a fetch falls back to for what the stream was not given.
    Object.assign(this.#consumer[kOptions], busy ? FetchModes.BUSY : FetchModes.QUIET)
  }

  #check (): void {
    if (this.#failure !== undefined) {
      throw new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE, `the consumer lost the cluster: ${this.#failure.message}`, { cause: this.#failure, retriable: true })
    }
  }

  #waitFor (ms: number, signal: AbortSignal, until?: number): Promise<void> {
    return new Promise(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        this.#wake = undefined
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
      this.#wake = until === undefined ? done : () => { if (this.buffered >= until || this.#failure !== undefined) done() }
    })
  }

  /** Commits the offset after each given record (the last taken per partition). */
  async commit (last: readonly TakenRecord[]): Promise<void> {
    const consumer = this.#consumer
    if (consumer === undefined || last.length === 0) return
    try {
      await consumer.commit({ offsets: last.map(r => ({ topic: r.topic, partition: r.partition, offset: r.offset + 1n, leaderEpoch: r.leaderEpoch })) })
    } catch (error) {
      throw new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE, `could not commit offsets: ${(error as Error).message}`, { cause: error, retriable: true })
    }
  }

  /** Counts idle time from now (records are known to be waiting elsewhere). */
  touch (): void {
    this.#lastRecordAt = Date.now()
  }

  /** Latest offsets of the held partitions, for lag. */
  async endOffsets (): Promise<Map<string, bigint[]>> {
    const consumer = this.#consumer
    if (consumer === undefined) return new Map()
    return consumer.listOffsets({ topics: [...this.#options.topics] })
  }

  /** Leaves the group and builds a new member; records buffered but not taken are fetched again. */
  async reconnect (): Promise<void> {
    await this.close()
    await this.start()
  }

  async close (): Promise<void> {
    const stream = this.#stream
    const consumer = this.#consumer
    this.#stream = undefined
    this.#consumer = undefined
    this.#buffer = []
    this.#head = 0
    this.#paused = false
    if (stream !== undefined) await stream.close().catch(() => undefined)
    if (consumer !== undefined) await consumer.close(this.#failure !== undefined).catch(() => undefined)
  }
}
