import type { Consumer } from '@platformatic/kafka'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'

/** Where a control batch (a transaction marker) says so in its attributes. */
const IS_CONTROL = 0x20
const FETCH_BYTES = 8 * 1024 * 1024

/**
 * The changelog topic of a pipeline's store: `<application id>-<store>-changelog`, the name Kafka
 * Streams gives it. The application id is the pipeline's consumer group, so two deployments of
 * one pipeline in different groups keep separate state.
 */
export function changelogTopic (applicationId: string, store: string): string {
  return `${applicationId}-${store}-changelog`
}

/** Topic configuration of a changelog: compacted, so it keeps the latest record of every key. */
export const changelogTopicConfigs: readonly { name: string, value: string }[] = [
  { name: 'cleanup.policy', value: 'compact' }
]

/** What a restore read. */
export interface RestoreRead {
  /** Records read (after `from`, up to the end the partition had when the read began). */
  readonly records: number
  /** The offset after the last one read: where the next restore would begin. */
  readonly next: bigint
  /** The partition's end offset when the read began. */
  readonly end: bigint
}

/**
 * Reads one changelog partition from `from` to the end it has now, record by record, with plain
 * Fetch requests: a restore is no member of any consumer group, and must not wait for one. Records
 * before `from` in a returned batch (a compacted or compressed batch starts earlier) are skipped.
 */
export async function readChangelogPartition (
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>,
  topic: string,
  partition: number,
  from: bigint,
  onRecord: (key: Buffer, value: Buffer | null, offset: bigint) => void
): Promise<RestoreRead> {
  const ends = await consumer.listOffsets({ topics: [topic] })
  const end = ends.get(topic)?.[partition]
  if (end === undefined) throw new ChurnflowError(ErrorCodes.STATE_RESTORE_FAILED, `the changelog ${topic} has no partition ${partition}`, { retriable: true })
  if (from >= end) return { records: 0, next: from, end }
  // The leader is looked up once: if it moves during the restore, a fetch fails and the caller's retry restores again.
  const info = (await consumer.metadata({ topics: [topic] })).topics.get(topic)
  const leader = info?.partitions[partition]?.leader
  if (info === undefined || leader === undefined || leader < 0) throw new ChurnflowError(ErrorCodes.STATE_RESTORE_FAILED, `the changelog ${topic}-${partition} has no leader now`, { retriable: true })
  let next = from
  let records = 0
  while (next < end) {
    const response = await consumer.fetch({
      node: leader,
      topics: [{ topicId: info.id, partitions: [{ partition, fetchOffset: next, partitionMaxBytes: FETCH_BYTES, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
      maxWaitTime: 500,
      minBytes: 1,
      maxBytes: FETCH_BYTES
    })
    const answer = response.responses[0]?.partitions.find(p => p.partitionIndex === partition)
    if (answer === undefined) continue
    if (answer.errorCode === 1 && answer.logStartOffset > next) {
      // OFFSET_OUT_OF_RANGE below the log start: compaction or retention removed the records in between.
      next = answer.logStartOffset
      continue
    }
    if (answer.errorCode !== 0) throw new ChurnflowError(ErrorCodes.STATE_RESTORE_FAILED, `reading the changelog ${topic}-${partition} at offset ${next} failed with Kafka error ${answer.errorCode}`, { retriable: true })
    const batches = answer.records ?? []
    if (batches.length === 0) {
      // Nothing before the end we saw: the records there were removed (compaction), so the end is reached.
      if (answer.highWatermark <= next) break
      continue
    }
    for (const batch of batches) {
      const last = batch.firstOffset + BigInt(batch.lastOffsetDelta)
      if ((batch.attributes & IS_CONTROL) === 0) {
        for (const r of batch.records) {
          const offset = batch.firstOffset + BigInt(r.offsetDelta)
          if (offset < next || offset >= end || r.key === null) continue
          onRecord(r.key, r.value, offset)
          records++
        }
      }
      if (last + 1n > next) next = last + 1n
    }
  }
  return { records, next: next > end ? next : end, end }
}
