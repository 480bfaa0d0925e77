import { parsePartitionKey } from '../source.ts'

/**
 * State that remembers, per source partition (`<topic>:<partition>`), the last offset it applied:
 * the churn profiles and the fraud accounts both do, so a replayed record is applied once.
 */
export type AppliedOffsets = Readonly<Record<string, number>>

/**
 * Whether `candidate` has applied at least every record `current` has: for each source partition
 * `current` names, the candidate's last applied offset is as far or further. A key's records are
 * applied in offset order, so of two values of one key the one further along holds the other's
 * history; a restore keeps it whatever order the changelog holds them in (a processor that lost
 * its partitions may write one last, older value after the new owner's).
 */
export function offsetsCover (candidate: AppliedOffsets, current: AppliedOffsets): boolean {
  for (const key in current) {
    const mine = candidate[key]
    if (mine === undefined || mine < (current[key] as number)) return false
  }
  return true
}

/** Partition numbers of `<topic>:<partition>` keys, parsed once per key. */
const parsed = new Map<string, number>()

/** The source partition a value's offsets name (its first key's), or undefined when it names none. */
export function partitionOfOffsets (offsets: AppliedOffsets): number | undefined {
  for (const key in offsets) {
    let p = parsed.get(key)
    if (p === undefined) {
      p = parsePartitionKey(key)?.partition ?? Number(key)
      if (parsed.size < 100_000) parsed.set(key, p)
    }
    return p
  }
  return undefined
}
