import { randomBytes } from 'node:crypto'
import {
  ListOffsetTimestamps, MessagesStreamModes,
  type Admin, type Consumer, type Message, type MessagesStream, type MessageToProduce, type Producer
} from '@platformatic/kafka'
import type { Config } from '../../config/index.ts'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import { createAdmin, createConsumer, createProducer, requestChunks, type KafkaConnection } from '../../kafka/client/index.ts'
import { DEAD_LETTER_SUFFIX, DeadLetterHeaders, deadLetterTopic } from './record.ts'

type KafkaMessage = Message<Buffer, Buffer, Buffer, Buffer>

/** The header of a replayed record: the `<dead-letter topic>:<partition>:<offset>` it was replayed from. */
export const REPLAYED_FROM_HEADER = 'churnflow-replayed-from'

/** The error code of a dead-letter record that has no `churnflow-error-code` header. */
export const NO_ERROR_CODE = '(none)'

/** A dry run's stand-in for the target of a record that has nowhere to go back to (a real replay stops there). */
export const NO_TARGET = '(no source topic: name one with --to)'

/** Headers a replay drops: the dead-letter ones and the mark of an earlier replay. */
const droppedHeaders: ReadonlySet<string> = new Set([...Object.values(DeadLetterHeaders), REPLAYED_FROM_HEADER])

/**
 * The consumer group that remembers where the replays of a dead-letter topic stopped: the group of
 * the pipeline whose dead letters it holds, with `-dlq-replay`: `<FRAUD_CONSUMER_GROUP>-dlq-replay`
 * for the fraud pipeline's own (transactions-failed), else `<KAFKA_GROUP_ID>-dlq-replay` (a
 * KAFKA_ERROR_TOPIC both pipelines share included). So a churn replay and a fraud replay running
 * at once are never members of one group.
 */
export function replayGroupId (config: Pick<Config, 'groupId' | 'fraudGroupId' | 'errorTopic' | 'transactionsTopic'>, topic: string): string {
  const fraudOnly = config.errorTopic === undefined && topic === deadLetterTopic(config, config.transactionsTopic)
  return `${fraudOnly ? config.fraudGroupId : config.groupId}-dlq-replay`
}

/** A dead-letter record as read: value and key exactly as stored (undefined when null), every header in order. */
export interface DeadLetterRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  readonly key: Buffer | undefined
  readonly value: Buffer | undefined
  readonly headers: readonly (readonly [Buffer, Buffer])[]
  readonly timestamp: bigint
}

/** The text of the first header with this name, if the record has one. */
export function headerText (record: DeadLetterRecord, name: string): string | undefined {
  for (const [k, v] of record.headers) if (k.toString('utf8') === name) return v.toString('utf8')
  return undefined
}

/** The record's `churnflow-error-code`, or `(none)`. */
export function errorCodeOf (record: DeadLetterRecord): string {
  return headerText(record, DeadLetterHeaders.ERROR_CODE) ?? NO_ERROR_CODE
}

/**
 * Where a dead-letter record goes back to: `to` when given, else its `churnflow-source-topic`
 * header, else the dead-letter topic's name without `-failed`. Undefined when none of these works.
 */
export function replayTarget (record: DeadLetterRecord, to?: string): string | undefined {
  if (to !== undefined) return to
  const source = headerText(record, DeadLetterHeaders.SOURCE_TOPIC)
  if (source !== undefined && source !== '') return source
  if (record.topic.endsWith(DEAD_LETTER_SUFFIX) && record.topic.length > DEAD_LETTER_SUFFIX.length) return record.topic.slice(0, -DEAD_LETTER_SUFFIX.length)
  return undefined
}

/**
 * The record to produce for a dead-letter record: the same key, value and timestamp (the
 * processor gives a dead-letter record its source record's timestamp), the headers the source
 * record had, and `churnflow-replayed-from` instead of the dead-letter headers.
 */
export function replayMessage (record: DeadLetterRecord, target: string): MessageToProduce<Buffer, Buffer, Buffer, Buffer> {
  // A Map keyed by Buffer objects keeps repeated header names and their order.
  const headers = new Map<Buffer, Buffer>()
  for (const [k, v] of record.headers) if (!droppedHeaders.has(k.toString('utf8'))) headers.set(k, v)
  headers.set(Buffer.from(REPLAYED_FROM_HEADER), Buffer.from(`${record.topic}:${record.partition}:${record.offset}`))
  // The client's message schema wants a value property: null writes a null (tombstone) value.
  return { topic: target, key: record.key, value: record.value ?? (null as unknown as Buffer), headers, timestamp: record.timestamp }
}

