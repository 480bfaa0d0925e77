import { join } from 'node:path'
import type { Consumer, Producer } from '@platformatic/kafka'
import type { Config } from '../config/index.ts'
import { ChurnflowError, ErrorCodes, StoppedWhileWaiting } from '../errors.ts'
import { createAdmin, createConsumer, createProducer, describeCluster, requestChunks, type KafkaConnection } from '../kafka/client/index.ts'
import { ensureTopics, topicReplicas, type TopicSpec } from '../kafka/topics/index.ts'
import type { Logger } from '../logging/index.ts'
import { taskAssigner } from './assignor.ts'
import { defaultRetryPolicy, Dependency, DependencyStates, type RetryPolicy } from './dependency.ts'
import { streamMetrics, type StreamMetrics } from './metrics.ts'
import { KafkaSource, partitionKey, type RecordSource, type TakenRecord } from './source.ts'
import { changelogTopic, changelogTopicConfigs } from './state/changelog.ts'
import { StateDirLock } from './state/checkpoint.ts'
import type { PartitionedStore } from './state/partitioned.ts'
import { ProcessingStats } from './stats.ts'
import type { BatchIO, BatchOutcome, Dependencies, OutMessage, OutputSink, Pipeline } from './types.ts'

export interface StreamRuntimeOptions<R extends BatchOutcome> {
  readonly pipeline: Pipeline<R>
  /** Kafka connection, topic creation (partitions, replication), retries, the state directory and the commit and checkpoint intervals. */
  readonly config: Pick<Config, keyof KafkaConnection | 'partitions' | 'replicationFactor' | 'compression' | 'maxRetries' | 'retryBackoff' | 'stateDir' | 'commitIntervalMs' | 'stateCheckpointInterval'>
  readonly log: Logger
  /** Most records in one batch (BATCH_SIZE). */
  readonly batchSize: number
  /** Exit once nothing new came for this long, ms (`--exit-when-idle`). */
  readonly exitWhenIdleMs?: number
  /** How often state changes go to the changelog and offsets are committed after them, ms (COMMIT_INTERVAL_MS). */
  readonly flushIntervalMs?: number
  /** How often partitioned state writes its local checkpoints, ms (STATE_CHECKPOINT_INTERVAL); also on revoke and on stop. */
  readonly checkpointIntervalMs?: number
  /** Between progress lines at high rates, ms. */
  readonly progressIntervalMs?: number
  readonly retry?: RetryPolicy
  /** Metrics shared with other pipelines of this process; a registry of its own when not given. */
  readonly metrics?: StreamMetrics
  /** Called after each batch's sinks are written, with its records and the time. */
  readonly onProcessed?: (records: readonly TakenRecord[], at: number) => void
  /**
   * Records from elsewhere than a consumer group, and where the pipeline's records go: for unit
   * tests and embedding. No topics are created, no producer is made, and partitioned state must be
   * bound by the caller.
   */
  readonly connector?: { readonly source: RecordSource, readonly output: OutputSink }
}

/** Below this rate (events/s) a pipeline may log every event; above it, a progress line per interval. */
const CHATTY_RATE = 20

interface InFlight<R> { readonly batch: TakenRecord[], readonly started: number, readonly result: Promise<R> }

/**
 * The stream runtime: one member of a pipeline's consumer group. It takes batches from Kafka, has
 * the pipeline prepare each (the next one while the previous is written), and commits offsets only
 * after every sink and the state hold the batch (Quix Streams' checkpoint order: sinks, then the
 * producer's records, then the state's changelog, then offsets). Partitioned state follows the
 * assignment: restored before any record of a gained partition, dropped for a lost one. Dependencies
 * that fail are retried, then wait behind their breaker with the partitions paused: an outage never
 * skips or dead-letters a good record.
 */
