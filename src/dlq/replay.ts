import { randomBytes } from 'node:crypto'
import {
  ListOffsetTimestamps, MessagesStreamModes,
  type Admin, type Consumer, type Message, type MessagesStream, type MessageToProduce, type Producer
} from '@platformatic/kafka'
import type { Config } from '../config/index.ts'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import { createAdmin, createConsumer, createProducer, type KafkaConnection } from '../kafka/client/index.ts'
import { DEAD_LETTER_SUFFIX, DeadLetterHeaders } from '../kafka/topics/index.ts'

type KafkaMessage = Message<Buffer, Buffer, Buffer, Buffer>

/** The header of a replayed record: the `<dead-letter topic>:<partition>:<offset>` it was replayed from. */
export const REPLAYED_FROM_HEADER = 'churnflow-replayed-from'

/** The error code of a dead-letter record that has no `churnflow-error-code` header. */
export const NO_ERROR_CODE = '(none)'

/** A dry run's stand-in for the target of a record that has nowhere to go back to (a real replay stops there). */
export const NO_TARGET = '(no source topic: name one with --to)'

/** Headers a replay drops: the dead-letter ones and the mark of an earlier replay. */
const droppedHeaders: ReadonlySet<string> = new Set([...Object.values(DeadLetterHeaders), REPLAYED_FROM_HEADER])

