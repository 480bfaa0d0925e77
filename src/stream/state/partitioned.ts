import { unlink } from 'node:fs/promises'
import type { Consumer, Producer } from '@platformatic/kafka'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import { requestChunks } from '../../kafka/client/index.ts'
import type { Logger } from '../../logging/index.ts'
import { refusedForGood } from '../dependency.ts'
import { readChangelogPartition } from './changelog.ts'
import { checkpointPath, readCheckpoint, writeCheckpoint } from './checkpoint.ts'

/** One partition's values, by key: a Map, or a denser structure a pipeline brings. */
export interface PartitionTable<V> {
  get (key: string): V | undefined
  set (key: string, value: V): void
  readonly size: number
  keys (): IterableIterator<string>
  /** A value's bytes straight from the table, when it can make them without building the value. */
  encode? (key: string): Buffer | undefined
}

interface ChangelogRecord { readonly topic: string, readonly partition: number, readonly key: Buffer, readonly value: Buffer }

/** Keys encoded between two turns of the event loop when the changelog is flushed. */
const FLUSH_ENCODE_SLICE = 256

/** A partition's table as a plain Map: the default for values that are small objects. */
export class MapTable<V> extends Map<string, V> implements PartitionTable<V> {}

/** How a store's values go to and from bytes, and which of two values of one key a restore keeps. */
export interface StateCodec<V> {
  encode (value: V): Buffer
  decode (bytes: Buffer): V
  /** True when `candidate` holds everything `current` holds (it may replace it during a restore). */
  supersedes (candidate: V, current: V): boolean
}

/** What the runtime gives a store to reach Kafka once it runs. */
export interface StateIO {
  /** Any consumer of the cluster: restores read with plain Fetch requests through it. */
  readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>
  readonly producer: Producer<Buffer, Buffer, Buffer, Buffer>
  /** The store's changelog topic. */
  readonly topic: string
  /** Where the store keeps its local checkpoints (one file per partition). */
  readonly checkpointDir: string
}

/** What assigning partitions restored. */
export interface RestoreSummary {
  readonly partitions: readonly number[]
  /** Keys read from local checkpoints, and records read from the changelog after them. */
  readonly fromCheckpoints: number
  readonly fromChangelog: number
  readonly keys: number
  /** Keys carried over from an earlier version's store (see `seed`). */
  readonly seeded: number
  readonly ms: number
}

/** The part of a partitioned store the runtime drives: restore, drop, flush and checkpoint by partition. */
export interface PartitionedStore {
  /** The store's name in its changelog topic's name (`<group>-<name>-changelog`). */
  readonly storeName: string
  bind (io: StateIO): void
  readonly partitions: readonly number[]
  /** Keys held, over every partition held. */
  readonly size: number
  /** The partition holding `key`, if any. */
  partitionOf (key: string): number | undefined
  /** Restores these partitions' state (checkpoint, then the changelog after it); the partitions are usable once it resolves. */
  assign (partitions: readonly number[]): Promise<RestoreSummary>
  /** Checkpoints these partitions (best effort) and drops their state from memory. */
  revoke (partitions: readonly number[]): Promise<void>
  /** Sends every change since the last flush to the changelog; resolves once Kafka has them. */
  flush (): Promise<void>
  /** Writes a local checkpoint of every held partition. */
  checkpoint (): Promise<void>
}

export interface PartitionedStateOptions<V, T extends PartitionTable<V>> {
  readonly name: string
  readonly codec: StateCodec<V>
  /** A new, empty table for one partition. */
  readonly table: () => T
  /**
   * State to carry over into partitions whose changelog is empty and that have no checkpoint (the
   * store of an earlier version, kept elsewhere), by partition. Called once per `assign` that has
   * such partitions; what it gives is marked changed, so the next flush writes it to the changelog.
   */
  readonly seed?: (partitions: readonly number[]) => Promise<ReadonlyMap<number, readonly (readonly [string, V])[]>>
  readonly log?: Logger
}

/**
 * Keyed state kept per input partition (the Kafka Streams design): each partition's table is
 * backed by the same-numbered partition of a compacted changelog topic. Changes are marked dirty
 * and sent, the latest value per key, by `flush()`, which the runtime calls before it commits
 * offsets, after the batch's sinks hold the batch. A partition assigned to this process is
 * restored from its local checkpoint and then the changelog after it; a revoked one is dropped.
 */
export class PartitionedState<V, T extends PartitionTable<V> = PartitionTable<V>> implements PartitionedStore {
  readonly storeName: string
  readonly #o: PartitionedStateOptions<V, T>
  readonly #tables = new Map<number, T>()
  /** Each table's partition. */
  readonly #partitionOf = new Map<T, number>()
  /** Key → the table that holds it: one lookup to any key's value. */
  readonly #where = new Map<string, T>()
  /** Keys changed since the last flush. */
  #dirty = new Set<string>()
  /** Per partition: the changelog offset after the last record known to be in the table. */
  readonly #next = new Map<number, bigint>()
  #io: StateIO | undefined
  #flushing: Promise<void> | undefined