/** One record of a dry run, for a person to look at. */
export interface DeadLetterSample {
  readonly partition: number
  readonly offset: bigint
  readonly code: string
  readonly message: string
  /** The value as UTF-8, cut to 120 characters. */
  readonly value: string
  readonly target: string | undefined
}

export interface ReplayProgress {
  /** Records of the snapshot read so far (replayed and skipped). */
  readonly read: number
  readonly replayed: number
  readonly skipped: number
  /** Records between the group's position and the end snapshot when the replay started. */
  readonly pending: number
  readonly elapsedMs: number
}

export interface ReplayOptions {
  readonly connection: KafkaConnection
  /** The group whose committed offsets mark where the last replay stopped (`replayGroupId`). */
  readonly groupId: string
  /** The dead-letter topic. */
  readonly topic: string
  /** Produce every record to this topic instead of its source topic. */
  readonly to?: string
  /** Read and count only: produce nothing, commit nothing, leave the group alone. */
  readonly dryRun?: boolean
  /** Start at the earliest offset instead of the group's committed position. */
  readonly fromBeginning?: boolean
  /** Replay only records with these error codes; the others are skipped, and the position moves past them. */
  readonly codes?: ReadonlySet<string>
  /** Stop after replaying this many records. */
  readonly limit?: number
  readonly compression?: Config['compression']
  /** How many records a dry run keeps in `samples`. */
  readonly samples?: number
  /** Most records produced and committed at a time. */
  readonly batchSize?: number
  readonly onProgress?: (progress: ReplayProgress) => void
  readonly progressIntervalMs?: number
  /** Aborting it stops after the batch in hand is produced and committed. */
  readonly signal?: AbortSignal
}

export const ReplayStops = { END: 'end', LIMIT: 'limit', SIGNAL: 'signal' } as const
export type ReplayStop = (typeof ReplayStops)[keyof typeof ReplayStops]

export interface ReplayResult {
  readonly topic: string
  readonly groupId: string
  readonly dryRun: boolean
  /** Records between the group's position (or the earliest offset) and the end snapshot at the start. */
  readonly pending: number
  /** Records replayed (in a dry run: that would be). */
  readonly replayed: number
  /** Records passed over because their code is not in `codes`. */
  readonly skipped: number
  /** Records of the snapshot not reached (`--limit`, a signal); the next replay starts with them. */
  readonly remaining: number
  /** Every record read (replayed and skipped), by error code. */
  readonly byCode: ReadonlyMap<string, number>
  /** Records replayed, by the topic they went to. */
  readonly targets: ReadonlyMap<string, number>
  /** Dry run: targets that do not exist (a replay would stop there). */
  readonly missingTargets: readonly string[]
  /** Dry run: the first records that would be replayed. */
  readonly samples: readonly DeadLetterSample[]
  readonly stop: ReplayStop
}

/** What the replay reads: for each partition, from `start` up to (not including) `end`. */
interface Range { readonly start: bigint[], readonly end: bigint[] }

const toRecord = (m: KafkaMessage): DeadLetterRecord => ({
  topic: m.topic,
  partition: m.partition,
  offset: m.offset,
  key: m.key ?? undefined,
  value: m.value ?? undefined,
  headers: m.headerEntries,
  timestamp: m.timestamp
})

const unreachable = (connection: KafkaConnection, what: string, error: unknown): ChurnflowError =>
  new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE, `could not ${what} at ${connection.kafkaBrokers.join(',')}: ${(error as Error).message}`, { cause: error, retriable: true })

/** The topic is not on the cluster: say which dead-letter topics are. */
function unknownTopic (topic: string, flag: string, present: ReadonlySet<string>): ChurnflowError {
  const dead = [...present].filter(t => t.endsWith(DEAD_LETTER_SUFFIX)).sort()
  return new ChurnflowError(ErrorCodes.USAGE, `${flag} ${topic}: no such topic on the cluster`, {
    exitCode: 2,
    details: [dead.length === 0 ? 'the cluster has no <topic>-failed dead-letter topic' : `dead-letter topics on the cluster: ${dead.join(', ')}`]
  })
}

