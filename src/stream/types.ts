import type { Dependency } from './dependency.ts'
import type { TakenRecord, SourceRecord } from './source.ts'
import type { PartitionedStore } from './state/partitioned.ts'
import type { ProcessingStats } from './stats.ts'
import type { StreamMetrics } from './metrics.ts'

/** A record for a Kafka topic, as the runtime's producer sends it. */
export interface OutMessage {
  readonly topic: string
  readonly key: Buffer | undefined
  readonly value: Buffer | undefined
  readonly headers?: Map<Buffer, Buffer>
  readonly timestamp?: bigint
  /** The partition, when the record must go to one (a changelog); else the key's partition. */
  readonly partition?: number
}

/** Sends records to Kafka; resolves once every one is acknowledged. */
export interface OutputSink {
  send (messages: readonly OutMessage[]): Promise<void>
}

/** A record a pipeline refuses (unparseable, invalid): it goes to the dead-letter topic with the reason. */
export interface Poison {
  readonly record: SourceRecord
  /** A stable code, carried in the dead-letter record's headers. */
  readonly code: string
  readonly message: string
}

/** What the runtime reads of a written batch. */
export interface BatchOutcome {
  readonly records: number
  /** Valid events the batch applied (not duplicates, not poison). */
  readonly processed: number
  readonly poison: readonly Poison[]
  readonly timings: { readonly scoreMs: number, readonly databaseMs: number }
}

/** A batch whose events are computed; `write` sends it to every sink. Writes run one at a time, in order. */
export interface PreparedBatch<R extends BatchOutcome = BatchOutcome> {
  write (): Promise<R>
}

/** The dependencies of a running pipeline: Kafka's and the pipeline's own, each with its retries and breaker. */
export type Dependencies = Readonly<Record<string, Dependency>> & { readonly kafka: Dependency }

/** What a pipeline gets from the runtime for each batch. */
export interface BatchIO {
  readonly output: OutputSink
  readonly dependencies: Dependencies
  readonly signal: AbortSignal
}

/** Something a pipeline depends on besides Kafka: named for logs and /health, pinged to see it answers. */
export interface PipelineDependency {
  readonly name: string
  ping (): Promise<unknown>
}

/** What a pipeline gets once a batch is written: the runtime's counts and metrics, to add its own to. */
export interface WrittenContext {
  readonly stats: ProcessingStats
  readonly metrics: StreamMetrics
  /** True at low rates: the pipeline may log a line per event. */
  readonly chatty: boolean
}

/**
 * A pipeline: what the stream runtime runs. It decodes and validates records, keeps its state,
 * computes its results and writes its sinks; the runtime owns the Kafka source, batching, retries
 * and breakers, dead-letter topics, partitioned state, metrics, the commit and the stop. Its
 * methods take their dependencies as parameters, so a pipeline runs in a unit test with no broker.
 */
export interface Pipeline<R extends BatchOutcome = BatchOutcome> {
  /** `churn`, `fraud`: the metrics' pipeline label. */
  readonly name: string
  /** Its consumer group, which is also its state's application id (the changelogs' name prefix). */
  readonly groupId: string
  readonly topics: readonly string[]
  /** Topics it writes besides the dead-letter topics (created with the sources when missing). */
  readonly outputTopics: readonly string[]
  deadLetterTopic (source: string): string
  /** Its dependencies besides Kafka, by the name /health gives them; undefined = not used (shown so). */
  readonly dependencies: Readonly<Record<string, PipelineDependency | undefined>>
  /** State kept in process, per input partition; absent when the state lives elsewhere (Redis). */
  readonly state?: PartitionedStore
  /** True when a written batch is durable as it is (state in Redis): each batch is committed at once. */
  readonly durableOnWrite: boolean
  /** Makes every write so far durable (the state's changes to its changelog); the runtime calls it before each commit. */
  flush (): Promise<void>
  /** Readies its sinks (tables, stores) before the first batch; waits out outages through `io.dependencies`. */
  start (io: BatchIO): Promise<void>
  /**
   * How many batches' writes may run at once (default 1). With more, a batch's write starts while
   * earlier ones are still writing; the runtime still finishes them in order, and a write must not
   * store state before every earlier write has succeeded.
   */
  readonly writesInFlight?: number
  /** Decodes and computes a batch; may start before the previous batch's write ends, never before its `prepare` ends. */
  prepare (records: readonly TakenRecord[], io: BatchIO): Promise<PreparedBatch<R>>
  /** Called once per written batch, in order: its own counts, metrics and console lines. */
  written (records: readonly TakenRecord[], result: R, context: WrittenContext): void
  /** Called after the state follows a new assignment: partitions restored here, before any of their records. */
  assigned? (partitions: readonly number[]): void
  /** Called after partitions are dropped from the state (moved to another member). */
  revoked? (partitions: readonly number[]): void
  /**
   * Work of its own while no record comes (the churn pipeline's silence sweeps by the wall clock):
   * a batch with no records, written, flushed and counted like any other; undefined when there is none.
   */
  idle? (io: BatchIO): Promise<PreparedBatch<R> | undefined>
  /** Customers (or accounts) in an alerting state, for /stats, when it knows. */
  highRisk? (): number
}