  constructor (options: PartitionedStateOptions<V, T>) {
    this.#o = options
    this.storeName = options.name
  }

  bind (io: StateIO): void {
    this.#io = io
  }

  get partitions (): readonly number[] {
    return [...this.#tables.keys()].sort((a, b) => a - b)
  }

  /** Keys held, over every partition. */
  get size (): number {
    return this.#where.size
  }

  tables (): IterableIterator<T> {
    return this.#tables.values()
  }

  /** A held partition's table. */
  table (partition: number): T | undefined {
    return this.#tables.get(partition)
  }

  /** The partition holding `key`, if any. */
  partitionOf (key: string): number | undefined {
    const table = this.#where.get(key)
    return table === undefined ? undefined : this.#partitionOf.get(table)
  }

  get (key: string): V | undefined {
    return this.#where.get(key)?.get(key)
  }

  /** The table holding `key`, if any (to read it without building its value). */
  tableOf (key: string): T | undefined {
    return this.#where.get(key)
  }

  /**
   * The table a change of `key` goes to, with the key marked changed: the table that holds it, or
   * `partition`'s for a new key. Throws when that partition is not held here: its state lives with
   * another member.
   */
  touch (key: string, partition: number): T {
    let table = this.#where.get(key)
    if (table === undefined) {
      table = this.#tables.get(partition)
      if (table === undefined) throw new ChurnflowError(ErrorCodes.STATE_RESTORE_FAILED, `${this.storeName}: partition ${partition} is not held by this processor (key ${key})`)
      this.#where.set(key, table)
    }
    this.#dirty.add(key)
    return table
  }

  /** Stores a value under the partition that holds the key, or under `partition` for a new key (see `touch`). */
  set (key: string, value: V, partition: number): void {
    this.touch(key, partition).set(key, value)
  }

  /** A value's changelog bytes, from the table's own encoder when it has one. */
  #encode (table: T, key: string): Buffer | undefined {
    if (table.encode !== undefined) return table.encode(key)
    const value = table.get(key)
    return value === undefined ? undefined : this.#o.codec.encode(value)
  }

  #bound (): StateIO {
    if (this.#io === undefined) throw new Error(`${this.storeName}: the store is not bound to Kafka yet`)
    return this.#io
  }

  async flush (): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing
    if (this.#dirty.size === 0) return
    this.#flushing = this.#flush().finally(() => { this.#flushing = undefined })
    await this.#flushing
  }

