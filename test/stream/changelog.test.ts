// The changelog on the real broker: a flush larger than a broker takes in one record batch, a
// restore of it into a fresh store, and a restore that keeps, of two values, the one further along.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createAdmin, createConsumer, createProducer } from '../../src/kafka/client/index.ts'
import { ensureTopics } from '../../src/kafka/topics/index.ts'
import { changelogTopicConfigs, MapTable, offsetsCover, PartitionedState, type StateCodec } from '../../src/stream/index.ts'
import { deleteTopics, kafkaConfig, uniqueName } from '../helpers/services.ts'

interface Counter { readonly offsets: Readonly<Record<string, number>>, readonly padding: string }
const codec: StateCodec<Counter> = {
  encode: v => Buffer.from(JSON.stringify(v)),
  decode: b => JSON.parse(b.toString()) as Counter,
  supersedes: (a, b) => offsetsCover(a.offsets, b.offsets)
}

test('a flush of 5 MB of changes to one partition reaches the changelog whole, and a fresh store restores every key from it', async t => {
  const config = await kafkaConfig(t)
  if (config === undefined) return
  const topic = `${uniqueName('state')}-changelog`
  const admin = createAdmin(config)
  try {
    await ensureTopics(admin, [{ name: topic, partitions: 1, replicas: 1, configs: changelogTopicConfigs }])
  } finally {
    await admin.close()
  }
  t.after(() => deleteTopics(config, [topic]))
  const consumer = createConsumer(config, uniqueName('restore'))
  const producer = createProducer(config, { suffix: 'test' })
  t.after(async () => { await consumer.close(true); await producer.close() })
  const padding = 'x'.repeat(200)
  const io = { consumer, producer, topic, checkpointDir: '/nonexistent/never-written' }

  const writer = new PartitionedState<Counter>({ name: 'counters', codec, table: () => new MapTable<Counter>() })
  writer.bind(io)
  await writer.assign([0])
  for (let i = 0; i < 20_000; i++) writer.set(`key-${i}`, { offsets: { 'src:0': i }, padding }, 0)
  await writer.flush()
  // A later, further-along value of one key, then an older one written after it (a late writer).
  writer.set('key-7', { offsets: { 'src:0': 50_000 }, padding: 'newest' }, 0)
  await writer.flush()
  writer.set('key-7', { offsets: { 'src:0': 7 }, padding: 'late and older' }, 0)
  await writer.flush()

  const reader = new PartitionedState<Counter>({ name: 'counters', codec, table: () => new MapTable<Counter>() })
  reader.bind(io)
  const summary = await reader.assign([0])
  assert.equal(summary.keys, 20_000)
  assert.equal(summary.fromChangelog, 20_002)
  assert.equal(reader.get('key-19999')?.offsets['src:0'], 19_999)
  assert.equal(reader.get('key-7')?.padding, 'newest', 'the value further along wins, whatever order the changelog holds them in')
})
