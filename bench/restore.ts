// How long a processor takes to get a partition's profiles back when the partition is assigned to
// it: from the changelog alone (a new machine, a deleted state directory) and from a local
// checkpoint (the same machine, after a clean stop or a rebalance). The changelog is filled with
// one record per customer, each a realistic profile (a few dozen events applied), spread over the
// changelog's partitions as the processor writes it; a restore then reads every partition.
//
//   npm run bench:restore -- [--customers=100000,1000000] [--partitions=6] [--broker=127.0.0.1:21992]
//
// With no --broker it starts a local Kafka of its own on 127.0.0.1:21992 and stops it at the end.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config/index.ts'
import { createAdmin, createConsumer, createProducer } from '../src/kafka/client/index.ts'
import { startLocalKafka, stopLocalKafka } from '../src/kafka/local/index.ts'
import { ensureTopics } from '../src/kafka/topics/index.ts'
import { createLogger } from '../src/logging/index.ts'
import { applyEvent, ChangelogProfileStore, emptyProfile, encodeProfileRecord, profileEventOf, type ProfileRecord } from '../src/profile/index.ts'
import type { PartitionedState } from '../src/stream/index.ts';
import { changelogTopicConfigs } from '../src/stream/index.ts'

const { values } = parseArgs({
  options: {
    customers: { type: 'string', default: '100000,1000000' },
    partitions: { type: 'string', default: '6' },
    broker: { type: 'string' }
  }
})
const sizes = values.customers.split(',').map(Number)
const partitions = Number(values.partitions)
const log = createLogger({ level: 'warn', format: 'text', destination: process.stderr })
const work = await mkdtemp(join(tmpdir(), 'churnflow-bench-restore-'))
let broker = values.broker
let kafkaState: string | undefined
if (broker === undefined) {
  kafkaState = join(work, 'kafka')
  const { config } = loadConfig({ env: process.env, envFile: false })
  const started = await startLocalKafka({ stateDir: kafkaState, cacheDir: config.cacheDir, log, env: process.env, brokerPort: 21992 })
  broker = started.bootstrap
}
const { config } = loadConfig({ env: { KAFKA_BROKER: broker }, envFile: false })

/** A customer's record after `events` events of the usual mix, as the processor stores it. */
function record (i: number, partition: number, topic: string): ProfileRecord {
  const profile = emptyProfile()
  const types = ['product_view', 'add_to_cart', 'checkout', 'bounce'] as const
  const events = 10 + (i % 40)
  let time = Date.UTC(2026, 0, 1) + (i % 1000) * 60_000
  for (let e = 0; e < events; e++) {
    time += 3_600_000 * (1 + ((i * 7 + e * 13) % 48))
    const pe = profileEventOf({ event_type: types[(i + e) % 4] as string, timestamp: new Date(time).toISOString(), metadata: { session_length: 5 + (e % 20) } })
    if (pe !== undefined) applyEvent(profile, pe)
  }
  return { profile, offsets: { [`${topic}:${partition}`]: i }, alert: { high: i % 11 === 0, lastAt: i % 11 === 0 ? time : 0 }, version: events }
}

async function fill (topic: string, customers: number): Promise<number> {
  const producer = createProducer(config, { suffix: 'bench-restore', compression: config.compression })
  let bytes = 0
  try {
    const chunk = 20_000
    for (let from = 0; from < customers; from += chunk) {
      const messages = []
      for (let i = from; i < Math.min(customers, from + chunk); i++) {
        const p = i % partitions
        const value = encodeProfileRecord(record(i, p, 'user-events'))
        bytes += value.length
        messages.push({ topic, partition: p, key: Buffer.from(`CUST-${i}`), value })
      }
      await producer.send({ messages })
    }
  } finally {
    await producer.close()
  }
  return bytes
}

/** Restores every partition into a fresh store, as an assigned processor does; ms and customers. */
async function restore (topic: string, checkpointDir: string): Promise<{ ms: number, customers: number, fromCheckpoints: number, fromChangelog: number }> {
  const store = new ChangelogProfileStore({ stateDir: checkpointDir })
  const state = store.partitioned as PartitionedState<ProfileRecord>
  const consumer = createConsumer(config, 'bench-restore')
  const producer = createProducer(config, { suffix: 'bench-restore' })
  try {
    state.bind({ consumer, producer, topic, checkpointDir })
    const all = Array.from({ length: partitions }, (_, p) => p)
    const summary = await state.assign(all)
    return { ms: summary.ms, customers: summary.keys, fromCheckpoints: summary.fromCheckpoints, fromChangelog: summary.fromChangelog }
  } finally {
    await consumer.close(true)
    await producer.close()
  }
}

const rows: string[] = []
const admin = createAdmin(config)
try {
  for (const customers of sizes) {
    const topic = `bench-restore-${customers}-${Date.now().toString(36)}-profiles-changelog`
    await ensureTopics(admin, [{ name: topic, partitions, replicas: 1, configs: changelogTopicConfigs }])
    const fillStarted = performance.now()
    const bytes = await fill(topic, customers)
    process.stderr.write(`${customers} customers in ${topic}: ${(bytes / 1e6).toFixed(0)} MB of records, written in ${((performance.now() - fillStarted) / 1000).toFixed(1)} s\n`)
    const dir = join(work, `state-${customers}`)
    const fromChangelog = await restore(topic, dir)
    // A checkpoint as a clean stop writes it, then a restore that starts from it.
    const writer = new ChangelogProfileStore({ stateDir: dir })
    const state = writer.partitioned as PartitionedState<ProfileRecord>
    const consumer = createConsumer(config, 'bench-restore')
    const producer = createProducer(config, { suffix: 'bench-restore' })
    state.bind({ consumer, producer, topic, checkpointDir: dir })
    await state.assign(Array.from({ length: partitions }, (_, p) => p))
    const checkpointStarted = performance.now()
    await state.checkpoint()
    const checkpointMs = performance.now() - checkpointStarted
    await consumer.close(true)
    await producer.close()
    const fromCheckpoint = await restore(topic, dir)
    rows.push(`| ${customers.toLocaleString('en')} | changelog alone | ${(fromChangelog.ms / 1000).toFixed(2)} s | ${Math.round(fromChangelog.customers / (fromChangelog.ms / 1000)).toLocaleString('en')} customers/s | ${fromChangelog.fromChangelog} changelog records |`)
    rows.push(`| ${customers.toLocaleString('en')} | local checkpoint | ${(fromCheckpoint.ms / 1000).toFixed(2)} s | ${Math.round(fromCheckpoint.customers / (fromCheckpoint.ms / 1000)).toLocaleString('en')} customers/s | ${fromCheckpoint.fromCheckpoints} from checkpoints, ${fromCheckpoint.fromChangelog} changelog records (writing the checkpoint: ${(checkpointMs / 1000).toFixed(2)} s) |`)
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined)
  }
} finally {
  await admin.close()
  if (kafkaState !== undefined) await stopLocalKafka({ stateDir: kafkaState, log })
  await rm(work, { recursive: true, force: true })
}
process.stdout.write(`\nrestore of a processor's profiles (${partitions} partitions, peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB)\n\n| customers | from | time | rate | read |\n|---|---|---|---|---|\n${rows.join('\n')}\n`)