  async #flush (): Promise<void> {
    const io = this.#bound()
    const taken = this.#dirty
    this.#dirty = new Set()
    const messages: ChangelogRecord[] = []
    let encoded = 0
    for (const key of taken) {
      // The encoding runs on the event loop beside the batches: a second's worth of changed keys
      // (thousands at a few thousand events a second) in one go held every batch's write and
      // fetch behind it for tens of ms. Values changed in between are encoded newer, which is
      // harmless (see the runtime's commit order); their keys are dirty again for the next flush.
      if (++encoded % FLUSH_ENCODE_SLICE === 0) await new Promise(resolve => setImmediate(resolve))
      const table = this.#where.get(key)
      if (table === undefined) continue
      const p = this.#partitionOf.get(table) as number
      const value = this.#encode(table, key)
      if (value === undefined) continue
      messages.push({ topic: io.topic, partition: p, key: Buffer.from(key, 'utf8'), value })
    }
    try {
      for (const chunk of requestChunks(messages)) {
        const result = await io.producer.send({ messages: chunk as never })
        const sent = new Map<number, number>()
        for (const m of chunk) sent.set(m.partition, (sent.get(m.partition) ?? 0) + 1)
        for (const o of result.offsets ?? []) {
          if (o.topic !== io.topic) continue
          const last = BigInt(o.offset) + BigInt(sent.get(o.partition) ?? 1) - 1n
          if (last + 1n > (this.#next.get(o.partition) ?? 0n)) this.#next.set(o.partition, last + 1n)
        }
      }
    } catch (error) {
      // The tables still hold the newest values: mark the keys dirty again for the next flush.
      for (const key of taken) if (this.#where.has(key)) this.#dirty.add(key)
      // A refusal the broker marks final (a record over its size limit) is no outage: it must surface, not be retried forever.
      throw new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE, `could not write ${messages.length} ${this.storeName} records to the changelog ${io.topic}: ${(error as Error).message}`, { cause: error, retriable: !refusedForGood(error) })
    }
  }

  async assign (partitions: readonly number[]): Promise<RestoreSummary> {
    const io = this.#bound()
    const started = performance.now()
    let fromCheckpoints = 0
    let fromChangelog = 0
    const fresh = partitions.filter(p => !this.#tables.has(p))
    /** Partitions that found nothing at all: neither a checkpoint nor a changelog record ever written. */
    const empty: number[] = []
    for (const p of fresh) {
      let checkpointed = false
      const table = this.#o.table()
      const codec = this.#o.codec
      const apply = (key: string, bytes: Buffer): void => {
        const value = codec.decode(bytes)
        const current = table.get(key)
        if (current === undefined || codec.supersedes(value, current)) table.set(key, value)
      }
      let from = 0n
      const path = checkpointPath(io.checkpointDir, p)
      try {
        const checkpoint = await readCheckpoint(path)
        if (checkpoint !== undefined) {
          for (const [key, bytes] of checkpoint.entries) apply(key, bytes)
          fromCheckpoints += checkpoint.entries.length
          from = checkpoint.next
          checkpointed = true
        }
      } catch (error) {
        this.#o.log?.warn({ err: error }, `${this.storeName}: ignoring the checkpoint of partition ${p}; restoring it from the changelog alone`)
        from = 0n
      }
      let read
      try {
        read = await readChangelogPartition(io.consumer, io.topic, p, from, (key, bytes) => { if (bytes !== null) apply(key.toString('utf8'), bytes) })
      } catch (error) {
        if (from === 0n) throw error
        // A checkpoint past the changelog's end belongs to a changelog that is gone (the topic was recreated).
        this.#o.log?.warn({ err: error }, `${this.storeName}: the checkpoint of partition ${p} does not match its changelog; restoring from the changelog alone`)
        return this.#restart(p, partitions, started)
      }
      if (from > read.end) return this.#restart(p, partitions, started)
      fromChangelog += read.records
      this.#tables.set(p, table)
      this.#partitionOf.set(table, p)
      for (const key of table.keys()) this.#where.set(key, table)
      this.#next.set(p, read.next)
      if (!checkpointed && read.end === 0n) empty.push(p)
    }
    const seeded = await this.#seed(empty)
    const keys = fresh.reduce((n, p) => n + (this.#tables.get(p)?.size ?? 0), 0)
    return { partitions: fresh, fromCheckpoints, fromChangelog, keys, seeded, ms: performance.now() - started }
  }

  /** Carries an earlier version's state into partitions that found none; resolves to how many keys. */
  async #seed (partitions: readonly number[]): Promise<number> {
    if (partitions.length === 0 || this.#o.seed === undefined) return 0
    const values = await this.#o.seed(partitions)
    let count = 0
    for (const [p, entries] of values) {
      const table = this.#tables.get(p)
      if (table === undefined) continue
      for (const [key, value] of entries) {
        if (this.#where.has(key)) continue
        table.set(key, value)
        this.#where.set(key, table)
        this.#dirty.add(key)
        count++
      }
    }
    return count
  }

  /** Restores again without the checkpoint of `bad`, which is deleted first. */
  async #restart (bad: number, partitions: readonly number[], started: number): Promise<RestoreSummary> {
    const io = this.#bound()
    await unlink(checkpointPath(io.checkpointDir, bad)).catch(() => undefined)
    const summary = await this.assign(partitions)
    return { ...summary, ms: performance.now() - started }
  }

  async revoke (partitions: readonly number[]): Promise<void> {
    for (const p of partitions) {
      if (!this.#tables.has(p)) continue
      await this.#checkpoint(p).catch((error: unknown) => { this.#o.log?.warn({ err: error }, `${this.storeName}: could not checkpoint partition ${p} before dropping it`) })
      const table = this.#tables.get(p) as T
      for (const key of table.keys()) {
        this.#where.delete(key)
        this.#dirty.delete(key)
      }
      this.#tables.delete(p)
      this.#partitionOf.delete(table)
      this.#next.delete(p)
    }
  }

  async checkpoint (): Promise<void> {
    for (const p of this.partitions) await this.#checkpoint(p)
  }

  /**
   * A checkpoint of one partition. Its values are read in one synchronous pass, so the offset it
   * names is never ahead of them; values newer than that offset (not yet flushed) are harmless: a
   * restore keeps, of two values, the one that supersedes.
   */
  async #checkpoint (p: number): Promise<void> {
    const io = this.#bound()
    const table = this.#tables.get(p)
    if (table === undefined) return
    const next = this.#next.get(p) ?? 0n
    const entries: [string, Buffer][] = []
    for (const key of table.keys()) {
      const value = this.#encode(table, key)
      if (value !== undefined) entries.push([key, value])
    }
    await writeCheckpoint(checkpointPath(io.checkpointDir, p), { next, entries })
  }
}
