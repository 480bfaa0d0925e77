import type { Config } from '../config/index.ts'
import { Streams, type EventStream } from '../events/index.ts'
import type { ProfileStore } from '../profile/index.ts'
import type { PredictionStore } from '../sql/index.ts'
import { type BatchIO, deadLetterTopic, type Dependency, type Pipeline, type PipelineDependency, type PreparedBatch, type StreamMetrics, StreamRuntime, type StreamRuntimeOptions, type TakenRecord, type WrittenContext } from '../stream/index.ts'
import type { AlertPolicy } from './alerts.ts'
import { logEventLines } from './console.ts'
import { prepareBatch, type BatchContext, type BatchResult, type ProfileOverlay } from './batch.ts'
import type { Scorer } from './scoring.ts'
import { DueIndex, nextDue, type SilencePolicy } from './silence.ts'
import { hoursOrDays } from '../util/backoff.ts'
import { CustomerReader, type CustomerPrediction, type RiskBand } from './customers.ts'

/**
 * How long the processor must have had nothing to take before a source topic that brought no
 * event to a partition stops holding that partition's silence sweeps back: long enough that the
 * first fetches after an assignment have answered.
 */
const RELEASE_AFTER_MS = 5000

/** A churn processor's options: the churn pipeline's parts, and the runtime's own (batch size, intervals, retries...). */
export interface ProcessorOptions extends Omit<StreamRuntimeOptions<BatchResult>, 'pipeline' | 'config' | 'connector'> {
  readonly config: Config
  readonly streams: readonly EventStream[]
  readonly profiles: ProfileStore
  readonly predictions: PredictionStore
  readonly scorer: Scorer
  readonly alerts: AlertPolicy
  readonly scoredCustomerTypes: ReadonlySet<string>
  /** Silence sweeps (SILENCE_STEPS); none when absent or empty. */
  readonly silence?: SilencePolicy
}

/**
 * The churn pipeline, a handler of the stream runtime: user-events and customer-events are
 * decoded, applied to the customers' profiles exactly once, scored, turned into alerts, and written
 * to SQL (`churn_predictions`) and to the churn-predictions and churn-alerts topics. Its state is the
 * profile store: per partition in process (the changelog follows the partitions), or Redis.
 */
export class ChurnPipeline implements Pipeline<BatchResult> {
  readonly name = 'churn'
  readonly groupId: string
  readonly topics: readonly string[]
  readonly outputTopics: readonly string[]
  readonly dependencies: Readonly<Record<string, PipelineDependency | undefined>>
  readonly durableOnWrite: boolean
  readonly #o: ProcessorOptions
  readonly #streams: Map<string, EventStream>
  readonly #overlay: ProfileOverlay = new Map()
  /** Customers this process has seen enter the high-risk state and not leave it. */
  readonly #highRisk = new Set<string>()
  #context: BatchContext | undefined
  /** Each held partition's silence due index, when sweeps are on. */
  readonly #due = new Map<number, DueIndex>()
  readonly #sweeps: SilencePolicy | undefined
  /** When a record last came (or partitions were assigned): a source topic silent for RELEASE_AFTER_MS of idleness has nothing to bring. */
  #busyAt = Date.now()