export class StreamRuntime<R extends BatchOutcome = BatchOutcome> {
  readonly stats = new ProcessingStats()
  readonly metrics: StreamMetrics
  readonly dependencies: Dependencies
  readonly pipeline: Pipeline<R>
  readonly #o: StreamRuntimeOptions<R>
  readonly #log: Logger
  readonly #source: RecordSource
  readonly #stop = new AbortController()
  readonly #label: { pipeline: string }
  #producer: Producer<Buffer, Buffer, Buffer, Buffer> | undefined
  /** The last processed record of each partition whose offset is not committed yet. */
  #pending = new Map<string, TakenRecord>()
  /**
   * Event times of the records written but not yet committed, for the end-to-end latency. Only the
   * times: a record's value is a slice of its whole fetch response, and holding the records until
   * the next commit kept hundreds of megabytes of responses alive.
   */
  #pendingTimes: number[] = []
  #lastFlush = Date.now()
  #idleAt = 0
  /** A flush and commit running beside the batches, and how it failed. */
  #background: Promise<void> | undefined
  #backgroundFailure: Error | undefined
  #running = false
  /** The source's generation whose assignment the state follows now. */
  #generation = -1
  #lastCheckpoint = Date.now()
  #checkpointing: Promise<void> | undefined
  #lock: StateDirLock | undefined
  #restoreConsumer: Consumer<Buffer, Buffer, Buffer, Buffer> | undefined
  /** The state's own producer: a large changelog write does not hold up the next batch's records behind it on one connection. */
  #stateProducer: Producer<Buffer, Buffer, Buffer, Buffer> | undefined
  #progressAt = Date.now()
  #progressEvents = 0
  #recentRate = 0
  #aborted = false

