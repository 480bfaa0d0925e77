import type { Config } from '../config/index.ts'
import { Streams, type EventStream } from '../events/index.ts'
import type { ProfileStore } from '../profile/index.ts'
import type { PredictionStore } from '../sql/index.ts'
import { type BatchIO, deadLetterTopic, type Dependency, type Pipeline, type PipelineDependency, type PreparedBatch, type StreamMetrics, StreamRuntime, type StreamRuntimeOptions, type TakenRecord, type WrittenContext } from '../stream/index.ts'
import type { AlertPolicy } from './alerts.ts'
import { logEventLines } from './console.ts'
import { prepareBatch, type BatchContext, type BatchResult, type ProfileOverlay } from './batch.ts'
import type { Scorer } from './scoring.ts'

/** A churn processor's options: the churn pipeline's parts, and the runtime's own (batch size, intervals, retries...). */
export interface ProcessorOptions extends Omit<StreamRuntimeOptions<BatchResult>, 'pipeline' | 'config' | 'connector'> {
  readonly config: Config
  readonly streams: readonly EventStream[]
  readonly profiles: ProfileStore
  readonly predictions: PredictionStore
  readonly scorer: Scorer
  readonly alerts: AlertPolicy
  readonly scoredCustomerTypes: ReadonlySet<string>
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

  constructor (options: ProcessorOptions) {
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
