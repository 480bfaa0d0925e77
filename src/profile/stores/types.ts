import type { PartitionedStore } from '../../stream/index.ts'
import type { CustomerProfile } from '../profile.ts'

/** What the processor keeps of a customer beyond the profile: its alert state. */
export interface AlertState {
  /** True while the customer is in the high-risk band (entered at the high threshold, left below the low one). */
  readonly high: boolean
  /** Event time (epoch ms) of the last alert sent for this customer; 0 = never. */
  readonly lastAt: number
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
  /** Customers now in the high-risk state, when the store can count them cheaply (the in-process store). */
  countHighRisk? (): number
  ping (): Promise<void>
  close (): Promise<void>
}