async function snapshot (consumer: Consumer<Buffer, Buffer, Buffer, Buffer>, admin: Admin, o: ReplayOptions): Promise<Range> {
  const end = (await consumer.listOffsets({ topics: [o.topic] })).get(o.topic) ?? []
  const earliest = (await consumer.listOffsets({ topics: [o.topic], timestamp: ListOffsetTimestamps.EARLIEST })).get(o.topic) ?? []
  const committed: bigint[] = []
  if (o.fromBeginning !== true) {
    const groups = await admin.listConsumerGroupOffsets({ groups: [{ groupId: o.groupId, topics: [{ name: o.topic, partitionIndexes: end.map((_, p) => p) }] }] })
    for (const t of groups[0]?.topics ?? []) {
      if (t.name === o.topic) for (const p of t.partitions) committed[p.partitionIndex] = p.committedOffset
    }
  }
  const start = end.map((last, p) => {
    const first = earliest[p] ?? 0n
    const at = committed[p] ?? -1n
    // Below the earliest offset (retention removed records) or past the end (the topic was
    // deleted and created again): start from what is there, as Kafka's `earliest` reset does.
    return at < first || at > last ? first : at
  })
  return { start, end }
}

/** The Kafka clients of one replay; disposing it closes them, the stream first and the admin last. */
class ReplayClients implements AsyncDisposable {
  readonly admin: Admin
  readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>
  /** The group the consumer reads with: the replay's own, or a throwaway one for a dry run. */
  readonly readGroup: string
  producer: Producer<Buffer, Buffer, Buffer, Buffer> | undefined
  stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined
  /** The stream's error, once it failed: the consumer then leaves the group at once. */
  failure: Error | undefined

  constructor (o: ReplayOptions) {
    this.admin = createAdmin(o.connection)
    // A dry run reads with a group of its own, so it never disturbs a replay in progress.
    this.readGroup = o.dryRun === true ? `${o.groupId}-dry-run-${randomBytes(4).toString('hex')}` : o.groupId
    this.consumer = createConsumer(o.connection, this.readGroup, {
      sessionTimeout: 10_000,
      heartbeatInterval: 3_000,
      rebalanceTimeout: 10_000,
      connectTimeout: 5_000,
      timeout: 10_000,
      retries: 3,
      retryDelay: 500
    })
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    if (this.stream !== undefined) await this.stream.close().catch(() => undefined)
    await this.consumer.close(this.failure !== undefined).catch(() => undefined)
    await this.producer?.close().catch(() => undefined)
    await this.admin.close().catch(() => undefined)
  }
}

/** Step 1: the dead-letter topic and `--to` exist; resolves to the topics on the cluster. */
async function checkTopics (clients: ReplayClients, o: ReplayOptions): Promise<Set<string>> {
  let present: Set<string>
  try {
    present = new Set(await clients.admin.listTopics())
  } catch (error) {
    throw unreachable(o.connection, 'list the topics', error)
  }
  if (!present.has(o.topic)) throw unknownTopic(o.topic, '--topic', present)
  if (o.to !== undefined && !present.has(o.to)) throw unknownTopic(o.to, '--to', present)
  return present
}

/** Step 3: joins the group at the snapshot's start offsets, alone (another replay running holds partitions). */
async function joinGroup (clients: ReplayClients, o: ReplayOptions, range: Range): Promise<MessagesStream<Buffer, Buffer, Buffer, Buffer>> {
  try {
    clients.stream = await clients.consumer.consume({
      topics: [o.topic],
      mode: MessagesStreamModes.MANUAL,
      offsets: range.start.map((offset, partition) => ({ topic: o.topic, partition, offset })),
      autocommit: false,
      maxWaitTime: 200
    })
  } catch (error) {
    throw unreachable(o.connection, `join the consumer group ${clients.readGroup}`, error)
  }
  const held = clients.consumer.assignments?.find(a => a.topic === o.topic)?.partitions.length ?? 0
  if (held < range.end.length) {
    throw new ChurnflowError(ErrorCodes.USAGE, `another replay of ${o.topic} is running (the consumer group ${o.groupId} gave this one ${held} of its ${range.end.length} partitions)`, {
      retriable: true,
      details: ['wait for it to finish, then run this again']
    })
  }
  return clients.stream
}

/**
 * The stream read into a bounded buffer: it pauses when `maxBuffered` records wait and resumes
 * below half of that. Records keep every header in order (a Map of them would merge repeats).
 */
class DeadLetterReader {
  readonly #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>
  readonly #clients: ReplayClients
  readonly #maxBuffered: number
  #buffer: KafkaMessage[] = []
  #head = 0
  #paused = false
  #wake: (() => void) | undefined