  constructor (options: StreamRuntimeOptions<R>) {
    this.#o = options
    this.#log = options.log
    this.pipeline = options.pipeline
    this.metrics = options.metrics ?? streamMetrics()
    this.#label = { pipeline: options.pipeline.name }
    const c = options.config
    const retry = options.retry ?? { ...defaultRetryPolicy, maxRetries: c.maxRetries, factor: Math.max(1, c.retryBackoff) }
    const failed = (name: string): void => {
      this.stats.dependencyFailures++
      this.metrics.failures.inc({ ...this.#label, reason: `${name.split(' ')[0] ?? name}_unavailable` })
    }
    const dep = (name: string): Dependency => new Dependency(name, retry, this.#log, failed)
    const own: Record<string, Dependency> = {}
    for (const [key, d] of Object.entries(options.pipeline.dependencies)) if (d !== undefined) own[key] = dep(d.name)
    this.dependencies = { ...own, kafka: dep(`kafka ${c.kafkaBrokers.join(',')}`) }
    // One batch read ahead is enough to have the next batch waiting (it is fetched while this one
    // is prepared); two held a 5-million-event backlog's peak RSS at 403 MB against 380 MB.
    // Partition N of every source topic goes to one member: keyed records of one key share it, and so does their state.
    this.#source = options.connector?.source ?? new KafkaSource({
      connection: c,
      groupId: options.pipeline.groupId,
      topics: [...options.pipeline.topics],
      maxBuffered: Math.max(1000, options.batchSize),
      partitionAssigner: taskAssigner,
      log: this.#log
    })
  }

  get topics (): string[] { return [...this.pipeline.topics] }
  get running (): boolean { return this.#running }
  get source (): RecordSource { return this.#source }

  /** Asks the loop to finish the batch in hand, commit and return. */
  stop (): void {
    this.#stop.abort()
  }

  #output (): OutputSink {
    if (this.#o.connector !== undefined) return this.#o.connector.output
    return {
      send: async (messages: readonly OutMessage[]) => {
        const producer = this.#producer as Producer<Buffer, Buffer, Buffer, Buffer>
        // The client reads the records and builds its own; they go as they are, not copied. A
        // batch's records can pass a broker's size limit for one request: sent in several.
        for (const chunk of requestChunks(messages)) await producer.send({ messages: chunk as never })
      }
    }
  }

  /** Runs until stopped (or idle, with `exitWhenIdleMs`). Resolves once everything is committed and closed. */
  async run (): Promise<void> {
    const signal = this.#stop.signal
    this.#running = true
    const io: BatchIO = { output: this.#output(), dependencies: this.dependencies, signal }
    try {
      await this.pipeline.start(io)
      if (this.#o.connector === undefined) {
        await this.dependencies.kafka.run(() => this.#ensureTopics(), signal)
        this.#producer = createProducer(this.#o.config, { suffix: 'processor', compression: this.#o.config.compression, retries: 2 })
        await this.#bindState()
      }
      await this.dependencies.kafka.run(() => this.#source.start(), signal)
      this.#log.info({ pipeline: this.pipeline.name, group: this.pipeline.groupId, topics: this.topics }, `processing ${this.topics.join(', ')} as a member of ${this.pipeline.groupId}`)
      await this.#loop(io)
    } catch (error) {
      if (!(error instanceof StoppedWhileWaiting)) throw error
      this.#aborted = true
      this.#log.warn(`${error.message}; the batch in hand is not committed and will be processed again on restart`)
    } finally {
      await this.#close()
      this.#running = false
    }
  }

  /** The pipeline's partitioned state, when it keeps its state in process. */
  get #state (): PartitionedStore | undefined {
    return this.pipeline.state
  }

  /** The state's directory for this group: one process at a time (a lock), checkpoints inside. */
  get #stateDir (): string {
    return join(this.#o.config.stateDir, 'state', encodeURIComponent(this.pipeline.groupId))
  }

  /** Locks the state directory and gives the state its changelog, the producer and a consumer to restore with. */
  async #bindState (): Promise<void> {
    const state = this.#state
    if (state === undefined) return
    this.#lock = await StateDirLock.acquire(this.#stateDir)
    this.#restoreConsumer = createConsumer(this.#o.config, `${this.pipeline.groupId}-restore`)
    this.#stateProducer = createProducer(this.#o.config, { suffix: 'state', compression: this.#o.config.compression, retries: 2 })
    state.bind({
      consumer: this.#restoreConsumer,
      producer: this.#stateProducer,
      topic: changelogTopic(this.pipeline.groupId, state.storeName),
      checkpointDir: join(this.#stateDir, state.storeName)
    })
  }

  /**
   * The topics it reads and writes, created when missing (idempotent, safe from many processors at
   * once); with partitioned state, its compacted changelog too, one partition per source partition.
   */
  async #ensureTopics (): Promise<void> {
    const c = this.#o.config
    const p = this.pipeline
    const cluster = await describeCluster(c)
    const admin = createAdmin(c)
    try {
      const replicas = topicReplicas(c, cluster.brokers.length)
      const names = [...new Set([...p.topics, ...p.outputTopics, ...p.topics.map(t => p.deadLetterTopic(t))])]
      const result = await ensureTopics(admin, names.map(name => ({ name, partitions: c.partitions, replicas })))
      const created = result.created.map(t => t.name)
      const state = this.#state
      if (state !== undefined) {
        const counts = new Map([...result.created.map(t => [t.name, t.partitions] as const), ...result.existing.map(t => [t.name, t.partitions] as const)])
        const sources = p.topics.map(t => ({ name: t, partitions: counts.get(t) ?? c.partitions }))
        if (new Set(sources.map(t => t.partitions)).size > 1) {
          throw new ChurnflowError(ErrorCodes.STATE_NOT_COPARTITIONED, `the ${p.name} pipeline's in-process state needs its source topics to have one partition count, but ${sources.map(t => `${t.name} has ${t.partitions}`).join(' and ')}`, {
            details: ['give the topics the same number of partitions, run one stream per processor (--streams), or keep the state in Redis (REDIS_HOST)']
          })
        }
        const partitions = sources[0]?.partitions ?? c.partitions
        const spec: TopicSpec = { name: changelogTopic(p.groupId, state.storeName), partitions, replicas, configs: changelogTopicConfigs }
        const changelog = await ensureTopics(admin, [spec])
        created.push(...changelog.created.map(t => t.name))
        const existing = changelog.existing[0]
        if (existing !== undefined && existing.partitions !== partitions) {
          throw new ChurnflowError(ErrorCodes.STATE_NOT_COPARTITIONED, `the changelog ${spec.name} has ${existing.partitions} partitions, but its source topics have ${partitions}`, {
            details: ['a changelog must have one partition per source partition: delete it (the state is then rebuilt only from records read from now on) or give the sources the same count']
          })
        }
      }
      if (created.length > 0) this.#log.info(`created topics ${created.join(', ')}`)
    } finally {
      await admin.close().catch(() => undefined)
    }
  }

  async #loop (io: BatchIO): Promise<void> {
    const o = this.#o
    const signal = this.#stop.signal
    const flushInterval = this.pipeline.durableOnWrite ? 0 : (o.flushIntervalMs ?? o.config.commitIntervalMs)
    const depth = Math.max(1, this.pipeline.writesInFlight ?? 1)
    const inFlight: InFlight<R>[] = []
    const finishAll = async (): Promise<void> => {
      for (let w = inFlight.shift(); w !== undefined; w = inFlight.shift()) await this.#finish(w, signal, flushInterval)
    }
    while (!signal.aborted) {
      let batch: TakenRecord[]
      try {
        batch = await this.#source.take(o.batchSize, 500, 5, signal)
      } catch (error) {
        this.dependencies.kafka.markDown(error)
        this.#log.warn({ err: error }, 'the consumer lost Kafka; rejoining the group')
        await this.dependencies.kafka.run(() => this.#source.reconnect(), signal)
        continue
      }
      this.#maybeProgress()
      if (this.#generation !== this.#source.generation && this.#state !== undefined) {
        // The assignment changed: the state follows it before anything more is processed.
        await finishAll()
        await this.#followAssignment(signal)
        batch = batch.filter(r => this.#source.holds(r.topic, r.partition))
      }
      this.#maybeCheckpoint()
      if (batch.length === 0) {
        await finishAll()
        if (this.#pending.size > 0) await this.#flushAndCommit(signal)
        await this.#idle(io, signal)
        if (o.exitWhenIdleMs !== undefined && Date.now() - this.#source.lastRecordAt >= o.exitWhenIdleMs && this.#source.buffered === 0) {
          // Idle is not drained: a partition still behind (a fetch stalled, a member just rejoined,
          // or one held by a member that died and that the group has not yet given to another) keeps it going.
          if (!await this.#groupBehind().catch(() => true)) {
            this.#log.info(`nothing new for ${o.exitWhenIdleMs / 1000} s and no partition behind; exiting`)
            break
          }
          this.#source.touch()
        }
        continue
      }
      this.stats.firstRecordAt ??= Date.now()
      // Batches are written (up to writesInFlight at once) while the next is prepared: their sinks' I/O overlaps its work.
      const prepared = await this.pipeline.prepare(batch, io)
      while (inFlight.length >= depth) await this.#finish(inFlight.shift() as InFlight<R>, signal, flushInterval)
      const w: InFlight<R> = { batch, started: performance.now(), result: prepared.write() }
      // Awaited in #finish; until then a failure must not count as unhandled.
      w.result.catch(() => undefined)
      inFlight.push(w)
    }
    await finishAll()
  }

  /** The pipeline's own work while nothing comes (at most once a second): written, counted and made durable. */
  async #idle (io: BatchIO, signal: AbortSignal): Promise<void> {
    if (this.pipeline.idle === undefined || Date.now() - this.#idleAt < 1000) return
    this.#idleAt = Date.now()
    const prepared = await this.pipeline.idle(io)
    if (prepared === undefined) return
    // More may be due: the next idle turn does not wait its second.
    this.#idleAt = 0
    const result = await prepared.write()
    this.pipeline.written([], result, { stats: this.stats, metrics: this.metrics, chatty: true })
    while (this.#background !== undefined) await this.#background
    if (!this.pipeline.durableOnWrite) await this.dependencies.kafka.run(() => this.pipeline.flush(), signal)
  }

  /**
   * Makes the state follow the assignment: finishes and commits what is in hand, drops the
   * partitions this member lost (after a checkpoint) and restores the ones it gained, from their
   * checkpoints and changelog, before any of their records is processed.
   */
  async #followAssignment (signal: AbortSignal): Promise<void> {
    const state = this.#state
    if (state === undefined) return
    while (this.#generation !== this.#source.generation) {
      this.#generation = this.#source.generation
      if (this.#pending.size > 0) await this.#flushAndCommit(signal)
      while (this.#checkpointing !== undefined) await this.#checkpointing
      const held = this.#source.heldPartitions()
      const had = state.partitions
      const revoked = had.filter(p => !held.includes(p))
      const added = held.filter(p => !had.includes(p))
      const what = state.storeName
      if (revoked.length > 0) {
        await state.revoke(revoked)
        this.pipeline.revoked?.(revoked)
        this.#log.info(`partitions ${revoked.join(', ')} moved to another processor; their ${what} are dropped here`)
      }
      if (added.length > 0) {
        const summary = await this.dependencies.kafka.run(() => state.assign(added), signal)
        this.#log.info({ restore_ms: Math.round(summary.ms), keys: summary.keys, from_checkpoints: summary.fromCheckpoints, from_changelog: summary.fromChangelog },
          `restored the ${what} of partition${added.length === 1 ? '' : 's'} ${added.join(', ')}: ${summary.keys} customers in ${(summary.ms / 1000).toFixed(1)} s (${summary.fromCheckpoints} from local checkpoints, ${summary.fromChangelog} changelog records${summary.seeded > 0 ? `, ${summary.seeded} carried over from an earlier version` : ''})`)
        this.pipeline.assigned?.(added)
      }
      this.metrics.stateCustomers.set({ ...this.#label, store: what }, state.size)
    }
  }

  /** Writes the state's local checkpoints beside the batches, when due. */
  #maybeCheckpoint (): void {
    const state = this.#state
    if (state === undefined || this.#checkpointing !== undefined) return
    if (Date.now() - this.#lastCheckpoint < (this.#o.checkpointIntervalMs ?? this.#o.config.stateCheckpointInterval * 1000)) return
    this.#lastCheckpoint = Date.now()
    this.#checkpointing = state.checkpoint()
      .catch((error: unknown) => { this.#log.warn({ err: error }, 'could not write the local state checkpoints (only a restore\'s speed depends on them)') })
      .finally(() => { this.#checkpointing = undefined })
  }

  /** Waits for a batch's writes, counts it, and commits when the state is durable (or due a flush). */
  async #finish (w: InFlight<R>, signal: AbortSignal, flushInterval: number): Promise<void> {
    const result = await w.result
    this.#o.onProcessed?.(w.batch, Date.now())
    this.#account(w.batch, result)
    for (const r of w.batch) this.#pending.set(partitionKey(r), r)
    for (const r of w.batch) this.#pendingTimes.push(r.timestamp)
    if (this.#backgroundFailure !== undefined) throw this.#backgroundFailure
    if (flushInterval === 0) {
      await this.#flushAndCommit(signal)
    } else if (this.#background === undefined && Date.now() - this.#lastFlush >= flushInterval) {
      // The state's changes go to Kafka beside the next batches, and the offsets they cover are committed after.
      this.#background = this.#flushAndCommit(signal)
        .catch((error: unknown) => { this.#backgroundFailure = error as Error })
        .finally(() => { this.#background = undefined })
    }
    this.metrics.batch.observe(this.#label, (performance.now() - w.started) / 1000)
  }

  /**
   * Makes the state durable (its changes to the changelog) and then commits the offsets of every
   * batch written before it started. Batches written meanwhile wait for the next. State flushed
   * while later batches write holds some keys newer than the commit, which is harmless: a key skips
   * a record it has applied, by its offset.
   */
  async #flushAndCommit (signal: AbortSignal): Promise<void> {
    while (this.#background !== undefined) await this.#background
    if (this.#pending.size === 0) return
    // Offsets of partitions this member no longer holds are left to their new owner.
    const last = [...this.#pending.values()].filter(r => this.#source.holds(r.topic, r.partition))
    const times = this.#pendingTimes
    this.#pending = new Map()
    this.#pendingTimes = []
    try {
      if (!this.pipeline.durableOnWrite) await this.dependencies.kafka.run(() => this.pipeline.flush(), signal)
      this.#lastFlush = Date.now()
      await this.dependencies.kafka.run(() => this.#source.commit(last), signal)
    } catch (error) {
      // Not committed: a later commit covers these partitions, or a restart processes them again.
      for (const r of last) if (!this.#pending.has(partitionKey(r))) this.#pending.set(partitionKey(r), r)
      this.#pendingTimes = times.concat(this.#pendingTimes)
      throw error
    }
    const at = Date.now()
    this.stats.commits++
    this.stats.lastCommitAt = at
    for (const t of times) this.metrics.endToEnd.observe(this.#label, Math.max(0, at - t) / 1000)
  }

  #account (batch: readonly TakenRecord[], result: R): void {
    const s = this.stats
    const m = this.metrics
    const label = this.#label
    s.batches++
    s.records += batch.length
    s.eventsProcessed += result.processed
    s.deadLettered += result.poison.length
    m.events.inc({ ...label, outcome: 'processed' }, result.processed)
    if (result.poison.length > 0) m.events.inc({ ...label, outcome: 'dead_lettered' }, result.poison.length)
    for (const p of result.poison) m.failures.inc({ ...label, reason: p.code })
    m.database.observe(label, result.timings.databaseMs / 1000)
    m.scoring.observe(label, result.timings.scoreMs / 1000)
    this.#progressEvents += result.processed
    const chatty = this.#recentRate <= CHATTY_RATE && batch.length <= CHATTY_RATE
    this.pipeline.written(batch, result, { stats: s, metrics: m, chatty })
    if (!chatty) {
      for (const p of result.poison) this.#log.warn({ code: p.code, topic: p.record.topic, partition: p.record.partition, offset: Number(p.record.offset) }, `Record dead-lettered: ${p.message}`)
    }
  }

  #maybeProgress (): void {
    const interval = this.#o.progressIntervalMs ?? 10_000
    const now = Date.now()
    if (now - this.#progressAt < Math.min(interval, 1000)) return
    const rate = this.#progressEvents / ((now - this.#progressAt) / 1000)
    this.#recentRate = rate
    this.metrics.eventsPerSecond.set(this.#label, rate)
    if (now - this.#progressAt < interval && rate <= CHATTY_RATE) {
      return
    }
    if (rate > CHATTY_RATE || this.#progressEvents > 0) {
      const s = this.stats
      this.#log.info({ events_per_s: Math.round(rate) }, `processed ${s.eventsProcessed} events (${Math.round(rate)}/s), ${s.predictionsSaved} predictions saved, ${s.alerts} alerts, ${s.deadLettered} dead-lettered`)
    }
    this.#progressAt = now
    this.#progressEvents = 0
  }

  /** What the pipeline counts as at risk now (high-risk customers, fraud flagged), for /stats. */
  highRiskCustomers (): number {
    return this.pipeline.highRisk?.() ?? 0
  }

  /** The partitioned state's partitions held here and keys in them, for /stats; nothing when the state lives elsewhere. */
  stateStats (): { state_partitions?: number[], state_customers?: number } {
    const state = this.#state
    if (state === undefined) return {}
    return { state_partitions: [...state.partitions], state_customers: state.size }
  }

  /** Records behind the end of each held partition (end offset minus committed offset). */
  async lag (): Promise<{ topic: string, partition: number, lag: number }[]> {
    const consumer = this.#source.consumer
    const held = this.#source.assignments()
    if (consumer === undefined || held.length === 0) return []
    const [ends, committed] = await Promise.all([
      consumer.listOffsets({ topics: held.map(h => h.topic) }),
      consumer.listCommittedOffsets({ topics: held })
    ])
    const out: { topic: string, partition: number, lag: number }[] = []
    for (const h of held) {
      for (const p of h.partitions) {
        const end = ends.get(h.topic)?.[p]
        const done = committed.get(h.topic)?.[p]
        if (end === undefined) continue
        const lag = Number(end - (done === undefined || done < 0n ? 0n : done))
        out.push({ topic: h.topic, partition: p, lag })
        this.metrics.lag.set({ ...this.#label, topic: h.topic, partition: String(p) }, lag)
      }
    }
    return out
  }

  /**
   * Whether any partition of the source topics, held here or not, is not committed to its end by
   * the group: `--exit-when-idle` waits for the whole group's work, not only this member's.
   */
  async #groupBehind (): Promise<boolean> {
    const consumer = this.#source.consumer
    if (consumer === undefined) return false
    const topics = this.topics
    const ends = await consumer.listOffsets({ topics })
    const committed = await consumer.listCommittedOffsets({ topics: topics.map(topic => ({ topic, partitions: (ends.get(topic) ?? []).map((_end, p) => p) })) })
    for (const topic of topics) {
      const done = committed.get(topic) ?? []
      for (const [p, end] of (ends.get(topic) ?? []).entries()) {
        const at = done[p]
        if (end > (at === undefined || at < 0n ? 0n : at)) return true
      }
    }
    return false
  }

  /** Each dependency's state for /health, with a live check of each. */
  async health (timeoutMs = 2000): Promise<{ healthy: boolean, dependencies: Record<string, { name: string, state: string, error?: string }> }> {
    const within = <T>(p: Promise<T>): Promise<T> => Promise.race([p, new Promise<T>((_resolve, reject) => setTimeout(() => { reject(new Error(`no answer within ${timeoutMs} ms`)) }, timeoutMs).unref())])
    const check = async (d: Dependency | undefined, ping: () => Promise<unknown>): Promise<{ name: string, state: string, error?: string }> => {
      if (d === undefined) return { name: 'in process', state: 'not used' }
      try {
        await within(ping())
        return { name: d.name, state: d.state === DependencyStates.DOWN ? 'recovering' : DependencyStates.UP }
      } catch (error) {
        return { name: d.name, state: DependencyStates.DOWN, error: (error as Error).message }
      }
    }
    const entries: [string, Promise<{ name: string, state: string, error?: string }>][] = [
      ['kafka', check(this.dependencies.kafka, async () => { if (this.#source.consumer === undefined) throw new Error(this.dependencies.kafka.lastError ?? 'not connected'); await this.#source.endOffsets() })]
    ]
    for (const [key, d] of Object.entries(this.pipeline.dependencies)) {
      entries.push([key, check(d === undefined ? undefined : this.dependencies[key], () => d === undefined ? Promise.resolve() : d.ping())])
    }
    const all: Record<string, { name: string, state: string, error?: string }> = {}
    for (const [key, p] of entries) all[key] = await p
    for (const [k, v] of Object.entries(all)) this.metrics.up.set({ ...this.#label, dependency: k }, v.state === DependencyStates.DOWN ? 0 : 1)
    return { healthy: Object.values(all).every(v => v.state !== DependencyStates.DOWN), dependencies: all }
  }

  async #close (): Promise<void> {
    const signal = new AbortController().signal
    // Commit what is done unless a dependency is still down (then it is processed again on restart).
    if (this.#background !== undefined) await this.#background
    if (!this.#aborted && this.#pending.size > 0) {
      await this.#flushAndCommit(signal).catch(error => { this.#log.warn({ err: error }, 'could not commit the last offsets; those events will be processed again (idempotently) on restart') })
    }
    const state = this.#state
    if (state !== undefined && !this.#aborted && this.#lock !== undefined) {
      while (this.#checkpointing !== undefined) await this.#checkpointing
      await state.checkpoint().catch(error => { this.#log.warn({ err: error }, 'could not write the local state checkpoints; the next start restores from the changelog') })
    }
    await this.#source.close()
    await this.#producer?.close().catch(() => undefined)
    await this.#stateProducer?.close().catch(() => undefined)
    await this.#restoreConsumer?.close(true).catch(() => undefined)
    this.#lock?.release()
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    this.stop()
    while (this.#running) await new Promise(resolve => setTimeout(resolve, 50))
  }
}
