import type { Producer } from '@platformatic/kafka'
import type { Config } from '../config/index.ts'
import { Streams, type EventStream } from '../events/index.ts'
import { StoppedWhileWaiting } from '../errors.ts'
import type { Logger } from '../logging/index.ts'
import { createAdmin, createProducer, describeCluster } from '../kafka/client/index.ts'
import { deadLetterTopic, ensureTopics, topicReplicas } from '../kafka/topics/index.ts'
import type { ProfileStore } from '../profile/index.ts'
import type { PredictionStore } from '../sql/index.ts'
import type { AlertPolicy } from './alerts.ts'
import { logEventLines } from './console.ts'
import { partitionKey, prepareBatch, type BatchContext, type BatchResult, type OutMessage, type OutputSink, type ProfileOverlay } from './batch.ts'
import { defaultRetryPolicy, Dependency, DependencyStates, type RetryPolicy } from './dependency.ts'
import { processorMetrics, type ProcessorMetrics } from './metrics.ts'
import type { Scorer } from './scoring.ts'
import { KafkaSource, type TakenRecord } from './source.ts'
import { ProcessingStats } from './stats.ts'

export interface ProcessorOptions {
  readonly config: Config
  readonly log: Logger
  readonly streams: readonly EventStream[]
  readonly profiles: ProfileStore
  readonly predictions: PredictionStore
  readonly scorer: Scorer
  readonly alerts: AlertPolicy
  readonly scoredCustomerTypes: ReadonlySet<string>
  /** Most records in one batch (BATCH_SIZE). */
  readonly batchSize: number
  /** Exit once nothing new came for this long, ms (`--exit-when-idle`). */
  readonly exitWhenIdleMs?: number
  /** How often the in-process store is snapshotted, and so how often offsets are committed with it, ms. */
  readonly flushIntervalMs?: number
  /** Seconds between progress lines at high rates. */
  readonly progressIntervalMs?: number
  readonly retry?: RetryPolicy
  /** Called after each batch's sinks are written (rows committed in SQL), with its records and the time. */
  readonly onProcessed?: (records: readonly TakenRecord[], at: number) => void
}

/** Below this rate (events/s) every event gets seed 000's four log lines; above it, a progress line per interval. */
const CHATTY_RATE = 20

/**
 * A churn processor: one member of the consumer group. Takes batches from Kafka, runs each through
 * `processBatch`, and commits its offsets once every sink has it (and, for the in-process profile
 * store, once a snapshot holds it). Waits out outages of any dependency without skipping anything.
 */
export class Processor {
  readonly stats = new ProcessingStats()
  readonly metrics: ProcessorMetrics
  readonly dependencies: BatchContext['dependencies']
  readonly #o: ProcessorOptions
  readonly #log: Logger
  readonly #source: KafkaSource
  readonly #topics: Map<string, EventStream>
  readonly #stop = new AbortController()
  #producer: Producer<Buffer, Buffer, Buffer, Buffer> | undefined
  /** The last processed record of each partition whose offset is not committed yet. */
  #pending = new Map<string, TakenRecord>()
  /**
   * Event times of the records written but not yet committed, for the end-to-end latency. Only the
   * times: a record's value is a slice of its whole fetch response, and holding the records until
   * the next commit (up to a snapshot interval) kept hundreds of megabytes of responses alive.
   */
  #pendingTimes: number[] = []
  #lastFlush = Date.now()
  /** A snapshot and commit running beside the batches (in-process store only), and how it failed. */
  #background: Promise<void> | undefined
  #backgroundFailure: Error | undefined
  #running = false
  #progressAt = Date.now()
  #progressEvents = 0
  #recentRate = 0
  #aborted = false
  readonly #overlay: ProfileOverlay = new Map()
  /** Customers this process has seen enter the high-risk state and not leave it. */
  readonly #highRisk = new Set<string>()

