import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import type { Logger } from '../../logging/index.ts'
import { partitionOfOffsets, PartitionedState, type PartitionedStore } from '../../stream/index.ts'
import { decodeProfileRecord, encodeProfileRecord, supersedes } from './codec.ts'
import { MemoryProfileStore } from './memory.ts'
import type { ProfileRecord, ProfileStore, RiskVisitor } from './types.ts'

/** The store's name in its changelog topic: `<group>-profiles-changelog`. */
export const PROFILES_STORE = 'profiles'

/** Where churnflow before the changelog kept every profile of a processor: one snapshot file. */
export function legacySnapshotPath (stateDir: string): string {
  return join(stateDir, 'profiles', 'profiles.snapshot')
}

/**
 * The profiles of these partitions from the snapshot an earlier churnflow wrote (its profiles were
 * one file per processor, not a changelog): an upgrade keeps every customer's history. Read only for
 * partitions whose changelog is empty; the file stays where it is.
 */
async function fromLegacySnapshot (path: string, partitions: readonly number[], log: Logger | undefined): Promise<Map<number, [string, ProfileRecord][]>> {
  const out = new Map<number, [string, ProfileRecord][]>()
  if (!existsSync(path)) return out
  const snapshot = await MemoryProfileStore.open({ snapshotPath: path })
  try {
    const wanted = new Set(partitions)
    for (const id of snapshot.keys()) {
      const record = snapshot.get(id) as ProfileRecord
      const p = partitionOfOffsets(record.offsets)
      if (p === undefined || !wanted.has(p)) continue
      let list = out.get(p)
      if (list === undefined) out.set(p, list = [])
      list.push([id, record])
    }
  } finally {
    await snapshot.close()
  }
  const count = [...out.values()].reduce((n, l) => n + l.length, 0)
  log?.info(`carried ${count} customers of partitions ${partitions.join(', ')} over from the profile snapshot of an earlier churnflow (${path}) into the changelog`)
  return out
}

/**
 * The default, in-process profile store: the profiles of the partitions this processor holds, in
 * compact per-partition tables, backed by the compacted changelog topic `<group>-profiles-changelog`
 * and a local checkpoint per partition under the state directory. When a partition moves to
 * another processor, that one restores its profiles from the changelog: any number of processors
 * share a group without Redis, each with its own state directory.
 */
export class ChangelogProfileStore implements ProfileStore {
  readonly kind = 'memory' as const
  readonly name: string
  /** Durable once `flush()` has sent the changes to the changelog: the processor flushes before it commits. */
  readonly durableOnWrite = false
  readonly partitioned: PartitionedStore
  readonly #state: PartitionedState<ProfileRecord, MemoryProfileStore>
  #closed = false

  constructor (options: { stateDir: string, log?: Logger }) {
    const legacy = legacySnapshotPath(options.stateDir)
    this.#state = new PartitionedState<ProfileRecord, MemoryProfileStore>({
      name: PROFILES_STORE,
      codec: { encode: encodeProfileRecord, decode: decodeProfileRecord, supersedes },
      table: () => new MemoryProfileStore(),
      seed: partitions => fromLegacySnapshot(legacy, partitions, options.log),
      ...(options.log === undefined ? {} : { log: options.log })
    })
    this.partitioned = this.#state
    this.name = `memory (changelog, checkpoints in ${options.stateDir})`
  }

  #check (): void {
    if (this.#closed) throw new ChurnflowError(ErrorCodes.PROFILE_STORE_UNAVAILABLE, `${this.name}: the store is closed`)
  }

  async getMany (ids: readonly string[]): Promise<Map<string, ProfileRecord>> {
    this.#check()
    const out = new Map<string, ProfileRecord>()
    for (const id of ids) {
      const record = this.#state.get(id)
      if (record !== undefined) out.set(id, record)
    }
    return out
  }

  /** Compare-and-set per customer, as the other stores do; the changes go to the changelog on the next flush. */
  async putMany (records: ReadonlyMap<string, ProfileRecord>): Promise<string[]> {
    this.#check()
    const conflicts: string[] = []
    const state = this.#state
    for (const [id, record] of records) {
      const table = state.tableOf(id)
      const stored = table?.versionOf(id) ?? 0
      if (stored !== record.version) {
        conflicts.push(id)
        continue
      }
      // A customer new to this process goes to the partition its events came from.
      const partition = table === undefined ? partitionOfOffsets(record.offsets) : 0
      if (partition === undefined) continue
      state.touch(id, partition).set(id, record, record.version + 1)
    }
    return conflicts
  }

  flush (): Promise<void> {
    this.#check()
    return this.#state.flush()
  }

  forEachSilence (partition: number, visit: (id: string, lastSeen: number, steps: number) => void): void {
    this.#state.table(partition)?.eachSilence(visit)
  }

  forEachRisk (visit: RiskVisitor): void {
    for (const partition of this.#state.partitions) this.#state.table(partition)?.forEachRisk(visit, partition)
  }

  countHighRisk (): number {
    let count = 0
    for (const table of this.#state.tables()) count += table.countHighRisk()
    return count
  }

  async ping (): Promise<void> {
    this.#check()
  }

  async close (): Promise<void> {
    this.#closed = true
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }
}
