// Reads a processor's partitioned state back from Kafka, the way a new member restores it: every
// record of the group's changelog, keeping per customer the record that supersedes the others.
import type { Config } from '../../src/config/index.ts'
import { createConsumer } from '../../src/kafka/client/index.ts'
import { decodeProfileRecord, PROFILES_STORE, supersedes, type ProfileRecord } from '../../src/profile/index.ts'
import { changelogTopic, readChangelogPartition } from '../../src/stream/index.ts'
import { uniqueName } from './services.ts'

/** The profiles a group's changelog holds, by customer id. */
export async function changelogProfiles (config: Config, groupId: string): Promise<Map<string, ProfileRecord>> {
  const topic = changelogTopic(groupId, PROFILES_STORE)
  const consumer = createConsumer(config, uniqueName('read-changelog'))
  const out = new Map<string, ProfileRecord>()
  try {
    const ends = await consumer.listOffsets({ topics: [topic] })
    const partitions = ends.get(topic)?.length ?? 0
    for (let p = 0; p < partitions; p++) {
      await readChangelogPartition(consumer, topic, p, 0n, (key, value) => {
        if (value === null) return
        const id = key.toString('utf8')
        const record = decodeProfileRecord(value)
        const current = out.get(id)
        if (current === undefined || supersedes(record, current)) out.set(id, record)
      })
    }
  } finally {
    await consumer.close(true)
  }
  return out
}

/** The same, in the shape of a store's getMany, for the tests' profile assertions. */
export function changelogStore (config: Config, groupId: string): { getMany (ids: readonly string[]): Promise<Map<string, ProfileRecord>> } {
  return {
    async getMany (ids) {
      const all = await changelogProfiles(config, groupId)
      return new Map(ids.filter(id => all.has(id)).map(id => [id, all.get(id) as ProfileRecord]))
    }
  }
}