  constructor (options: ProcessorOptions) {
    this.#o = options
    const c = options.config
    this.#streams = new Map()
    if (options.streams.includes(Streams.USER_EVENTS)) this.#streams.set(c.userEventsTopic, Streams.USER_EVENTS)
    if (options.streams.includes(Streams.CUSTOMER_EVENTS)) this.#streams.set(c.customerEventsTopic, Streams.CUSTOMER_EVENTS)
    this.groupId = c.groupId
    this.topics = [...this.#streams.keys()]
    this.outputTopics = [c.predictionsTopic, c.alertsTopic]
    const scorer = options.scorer
    this.dependencies = {
      database: { name: options.predictions.name, ping: () => options.predictions.ping() },
      profile_store: { name: options.profiles.name, ping: () => options.profiles.ping() },
      scoring_api: scorer.kind === 'http' ? { name: scorer.name, ping: () => scorer.ping() } : undefined
    }
    this.durableOnWrite = options.profiles.durableOnWrite
    const sweeps = options.silence
    this.#sweeps = sweeps !== undefined && sweeps.stepsMs.length > 0 && scorer.kind === 'model' && options.profiles.forEachSilence !== undefined ? sweeps : undefined
  }

  /** Why silence sweeps are off, when they are; undefined when they are on. */
  get sweepsOff (): string | undefined {
    const o = this.#o
    if (this.#sweeps !== undefined) return undefined
    if (o.silence === undefined || o.silence.stepsMs.length === 0) return 'SILENCE_STEPS is none'
    if (o.scorer.kind !== 'model') return 'the scoring API scores events only; sweeps need the model in process'
    return `the ${o.profiles.kind} profile store keeps no per-partition state; sweeps need the in-process store`
  }

  /** Builds the due index of each partition restored here from its customers' last activity and steps scored. */
  assigned (partitions: readonly number[]): void {
    const policy = this.#sweeps
    const store = this.#o.profiles
    if (policy === undefined || store.forEachSilence === undefined) return
    this.#busyAt = Date.now()
    for (const p of partitions) {
      const index = new DueIndex(this.topics)
      let watermark = 0
      store.forEachSilence(p, (id, lastSeen, steps) => {
        index.set(id, nextDue(policy, lastSeen, steps))
        if (lastSeen > watermark) watermark = lastSeen
      })
      index.restoredAt = watermark
      this.#due.set(p, index)
    }
  }

  revoked (partitions: readonly number[]): void {
    for (const p of partitions) this.#due.delete(p)
  }

  /** Customers with a silence step still to come, over the partitions held here. */
  get silentCustomers (): number {
    let n = 0
    for (const index of this.#due.values()) n += index.size
    return n
  }

  /** The event-time watermark of the partition holding a customer's state (the latest event time seen there); undefined when unknown. */
  watermarkOf (partition: number | undefined): number | undefined {
    const watermark = partition === undefined ? 0 : this.#due.get(partition)?.watermark ?? 0
    return watermark > 0 ? watermark : undefined
  }

  /** The silence sweeps a live, idle partition owes by the wall clock, as a batch with no records. */
  async idle (io: BatchIO): Promise<PreparedBatch<BatchResult> | undefined> {
    const policy = this.#sweeps
    if (policy === undefined) return undefined
    const now = Date.now()
    let due = false
    const caughtUp = now - this.#busyAt >= RELEASE_AFTER_MS
    for (const index of this.#due.values()) {
      if (caughtUp) index.release()
      index.advanceTo(now, policy.liveWindowMs)
      if (index.peek() < index.watermark) due = true
    }
    return due ? prepareBatch([], this.#contextOf(io), this.#overlay, { idleAt: now }) : undefined
  }

  get state (): ProfileStore['partitioned'] {
    return this.#o.profiles.partitioned
  }

  deadLetterTopic (source: string): string {
    return deadLetterTopic(this.#o.config, source)
  }

  flush (): Promise<void> {
    return this.#o.profiles.flush()
  }

  async start (io: BatchIO): Promise<void> {
    const o = this.#o
    const d = io.dependencies
    await (d.database as Dependency).run(() => o.predictions.ensureTable(), io.signal)
    await (d.profile_store as Dependency).run(() => o.profiles.ping(), io.signal)
    const scorer = o.scorer
    if (scorer.kind === 'http') await (d.scoring_api as Dependency).run(() => scorer.ping(), io.signal)
    const off = this.sweepsOff
    if (off === undefined) o.log.info(`silence sweeps on: a quiet customer is re-scored after ${o.silence?.stepsMs.map(hoursOrDays).join(', ')} of silence`)
    else if (o.silence !== undefined && o.silence.stepsMs.length > 0) o.log.warn(`silence sweeps off: ${off}`)
  }

  #contextOf (io: BatchIO): BatchContext {
    if (this.#context !== undefined) return this.#context
    const o = this.#o
    const c = o.config
    this.#context = {
      profiles: o.profiles,
      predictions: o.predictions,
      output: io.output,
      scorer: o.scorer,
      alerts: o.alerts,
      topics: {
        predictions: c.predictionsTopic,
        alerts: c.alertsTopic,
        deadLetter: source => this.deadLetterTopic(source),
        streamOf: topic => this.#streams.get(topic) ?? Streams.USER_EVENTS
      },
      scoredCustomerTypes: o.scoredCustomerTypes,
      ...(this.#sweeps === undefined
        ? {}
        : { silence: { policy: this.#sweeps, index: (p: number) => this.#due.get(p), partitions: () => this.#due.keys() } }),
      dependencies: {
        kafka: io.dependencies.kafka,
        database: io.dependencies.database as Dependency,
        profiles: io.dependencies.profile_store as Dependency,
        scoring: io.dependencies.scoring_api
      },
      signal: io.signal
    }
    return this.#context
  }

  prepare (records: readonly TakenRecord[], io: BatchIO): Promise<PreparedBatch<BatchResult>> {
    this.#busyAt = Date.now()
    return prepareBatch(records, this.#contextOf(io), this.#overlay)
  }

  written (_records: readonly TakenRecord[], result: BatchResult, w: WrittenContext): void {
    const s = w.stats
    const m = w.metrics
    const label = { pipeline: this.name }
    s.predictionsSaved += result.predictions
    s.rowsInserted += result.rowsInserted
    s.alerts += result.alerts
    s.duplicates += result.duplicates
    if (result.duplicates > 0) m.events.inc({ ...label, outcome: 'duplicate' }, result.duplicates)
    m.predictions.inc(label, result.predictions)
    for (const a of result.applied) {
      if (a.alert !== undefined) m.alerts.inc({ ...label, kind: a.alert })
      if (a.high) this.#highRisk.add(a.event.customerId)
      else this.#highRisk.delete(a.event.customerId)
    }
    for (const c of result.checks) {
      if (c.alert !== undefined) m.alerts.inc({ ...label, kind: 'silence' })
      if (c.high) this.#highRisk.add(c.customerId)
      else this.#highRisk.delete(c.customerId)
    }
    if (result.checks.length > 0) m.inactivityChecks.inc(label, result.checks.length)
    if (w.chatty) logEventLines(this.#o.log, result, source => this.deadLetterTopic(source))
  }

  /**
   * Customers in the high-risk state: all of them when the profile store can count (in-process),
   * else those this process has seen enter it.
   */
  highRisk (): number {
    return this.#o.profiles.countHighRisk?.() ?? this.#highRisk.size
  }
}

/**
 * A churn processor: one member of the churn consumer group, the churn pipeline on the stream
 * runtime. Takes batches from Kafka, processes each, and commits its offsets once every sink and
 * the profiles hold it. Waits out outages of any dependency without skipping anything.
 */
export class Processor {
  readonly #runtime: StreamRuntime<BatchResult>
  readonly #pipeline: ChurnPipeline
  readonly #options: ProcessorOptions

  constructor (options: ProcessorOptions) {
    this.#options = options
    this.#pipeline = new ChurnPipeline(options)
    // The runtime reads its own options; the churn pipeline's parts in them are the pipeline's.
    this.#runtime = new StreamRuntime({ ...options, pipeline: this.#pipeline })
  }

  get stats (): StreamRuntime['stats'] { return this.#runtime.stats }
  get metrics (): StreamMetrics { return this.#runtime.metrics }
  get topics (): string[] { return this.#runtime.topics }
  get running (): boolean { return this.#runtime.running }
  get source (): StreamRuntime['source'] { return this.#runtime.source }

  /** Asks the loop to finish the batch in hand, commit and return. */
  stop (): void {
    this.#runtime.stop()
  }

  /** Runs until stopped (or idle, with `exitWhenIdleMs`). Resolves once everything is committed and closed. */
  run (): Promise<void> {
    return this.#runtime.run()
  }

  highRiskCustomers (): number {
    return this.#pipeline.highRisk()
  }

  /** Silence sweeps: on, or why not. */
  get sweepsOff (): string | undefined {
    return this.#pipeline.sweepsOff
  }

  /** Reads this processor's customers (current risk, profile) for the /customers routes. */
  customers (options: { bands: () => readonly RiskBand[], predictions?: (id: string, limit: number) => Promise<readonly CustomerPrediction[]> }): CustomerReader {
    const profiles = this.#options.profiles
    const pipeline = this.#pipeline
    return new CustomerReader({
      profiles,
      bands: options.bands,
      partitionOf: id => profiles.partitioned?.partitionOf(id),
      watermarkOf: partition => pipeline.watermarkOf(partition),
      ...(options.predictions === undefined ? {} : { predictions: options.predictions })
    })
  }

  stateStats (): ReturnType<StreamRuntime['stateStats']> {
    return this.#runtime.stateStats()
  }

  lag (): ReturnType<StreamRuntime['lag']> {
    return this.#runtime.lag()
  }

  health (timeoutMs?: number): ReturnType<StreamRuntime['health']> {
    return this.#runtime.health(timeoutMs)
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    await this.#runtime[Symbol.asyncDispose]()
  }
}
