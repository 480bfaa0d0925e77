import type { PartitionedStore } from '../../stream/index.ts'
import type { CustomerProfile } from '../profile.ts'

/** What the processor keeps of a customer beyond the profile: its alert state. */
export interface AlertState {
  /** True while the customer is in the high-risk band (entered at the high threshold, left below the low one). */
  readonly high: boolean
  /** Event time (epoch ms) of the last alert sent for this customer; 0 = never. */
  readonly lastAt: number
}

/** One feature behind a score: its value and how much it pushed the score up. */
export interface RiskReason { readonly feature: string, readonly value: number, readonly impact: number }

/** How a customer's latest score came about: one of their events, or a silence step with no event. */
export const RiskTriggers = { EVENT: 'event', INACTIVITY: 'inactivity' } as const
export type RiskTrigger = (typeof RiskTriggers)[keyof typeof RiskTriggers]

/** A customer's current risk: their latest score, kept in the processor's state beside the profile. */
export interface CurrentRisk {
  readonly score: number
  readonly band: string
  readonly modelVersion: string
  /** Event time (epoch ms) the score is as of: the event's time, or the silence step's due time. */
  readonly at: number
  readonly trigger: RiskTrigger
  /** The features that pushed it up most (at most RISK_REASONS), strongest first. */
  readonly reasons: readonly RiskReason[]
}

/**
 * What the at-risk ranking reads of each scored customer, straight from the store's rows: the
 * current score and band, when it was scored (epoch ms), when the customer was first seen, and the
 * input partition holding them (undefined for a store not kept per partition).
 */
export type RiskVisitor = (id: string, score: number, band: string, at: number, firstSeen: number, partition: number | undefined) => void

/** Most reasons kept per customer. */
export const RISK_REASONS = 3

/**
 * Where a customer's silence stands: the silence steps already scored since their last activity,
 * and the source record that activity came from (`<topic>:<partition>`, its offset being the
 * record's `offsets` entry), which keys the inactivity checks so a replay writes none twice.
 */
export interface SilenceState {
  readonly steps: number
  readonly anchor: string
}

/** A customer as the processor stores it. */
export interface ProfileRecord {
  readonly profile: CustomerProfile
  /**
   * The last offset applied from each source partition, keyed `<topic>:<partition>`. An event at or
   * below it has been applied (and its sinks written) already, so a replay skips it.
   */
  readonly offsets: Readonly<Record<string, number>>
  readonly alert: AlertState
  /** The latest score; absent until the customer is first scored. */
  readonly risk?: CurrentRisk | undefined
  /** Absent until the customer's first event. */
  readonly silence?: SilenceState | undefined
  /** Write count, for optimistic concurrency; 0 for a customer the store has never seen. */
  readonly version: number
}

/** The profile store a processor reads and writes a batch at a time; `Symbol.asyncDispose` closes it, as `close()` does. */
export interface ProfileStore extends AsyncDisposable {
  readonly kind: 'redis' | 'memory'
  /** For logs and /health: `redis 127.0.0.1:6379`, `memory (changelog, checkpoints in /path)`. */
  readonly name: string
  /**
   * True when a resolved putMany is durable (Redis). False when durability comes only from
   * `flush()` (the in-process store's changelog): the processor then commits offsets only up to
   * the last flush.
   */
  readonly durableOnWrite: boolean
  /**
   * The stored records of these customers; a customer never seen is absent from the map. The
   * records are the caller's own (fresh objects every call): it may change them in place.
   */
  getMany (ids: readonly string[]): Promise<Map<string, ProfileRecord>>
  /**
   * Writes each record if the stored version still equals `record.version` (the version read),
   * storing it with version + 1. Resolves to the ids whose stored version had changed meanwhile
   * (another processor wrote them during a rebalance): those were not written, and the caller
   * re-reads and re-applies them. Rejects with a retriable ChurnflowError when the store is down.
   */
  putMany (records: ReadonlyMap<string, ProfileRecord>): Promise<string[]>
  /** Makes every write so far durable (the in-process store's changes to its changelog); a no-op for Redis. */
  flush (): Promise<void>
  /**
   * Present when the store keeps its state per input partition (the in-process store): the
   * processor binds it to Kafka, restores partitions as they are assigned and drops them as they
   * are revoked.
   */
  readonly partitioned?: PartitionedStore
  /**
   * Every customer of a held partition with their last activity and silence steps scored, when the
   * store keeps its state per partition: the silence sweeps build their due index from it.
   */
  forEachSilence? (partition: number, visit: (id: string, lastSeen: number, steps: number) => void): void
  /** Every scored customer with their current risk and first activity, when the store holds them in process: the at-risk ranking. */
  forEachRisk? (visit: RiskVisitor): void
  /** The `limit` customers of highest current score (within `range`, from included, to excluded), highest first, when the store keeps a ranking (Redis). */
  topRisk? (limit: number, range?: { from: number, to: number }): Promise<{ id: string, score: number }[]>
  /** Customers now in the high-risk state, when the store can count them cheaply (the in-process store). */
  countHighRisk? (): number
  ping (): Promise<void>
  close (): Promise<void>
}