/** The consumer group that remembers where the replays of a dead-letter topic stopped: `<KAFKA_GROUP_ID>-dlq-replay`. */
export function replayGroupId (config: Pick<Config, 'groupId'>): string {
  return `${config.groupId}-dlq-replay`
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

/**
 * Reads a dead-letter topic from where the last replay stopped (the group's committed offsets)
 * up to its end as of the start, and produces each record back to its source topic. The group's
 * offsets are committed after the records before them are acknowledged by every in-sync replica,
 * so a crash sends again at most the batch in hand and never skips one.
 */
export async function replayDeadLetters (o: ReplayOptions): Promise<ReplayResult> {
  const startedAt = Date.now()
  const dryRun = o.dryRun === true
  const admin = createAdmin(o.connection)
  // A dry run reads with a group of its own, so it never disturbs a replay in progress.
  const readGroup = dryRun ? `${o.groupId}-dry-run-${randomBytes(4).toString('hex')}` : o.groupId
  const consumer = createConsumer(o.connection, readGroup, {
    sessionTimeout: 10_000,
    heartbeatInterval: 3_000,
    rebalanceTimeout: 10_000,
    connectTimeout: 5_000,
    timeout: 10_000,
    retries: 3,
    retryDelay: 500
  })
  let producer: Producer<Buffer, Buffer, Buffer, Buffer> | undefined
  let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined
  let failure: Error | undefined
  try {
    let present: Set<string>
    let range: Range
    try {
      present = new Set(await admin.listTopics())
    } catch (error) {
      throw unreachable(o.connection, 'list the topics', error)
    }
    if (!present.has(o.topic)) throw unknownTopic(o.topic, '--topic', present)
    if (o.to !== undefined && !present.has(o.to)) throw unknownTopic(o.to, '--to', present)
    try {
      range = await snapshot(consumer, admin, o)
    } catch (error) {
      throw unreachable(o.connection, `read the offsets of ${o.topic}`, error)
    }
    const { start, end } = range
    const next = [...start]
    const epochs = start.map(() => -1)
    const pending = end.reduce((sum, e, p) => sum + Number(e - (start[p] ?? e)), 0)

    let read = 0
    let replayed = 0
    let skipped = 0
    let stop: ReplayStop = ReplayStops.END
    const byCode = new Map<string, number>()
    const targets = new Map<string, number>()
    const missing = new Set<string>()
    const samples: DeadLetterSample[] = []
    const result = (): ReplayResult => ({
      topic: o.topic,
      groupId: o.groupId,
      dryRun,
      pending,
      replayed,
      skipped,
      remaining: end.reduce((sum, e, p) => sum + Number(e - (next[p] ?? e)), 0),
      byCode,
      targets,
      missingTargets: [...missing],
      samples,
      stop
    })
    if (pending === 0) return result()

    if (!dryRun) producer = createProducer(o.connection, { suffix: 'dlq-replay', ...(o.compression === undefined ? {} : { compression: o.compression }) })
    try {
      stream = await consumer.consume({
        topics: [o.topic],
        mode: MessagesStreamModes.MANUAL,
        offsets: start.map((offset, partition) => ({ topic: o.topic, partition, offset })),
        autocommit: false,
        maxWaitTime: 200
      })
    } catch (error) {
      throw unreachable(o.connection, `join the consumer group ${readGroup}`, error)
    }
    const held = consumer.assignments?.find(a => a.topic === o.topic)?.partitions.length ?? 0
    if (held < end.length) {
      throw new ChurnflowError(ErrorCodes.USAGE, `another replay of ${o.topic} is running (the consumer group ${o.groupId} gave this one ${held} of its ${end.length} partitions)`, {
        retriable: true,
        details: ['wait for it to finish, then run this again']
      })
    }

    const maxBuffered = Math.max(1000, (o.batchSize ?? 500) * 2)
    let buffer: KafkaMessage[] = []
    let head = 0
    let paused = false
    let wake: (() => void) | undefined
    const reader = stream
    reader.on('data', (m: KafkaMessage) => {
      buffer.push(m)
      if (!paused && buffer.length - head >= maxBuffered) {
        paused = true
        reader.pause()
      }
      wake?.()
    })
    reader.on('error', (error: Error) => {
      failure = error
      wake?.()
    })
    const waitForData = (ms: number): Promise<void> => new Promise(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        wake = undefined
        o.signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      o.signal?.addEventListener('abort', done, { once: true })
      wake = done
    })

    const resolved = new Map<string, boolean>()
    const exists = async (topic: string): Promise<boolean> => {
      let known = resolved.get(topic) ?? (present.has(topic) ? true : undefined)
      if (known === undefined) {
        // Listed again once: the topic may have been created since the replay started.
        try {
          present = new Set(await admin.listTopics())
        } catch (error) {
          throw unreachable(o.connection, 'list the topics', error)
        }
        known = present.has(topic)
      }
      resolved.set(topic, known)
      return known
    }

    const batchSize = o.batchSize ?? 500
    const isOpen = (): boolean => next.some((n, p) => n < (end[p] ?? 0n))
    let lastProgress = startedAt
    while (isOpen()) {
      if (failure !== undefined) {
        throw new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE, `lost the cluster while reading ${o.topic}: ${failure.message}`, {
          cause: failure,
          retriable: true,
          details: dryRun ? [] : [`${replayed} record(s) were replayed and committed before; run the replay again to go on from there`]
        })
      }
      if (o.signal?.aborted === true) {
        stop = ReplayStops.SIGNAL
        break
      }
      if (o.limit !== undefined && replayed >= o.limit) {
        stop = ReplayStops.LIMIT
        break
      }
      const advanced = new Set<number>()
      if (buffer.length - head === 0) {
        // Every record below the end snapshot has arrived once the stream fetches past it with
        // nothing left undelivered: offsets with no record there (transaction markers) are done.
        if (reader.readableLength === 0) {
          for (let p = 0; p < end.length; p++) {
            const last = end[p] ?? 0n
            if ((next[p] ?? last) < last && (reader.offsetsToFetch.get(`${o.topic}:${p}`) ?? 0n) >= last) {
              next[p] = last
              advanced.add(p)
            }
          }
        }
        if (advanced.size === 0) {
          await waitForData(200)
          continue
        }
      }
      const messages: MessageToProduce<Buffer, Buffer, Buffer, Buffer>[] = []
      const n = Math.min(batchSize, buffer.length - head)
      for (let i = 0; i < n; i++) {
        const m = buffer[head] as KafkaMessage
        const p = m.partition
        // A record fetched twice (around a rebalance), or one that came after the snapshot: not this replay's.
        if (m.offset < (next[p] ?? 0n) || m.offset >= (end[p] ?? 0n)) {
          head++
          continue
        }
        if (o.limit !== undefined && replayed >= o.limit) break
        head++
        const record = toRecord(m)
        const code = errorCodeOf(record)
        read++
        byCode.set(code, (byCode.get(code) ?? 0) + 1)
        if (o.codes !== undefined && !o.codes.has(code)) {
          skipped++
        } else {
          const found = replayTarget(record, o.to)
          const target = found === undefined || found === o.topic ? undefined : found
          if (target === undefined) {
            if (!dryRun) {
              throw new ChurnflowError(ErrorCodes.USAGE, `${o.topic}:${p}:${m.offset} has no ${DeadLetterHeaders.SOURCE_TOPIC} header and ${o.topic} does not end in ${DEAD_LETTER_SUFFIX}: nowhere to replay it to`, {
                exitCode: 2,
                details: ['name the topic with --to TOPIC', `${replayed} record(s) were replayed and committed before it`]
              })
            }
            missing.add(NO_TARGET)
          } else if (!(await exists(target))) {
            if (!dryRun) {
              throw new ChurnflowError(ErrorCodes.USAGE, `${o.topic}:${p}:${m.offset} goes back to ${target}, which does not exist`, {
                exitCode: 2,
                details: [`create it (churnflow topics create) or name another with --to TOPIC; ${replayed} record(s) were replayed and committed before it`]
              })
            }
            missing.add(target)
          }
          replayed++
          const counted = target ?? NO_TARGET
          targets.set(counted, (targets.get(counted) ?? 0) + 1)
          if (dryRun) {
            if (samples.length < (o.samples ?? 0)) {
              samples.push({
                partition: p,
                offset: m.offset,
                code,
                message: headerText(record, DeadLetterHeaders.ERROR_MESSAGE) ?? '',
                value: record.value === undefined ? '' : record.value.toString('utf8').slice(0, 120),
                target
              })
            }
          } else {
            messages.push(replayMessage(record, target as string))
          }
        }
        next[p] = m.offset + 1n
        epochs[p] = m.leaderEpoch
        advanced.add(p)
      }
      if (head > 4096 && head * 2 > buffer.length) {
        buffer = buffer.slice(head)
        head = 0
      }
      if (paused && buffer.length - head < maxBuffered / 2) {
        paused = false
        reader.resume()
      }
      if (!dryRun && advanced.size > 0) {
        if (messages.length > 0) {
          try {
            await (producer as Producer<Buffer, Buffer, Buffer, Buffer>).send({ messages })
          } catch (error) {
            throw new ChurnflowError(ErrorCodes.KAFKA_PRODUCE_FAILED, `could not produce the replayed records: ${(error as Error).message}`, {
              cause: error,
              retriable: true,
              details: [`${replayed - messages.length} record(s) were replayed and committed before; run the replay again to go on from there`]
            })
          }
        }
        try {
          await consumer.commit({ offsets: [...advanced].map(p => ({ topic: o.topic, partition: p, offset: next[p] as bigint, leaderEpoch: epochs[p] as number })) })
        } catch (error) {
          throw new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE, `could not commit the replay's position in ${o.topic}: ${(error as Error).message}`, {
            cause: error,
            retriable: true,
            details: ['the last batch was produced but not committed: the next replay sends it again']
          })
        }
      }
      const now = Date.now()
      if (o.onProgress !== undefined && now - lastProgress >= (o.progressIntervalMs ?? 1000)) {
        lastProgress = now
        o.onProgress({ read, replayed, skipped, pending, elapsedMs: now - startedAt })
      }
    }
    return result()
  } finally {
    if (stream !== undefined) await stream.close().catch(() => undefined)
    await consumer.close(failure !== undefined).catch(() => undefined)
    await producer?.close().catch(() => undefined)
    await admin.close().catch(() => undefined)
  }
}