  constructor (stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>, clients: ReplayClients, maxBuffered: number) {
    this.#stream = stream
    this.#clients = clients
    this.#maxBuffered = maxBuffered
    stream.on('data', (m: KafkaMessage) => {
      this.#buffer.push(m)
      if (!this.#paused && this.buffered >= maxBuffered) {
        this.#paused = true
        stream.pause()
      }
      this.#wake?.()
    })
    stream.on('error', (error: Error) => {
      clients.failure = error
      this.#wake?.()
    })
  }

  get buffered (): number { return this.#buffer.length - this.#head }
  get failure (): Error | undefined { return this.#clients.failure }

  /** The next buffered record, without taking it. */
  peek (): KafkaMessage | undefined { return this.#buffer[this.#head] }

  /** Takes the record `peek` showed. */
  skip (): void { this.#head++ }

  /** After a batch: drops what was taken, and resumes a paused stream once the buffer has room. */
  settle (): void {
    if (this.#head > 4096 && this.#head * 2 > this.#buffer.length) {
      this.#buffer = this.#buffer.slice(this.#head)
      this.#head = 0
    }
    if (this.#paused && this.buffered < this.#maxBuffered / 2) {
      this.#paused = false
      this.#stream.resume()
    }
  }

  /**
   * With nothing buffered or in the stream, the partitions whose fetch position passed the end
   * snapshot are done: offsets with no record there (transaction markers) come no more.
   */
  drained (topic: string, next: bigint[], end: readonly bigint[]): number[] {
    if (this.#stream.readableLength !== 0) return []
    const done: number[] = []
    for (let p = 0; p < end.length; p++) {
      const last = end[p] ?? 0n
      if ((next[p] ?? last) < last && (this.#stream.offsetsToFetch.get(`${topic}:${p}`) ?? 0n) >= last) done.push(p)
    }
    return done
  }

  /** Waits until a record arrives, the stream fails, `signal` aborts, or `ms` pass. */
  waitForData (ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        this.#wake = undefined
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal?.addEventListener('abort', done, { once: true })
      this.#wake = done
    })
  }
}

/** What a replay has done so far, and where it is in each partition. */
class ReplayTally {
  readonly #o: ReplayOptions
  readonly #range: Range
  readonly next: bigint[]
  readonly epochs: number[]
  readonly pending: number
  read = 0
  replayed = 0
  skipped = 0
  stop: ReplayStop = ReplayStops.END
  readonly byCode = new Map<string, number>()
  readonly targets = new Map<string, number>()
  readonly missing = new Set<string>()
  readonly samples: DeadLetterSample[] = []

  constructor (o: ReplayOptions, range: Range) {
    this.#o = o
    this.#range = range
    this.next = [...range.start]
    this.epochs = range.start.map(() => -1)
    this.pending = range.end.reduce((sum, e, p) => sum + Number(e - (range.start[p] ?? e)), 0)
  }

  /** True while some partition has records below the end snapshot still to read. */
  get open (): boolean { return this.next.some((n, p) => n < (this.#range.end[p] ?? 0n)) }

  count (map: Map<string, number>, key: string): void { map.set(key, (map.get(key) ?? 0) + 1) }

  /** The record at `next` in its partition was dealt with. */
  advance (m: KafkaMessage): void {
    this.next[m.partition] = m.offset + 1n
    this.epochs[m.partition] = m.leaderEpoch
  }

  progress (startedAt: number): ReplayProgress {
    return { read: this.read, replayed: this.replayed, skipped: this.skipped, pending: this.pending, elapsedMs: Date.now() - startedAt }
  }

  result (): ReplayResult {
    const o = this.#o
    const end = this.#range.end
    return {
      topic: o.topic,
      groupId: o.groupId,
      dryRun: o.dryRun === true,
      pending: this.pending,
      replayed: this.replayed,
      skipped: this.skipped,
      remaining: end.reduce((sum, e, p) => sum + Number(e - (this.next[p] ?? e)), 0),
      byCode: this.byCode,
      targets: this.targets,
      missingTargets: [...this.missing],
      samples: this.samples,
      stop: this.stop
    }
  }
}

/** Whether a target topic exists, asking the cluster again once for a topic not seen at the start. */
function targetChecker (clients: ReplayClients, o: ReplayOptions, present: Set<string>): (topic: string) => Promise<boolean> {
  const resolved = new Map<string, boolean>()
  let known = present
  return async topic => {
    let exists = resolved.get(topic) ?? (known.has(topic) ? true : undefined)
    if (exists === undefined) {
      // Listed again once: the topic may have been created since the replay started.
      try {
        known = new Set(await clients.admin.listTopics())
      } catch (error) {
        throw unreachable(o.connection, 'list the topics', error)
      }
      exists = known.has(topic)
    }
    resolved.set(topic, exists)
    return exists
  }
}

/** Where one record goes back to; a real replay stops at a record with nowhere to go, a dry run notes it. */
async function targetOf (record: DeadLetterRecord, o: ReplayOptions, tally: ReplayTally, exists: (topic: string) => Promise<boolean>): Promise<string | undefined> {
  const found = replayTarget(record, o.to)
  const target = found === undefined || found === o.topic ? undefined : found
  const where = `${o.topic}:${record.partition}:${record.offset}`
  if (target === undefined) {
    if (o.dryRun !== true) {
      throw new ChurnflowError(ErrorCodes.USAGE, `${where} has no ${DeadLetterHeaders.SOURCE_TOPIC} header and ${o.topic} does not end in ${DEAD_LETTER_SUFFIX}: nowhere to replay it to`, {
        exitCode: 2,
        details: ['name the topic with --to TOPIC', `${tally.replayed} record(s) were replayed and committed before it`]
      })
    }
    tally.missing.add(NO_TARGET)
  } else if (!(await exists(target))) {
    if (o.dryRun !== true) {
      throw new ChurnflowError(ErrorCodes.USAGE, `${where} goes back to ${target}, which does not exist`, {
        exitCode: 2,
        details: [`create it (churnflow topics create) or name another with --to TOPIC; ${tally.replayed} record(s) were replayed and committed before it`]
      })
    }
    tally.missing.add(target)
  }
  return target
}

/** Step 4, one record: counted, skipped by its code, or replayed (in a dry run: sampled); the message to produce, if any. */
async function routeRecord (m: KafkaMessage, o: ReplayOptions, tally: ReplayTally, exists: (topic: string) => Promise<boolean>): Promise<MessageToProduce<Buffer, Buffer, Buffer, Buffer> | undefined> {
  const record = toRecord(m)
  const code = errorCodeOf(record)
  tally.read++
  tally.count(tally.byCode, code)
  if (o.codes !== undefined && !o.codes.has(code)) {
    tally.skipped++
    return undefined
  }
  const target = await targetOf(record, o, tally, exists)
  tally.replayed++
  tally.count(tally.targets, target ?? NO_TARGET)
  if (o.dryRun !== true) return replayMessage(record, target as string)
  if (tally.samples.length < (o.samples ?? 0)) {
    tally.samples.push({
      partition: m.partition,
      offset: m.offset,
      code,
      message: headerText(record, DeadLetterHeaders.ERROR_MESSAGE) ?? '',
      value: record.value === undefined ? '' : record.value.toString('utf8').slice(0, 120),
      target
    })
  }
  return undefined
}

/** Step 4: up to `batchSize` buffered records of the snapshot, routed; the partitions they moved and what to produce. */
async function takeBatch (reader: DeadLetterReader, o: ReplayOptions, tally: ReplayTally, end: readonly bigint[], exists: (topic: string) => Promise<boolean>): Promise<{ messages: MessageToProduce<Buffer, Buffer, Buffer, Buffer>[], advanced: Set<number> }> {
  const messages: MessageToProduce<Buffer, Buffer, Buffer, Buffer>[] = []
  const advanced = new Set<number>()
  const n = Math.min(o.batchSize ?? 500, reader.buffered)
  for (let i = 0; i < n; i++) {
    const m = reader.peek() as KafkaMessage
    // A record fetched twice (around a rebalance), or one that came after the snapshot: not this replay's.
    if (m.offset < (tally.next[m.partition] ?? 0n) || m.offset >= (end[m.partition] ?? 0n)) {
      reader.skip()
      continue
    }
    if (o.limit !== undefined && tally.replayed >= o.limit) break
    reader.skip()
    const message = await routeRecord(m, o, tally, exists)
    if (message !== undefined) messages.push(message)
    tally.advance(m)
    advanced.add(m.partition)
  }
  reader.settle()
  return { messages, advanced }
}

/** Step 5: produces the batch (acknowledged by every in-sync replica), then commits the position past it. */
async function produceAndCommit (clients: ReplayClients, o: ReplayOptions, tally: ReplayTally, messages: MessageToProduce<Buffer, Buffer, Buffer, Buffer>[], advanced: ReadonlySet<number>): Promise<void> {
  if (messages.length > 0) {
    try {
      for (const chunk of requestChunks(messages)) await (clients.producer as Producer<Buffer, Buffer, Buffer, Buffer>).send({ messages: chunk })
    } catch (error) {
      throw new ChurnflowError(ErrorCodes.KAFKA_PRODUCE_FAILED, `could not produce the replayed records: ${(error as Error).message}`, {
        cause: error,
        retriable: true,
        details: [`${tally.replayed - messages.length} record(s) were replayed and committed before; run the replay again to go on from there`]
      })
    }
  }
  try {
    await clients.consumer.commit({ offsets: [...advanced].map(p => ({ topic: o.topic, partition: p, offset: tally.next[p] as bigint, leaderEpoch: tally.epochs[p] as number })) })
  } catch (error) {
    throw new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE, `could not commit the replay's position in ${o.topic}: ${(error as Error).message}`, {
      cause: error,
      retriable: true,
      details: ['the last batch was produced but not committed: the next replay sends it again']
    })
  }
}

/** Why the loop stops before the end of the snapshot, if it does now: a lost stream (thrown), a signal, the limit. */
function stopNow (reader: DeadLetterReader, o: ReplayOptions, tally: ReplayTally): boolean {
  const failure = reader.failure
  if (failure !== undefined) {
    throw new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE, `lost the cluster while reading ${o.topic}: ${failure.message}`, {
      cause: failure,
      retriable: true,
      details: o.dryRun === true ? [] : [`${tally.replayed} record(s) were replayed and committed before; run the replay again to go on from there`]
    })
  }
  if (o.signal?.aborted === true) tally.stop = ReplayStops.SIGNAL
  else if (o.limit !== undefined && tally.replayed >= o.limit) tally.stop = ReplayStops.LIMIT
  else return false
  return true
}

/** Steps 4 and 5 until the snapshot is read, the limit is reached or the signal aborts. */
async function replayRange (clients: ReplayClients, reader: DeadLetterReader, o: ReplayOptions, range: Range, tally: ReplayTally, present: Set<string>, startedAt: number): Promise<void> {
  const exists = targetChecker(clients, o, present)
  let lastProgress = startedAt
  while (tally.open && !stopNow(reader, o, tally)) {
    let batch: { messages: MessageToProduce<Buffer, Buffer, Buffer, Buffer>[], advanced: Set<number> }
    if (reader.buffered === 0) {
      const done = reader.drained(o.topic, tally.next, range.end)
      if (done.length === 0) {
        await reader.waitForData(200, o.signal)
        continue
      }
      for (const p of done) tally.next[p] = range.end[p] as bigint
      batch = { messages: [], advanced: new Set(done) }
    } else {
      batch = await takeBatch(reader, o, tally, range.end, exists)
    }
    if (o.dryRun !== true && batch.advanced.size > 0) await produceAndCommit(clients, o, tally, batch.messages, batch.advanced)
    const now = Date.now()
    if (o.onProgress !== undefined && now - lastProgress >= (o.progressIntervalMs ?? 1000)) {
      lastProgress = now
      o.onProgress(tally.progress(startedAt))
    }
  }
}

/**
 * Reads a dead-letter topic from where the last replay stopped (the group's committed offsets)
 * up to its end as of the start, and produces each record back to its source topic. The group's
 * offsets are committed after the records before them are acknowledged by every in-sync replica,
 * so a crash sends again at most the batch in hand and never skips one.
 *
 * Its steps: check the topics, snapshot the range to read, join the group at its start, then take,
 * route, produce and commit a batch at a time.
 */
export async function replayDeadLetters (o: ReplayOptions): Promise<ReplayResult> {
  const startedAt = Date.now()
  await using clients = new ReplayClients(o)
  const present = await checkTopics(clients, o)
  let range: Range
  try {
    range = await snapshot(clients.consumer, clients.admin, o)
  } catch (error) {
    throw unreachable(o.connection, `read the offsets of ${o.topic}`, error)
  }
  const tally = new ReplayTally(o, range)
  if (tally.pending === 0) return tally.result()
  if (o.dryRun !== true) clients.producer = createProducer(o.connection, { suffix: 'dlq-replay', ...(o.compression === undefined ? {} : { compression: o.compression }) })
  const stream = await joinGroup(clients, o, range)
  const reader = new DeadLetterReader(stream, clients, Math.max(1000, (o.batchSize ?? 500) * 2))
  await replayRange(clients, reader, o, range, tally, present, startedAt)
  return tally.result()
}