  constructor (options: ProcessorOptions) {
    this.#o = options
    this.#log = options.log
    this.metrics = processorMetrics()
    const c = options.config
    this.#topics = new Map()
    if (options.streams.includes(Streams.USER_EVENTS)) this.#topics.set(c.userEventsTopic, Streams.USER_EVENTS)
    if (options.streams.includes(Streams.CUSTOMER_EVENTS)) this.#topics.set(c.customerEventsTopic, Streams.CUSTOMER_EVENTS)
    const retry = options.retry ?? { ...defaultRetryPolicy, maxRetries: c.maxRetries, factor: Math.max(1, c.retryBackoff) }
    const failed = (name: string): void => {
      this.stats.dependencyFailures++
      this.metrics.failures.inc({ reason: `${name.split(' ')[0] ?? name}_unavailable` })
    }
    const dep = (name: string): Dependency => new Dependency(name, retry, this.#log, failed)
    this.dependencies = {
      kafka: dep(`kafka ${c.kafkaBrokers.join(',')}`),
      database: dep(options.predictions.name),
      profiles: dep(options.profiles.name),
      scoring: options.scorer.kind === 'http' ? dep(options.scorer.name) : undefined
    }
    // One batch read ahead is enough to have the next batch waiting (it is fetched while this one
    // is prepared); two held a 5-million-event backlog's peak RSS at 403 MB against 380 MB.
    this.#source = new KafkaSource({ connection: c, groupId: c.groupId, topics: [...this.#topics.keys()], maxBuffered: Math.max(1000, options.batchSize), log: this.#log })
  }

  get topics (): string[] { return [...this.#topics.keys()] }
  get running (): boolean { return this.#running }
  get source (): KafkaSource { return this.#source }

  /** Asks the loop to finish the batch in hand, commit and return. */
  stop (): void {
    this.#stop.abort()
  }

  #output (): OutputSink {
    return {
      send: async (messages: readonly OutMessage[]) => {
        const producer = this.#producer as Producer<Buffer, Buffer, Buffer, Buffer>
        // The client reads the records and builds its own; they go as they are, not copied.
        await producer.send({ messages: messages as never })
      }
    }
  }

  /** Runs until stopped (or idle, with `exitWhenIdleMs`). Resolves once everything is committed and closed. */
  async run (): Promise<void> {
    const o = this.#o
    const c = o.config
    const signal = this.#stop.signal
    this.#running = true
    const ctx: BatchContext = {
      profiles: o.profiles,
      predictions: o.predictions,
      output: this.#output(),
      scorer: o.scorer,
      alerts: o.alerts,
      topics: {
        predictions: c.predictionsTopic,
        alerts: c.alertsTopic,
        deadLetter: source => deadLetterTopic(c, source),
        streamOf: topic => this.#topics.get(topic) ?? Streams.USER_EVENTS
      },
      scoredCustomerTypes: o.scoredCustomerTypes,
      dependencies: this.dependencies,
      signal
    }
    try {
      await this.dependencies.database.run(() => o.predictions.ensureTable(), signal)
      await this.dependencies.profiles.run(() => o.profiles.ping(), signal)
      if (o.scorer.kind === 'http') {
        const scorer = o.scorer
        await (this.dependencies.scoring as Dependency).run(() => scorer.ping(), signal)
      }
      await this.dependencies.kafka.run(() => this.#ensureTopics(), signal)
      this.#producer = createProducer(c, { suffix: 'processor', compression: c.compression, retries: 2 })
      await this.dependencies.kafka.run(() => this.#source.start(), signal)
      this.#log.info({ group: c.groupId, topics: this.topics, store: o.profiles.name, database: o.predictions.name, scorer: o.scorer.name }, `processing ${this.topics.join(', ')} as a member of ${c.groupId}`)
      await this.#loop(ctx)
    } catch (error) {
      if (!(error instanceof StoppedWhileWaiting)) throw error
      this.#aborted = true
      this.#log.warn(`${error.message}; the batch in hand is not committed and will be processed again on restart`)
    } finally {
      await this.#close()
      this.#running = false
    }
  }

  /** The topics it reads and writes, created when missing (idempotent, safe from many processors at once). */
  async #ensureTopics (): Promise<void> {
    const c = this.#o.config
    const cluster = await describeCluster(c)
    const admin = createAdmin(c)
    try {
      const replicas = topicReplicas(c, cluster.brokers.length)
      const names = [...new Set([...this.topics, c.predictionsTopic, c.alertsTopic, ...this.topics.map(t => deadLetterTopic(c, t))])]
      const result = await ensureTopics(admin, names.map(name => ({ name, partitions: c.partitions, replicas })))
      if (result.created.length > 0) this.#log.info(`created topics ${result.created.map(t => t.name).join(', ')}`)
    } finally {
      await admin.close().catch(() => undefined)
    }
  }

  async #loop (ctx: BatchContext): Promise<void> {
    const o = this.#o
    const signal = this.#stop.signal
    const flushInterval = o.profiles.durableOnWrite ? 0 : (o.flushIntervalMs ?? 5000)
    let inFlight: { batch: TakenRecord[], started: number, result: Promise<BatchResult> } | undefined
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
      if (batch.length === 0) {
        if (inFlight !== undefined) await this.#finish(inFlight, signal, flushInterval)
        inFlight = undefined
        if (this.#pending.size > 0) await this.#flushAndCommit(signal)
        if (o.exitWhenIdleMs !== undefined && Date.now() - this.#source.lastRecordAt >= o.exitWhenIdleMs && this.#source.buffered === 0) {
          // Idle is not drained: a partition still behind (a fetch stalled, a member just rejoined) keeps it going.
          const behind = await this.lag().then(l => l.filter(p => p.lag > 0), () => [{ lag: 1 }])
          if (behind.length === 0) {
            this.#log.info(`nothing new for ${o.exitWhenIdleMs / 1000} s and no partition behind; exiting`)
            break
          }
          this.#source.touch()
        }
        continue
      }
      this.stats.firstRecordAt ??= Date.now()
      // One batch is written while the next is prepared: its sinks' I/O overlaps the next one's work.
      const prepared = await prepareBatch(batch, ctx, this.#overlay)
      if (inFlight !== undefined) await this.#finish(inFlight, signal, flushInterval)
      inFlight = { batch, started: performance.now(), result: prepared.write() }
      // Awaited in #finish; until then a failure must not count as unhandled.
      inFlight.result.catch(() => undefined)
    }
    if (inFlight !== undefined) await this.#finish(inFlight, signal, flushInterval)
  }

  /** Waits for a batch's writes, counts it, and commits when the profile store is durable (or due a snapshot). */
  async #finish (w: { batch: TakenRecord[], started: number, result: Promise<BatchResult> }, signal: AbortSignal, flushInterval: number): Promise<void> {
    const result = await w.result
    this.#o.onProcessed?.(w.batch, Date.now())
    this.#account(w.batch, result)
    for (const r of w.batch) this.#pending.set(partitionKey(r), r)
    for (const r of w.batch) this.#pendingTimes.push(r.timestamp)
    if (this.#backgroundFailure !== undefined) throw this.#backgroundFailure
    if (flushInterval === 0) {
      await this.#flushAndCommit(signal)
    } else if (this.#background === undefined && Date.now() - this.#lastFlush >= flushInterval) {
      // A snapshot of a large in-process store takes a while to write: it goes on beside the next
      // batches, and the offsets it covers are committed when it is on disk.
      this.#background = this.#flushAndCommit(signal)
        .catch((error: unknown) => { this.#backgroundFailure = error as Error })
        .finally(() => { this.#background = undefined })
    }
    this.metrics.batch.observe((performance.now() - w.started) / 1000)
  }

  /**
   * Makes the profiles durable (a snapshot, for the in-process store) and then commits the
   * offsets of every batch written before it started. Batches written meanwhile wait for the next.
   * A snapshot taken while later batches write holds some profiles newer than the commit, which
   * is harmless: a profile skips an event it has applied by its offset.
   */
  async #flushAndCommit (signal: AbortSignal): Promise<void> {
    while (this.#background !== undefined) await this.#background
    if (this.#pending.size === 0) return
    const last = [...this.#pending.values()]
    const times = this.#pendingTimes
    this.#pending = new Map()
    this.#pendingTimes = []
    try {
      if (!this.#o.profiles.durableOnWrite) await this.dependencies.profiles.run(() => this.#o.profiles.flush(), signal)
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
    for (const t of times) this.metrics.endToEnd.observe(Math.max(0, at - t) / 1000)
  }

  #account (batch: readonly TakenRecord[], result: BatchResult): void {
    const s = this.stats
    const m = this.metrics
    s.batches++
    s.records += batch.length
    s.eventsProcessed += result.applied.length
    s.predictionsSaved += result.predictions
    s.rowsInserted += result.rowsInserted
    s.alerts += result.alerts
    s.deadLettered += result.poison.length
    s.duplicates += result.duplicates
    m.events.inc({ outcome: 'processed' }, result.applied.length)
    if (result.poison.length > 0) m.events.inc({ outcome: 'dead_lettered' }, result.poison.length)
    if (result.duplicates > 0) m.events.inc({ outcome: 'duplicate' }, result.duplicates)
    m.predictions.inc(result.predictions)
    for (const p of result.poison) m.failures.inc({ reason: p.code })
    for (const a of result.applied) {
      if (a.alert !== undefined) m.alerts.inc({ kind: a.alert })
      if (a.high) this.#highRisk.add(a.event.customerId)
      else this.#highRisk.delete(a.event.customerId)
    }
    m.database.observe(result.timings.databaseMs / 1000)
    m.scoring.observe(result.timings.scoreMs / 1000)
    this.#progressEvents += result.applied.length
    const chatty = this.#recentRate <= CHATTY_RATE && batch.length <= CHATTY_RATE
    if (chatty) logEventLines(this.#log, result, source => deadLetterTopic(this.#o.config, source))
    else for (const p of result.poison) this.#log.warn({ code: p.code, topic: p.record.topic, partition: p.record.partition, offset: Number(p.record.offset) }, `Record dead-lettered: ${p.message}`)
  }

  #maybeProgress (): void {
    const interval = this.#o.progressIntervalMs ?? 10_000
    const now = Date.now()
    if (now - this.#progressAt < Math.min(interval, 1000)) return
    const rate = this.#progressEvents / ((now - this.#progressAt) / 1000)
    this.#recentRate = rate
    this.metrics.eventsPerSecond.set(rate)
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

  /**
   * Customers in the high-risk state: all of them when the profile store can count (in-process),
   * else those this process has seen enter it.
   */
  highRiskCustomers (): number {
    return this.#o.profiles.countHighRisk?.() ?? this.#highRisk.size
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
        this.metrics.lag.set({ topic: h.topic, partition: String(p) }, lag)
      }
    }
    return out
  }

  /** Each dependency's state for /health, with a live check of each. */
  async health (timeoutMs = 2000): Promise<{ healthy: boolean, dependencies: Record<string, { name: string, state: string, error?: string }> }> {
    const o = this.#o
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
    const scorer = o.scorer
    const [kafka, database, profiles, scoring] = await Promise.all([
      check(this.dependencies.kafka, async () => { if (this.#source.consumer === undefined) throw new Error(this.dependencies.kafka.lastError ?? 'not connected'); await this.#source.endOffsets() }),
      check(this.dependencies.database, () => o.predictions.ping()),
      check(this.dependencies.profiles, () => o.profiles.ping()),
      check(this.dependencies.scoring, () => scorer.kind === 'http' ? scorer.ping() : Promise.resolve())
    ])
    const all = { kafka, database, profile_store: profiles, scoring_api: scoring }
    for (const [k, v] of Object.entries(all)) this.metrics.up.set({ dependency: k }, v.state === DependencyStates.DOWN ? 0 : 1)
    return { healthy: Object.values(all).every(v => v.state !== DependencyStates.DOWN), dependencies: all }
  }

  async #close (): Promise<void> {
    const signal = new AbortController().signal
    // Commit what is done unless a dependency is still down (then it is processed again on restart).
    if (this.#background !== undefined) await this.#background
    if (!this.#aborted && this.#pending.size > 0) {
      await this.#flushAndCommit(signal).catch(error => { this.#log.warn({ err: error }, 'could not commit the last offsets; those events will be processed again (idempotently) on restart') })
    }
    await this.#source.close()
    await this.#producer?.close().catch(() => undefined)
  }
}
