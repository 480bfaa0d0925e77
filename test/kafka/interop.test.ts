// churnflow's Kafka client against kcat (librdkafka), a client nobody here wrote.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { Config } from '../../src/config/index.ts'
import { createProducer } from '../../src/kafka/client/index.ts'
import { consumeFromStart, createTopic, deleteTopics, hasCommand, kafkaConfig, run, unavailable, uniqueName } from '../helpers/services.ts'

async function setup (t: TestContext, partitions: number, count = 1): Promise<{ config: Config, topics: string[] } | undefined> {
  if (!hasCommand('kcat')) {
    unavailable(t, 'kcat (Debian package kcat)')
    return undefined
  }
  const config = await kafkaConfig(t)
  if (config === undefined) return undefined
  const topics = Array.from({ length: count }, () => uniqueName('interop'))
  for (const topic of topics) await createTopic(config, topic, partitions)
  t.after(() => deleteTopics(config, topics))
  return { config, topics }
}

/** Reads a whole topic with kcat: key, value and partition of each record. */
async function kcatRead (config: Config, topic: string): Promise<{ key: string, value: string, partition: number }[]> {
  const result = await run('kcat', ['-C', '-b', config.kafkaBrokers.join(','), '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k\\t%s\\t%p\\n'])
  assert.equal(result.code, 0, result.stderr)
  return result.stdout.split('\n').filter(l => l !== '').map(line => {
    const [key, value, partition] = line.split('\t')
    return { key: key!, value: value!, partition: Number(partition) }
  })
}

const sample = (i: number): { key: string, value: string } => ({
  key: `user-${i}`,
  value: JSON.stringify({ user_id: i, event_type: 'product_view', timestamp: '2024-01-15T10:30:00.123456', metadata: { note: `ünïcødé ✓ ${i}` } })
})

test('records produced by churnflow read back intact with kcat', async t => {
  const ctx = await setup(t, 3)
  if (ctx === undefined) return
  const { config, topics: [topic] } = ctx
  const messages = Array.from({ length: 50 }, (_, i) => sample(i))
  const producer = createProducer(config, { compression: 'lz4' })
  try {
    await producer.send({ messages: messages.map(m => ({ topic: topic!, key: Buffer.from(m.key), value: Buffer.from(m.value) })) })
  } finally {
    await producer.close()
  }
  const read = await kcatRead(config, topic!)
  assert.deepEqual(read.map(r => ({ key: r.key, value: r.value })).sort((a, b) => a.key.localeCompare(b.key)),
    [...messages].sort((a, b) => a.key.localeCompare(b.key)))
})

test('records produced by kcat read back intact with churnflow, headers too', async t => {
  const ctx = await setup(t, 3)
  if (ctx === undefined) return
  const { config, topics: [topic] } = ctx
  const messages = Array.from({ length: 50 }, (_, i) => sample(i))
  const input = messages.map(m => `${m.key}|${m.value}`).join('\n') + '\n'
  const produced = await run('kcat', ['-P', '-b', config.kafkaBrokers.join(','), '-t', topic!, '-K', '|', '-H', 'source=kcat', '-X', 'partitioner=murmur2_random'], { input })
  assert.equal(produced.code, 0, produced.stderr)
  const read = await consumeFromStart(config, topic!, messages.length)
  assert.deepEqual(read.map(r => ({ key: r.key, value: r.value })).sort((a, b) => a.key.localeCompare(b.key)),
    [...messages].sort((a, b) => a.key.localeCompare(b.key)))
  assert.ok(read.every(r => r.headers.get('source') === 'kcat'))
})

test('a key lands on the same partition from churnflow and from kcat with Java\'s partitioner', async t => {
  const ctx = await setup(t, 7, 2)
  if (ctx === undefined) return
  const { config, topics: [ours, theirs] } = ctx
  const keys = [...Array.from({ length: 300 }, (_, i) => `${i + 1}`), ...Array.from({ length: 100 }, (_, i) => `CUST-${String(i).padStart(3, '0')}`), 'ünïcødé-key']
  const producer = createProducer(config)
  try {
    await producer.send({ messages: keys.map(k => ({ topic: ours!, key: Buffer.from(k), value: Buffer.from('x') })) })
  } finally {
    await producer.close()
  }
  const produced = await run('kcat', ['-P', '-b', config.kafkaBrokers.join(','), '-t', theirs!, '-K', '|', '-X', 'partitioner=murmur2_random'], { input: keys.map(k => `${k}|x`).join('\n') + '\n' })
  assert.equal(produced.code, 0, produced.stderr)

  const placement = async (topic: string): Promise<Map<string, number>> => new Map((await kcatRead(config, topic)).map(r => [r.key, r.partition]))
  const [a, b] = await Promise.all([placement(ours!), placement(theirs!)])
  assert.equal(a.size, keys.length)
  assert.equal(b.size, keys.length)
  for (const key of keys) assert.equal(a.get(key), b.get(key), `key ${key}`)
  assert.equal(new Set(a.values()).size, 7, 'keys spread over every partition')
})

test('uncompressed records (churnflow\'s own batch encoding) read back with kcat: keys, headers, timestamps months apart', async t => {
  const ctx = await setup(t, 1)
  if (ctx === undefined) return
  const { config, topics: [topic] } = ctx
  // Timestamps spread over a year in one batch: the Kafka client's encoder gets deltas past 2^31 ms (24.8 days) wrong.
  const start = Date.UTC(2025, 0, 1)
  const messages = Array.from({ length: 40 }, (_, i) => ({ ...sample(i), timestamp: start + i * 9 * 86_400_000 + i }))
  const producer = createProducer(config)
  try {
    await producer.send({
      messages: messages.map((m, i) => ({
        topic: topic!,
        key: i % 10 === 0 ? undefined : Buffer.from(m.key),
        value: Buffer.from(m.value),
        headers: new Map([[Buffer.from('n'), Buffer.from(String(i))]]),
        timestamp: BigInt(m.timestamp)
      }))
    })
  } finally {
    await producer.close()
  }
  const result = await run('kcat', ['-C', '-b', config.kafkaBrokers.join(','), '-t', topic!, '-o', 'beginning', '-e', '-q', '-f', '%k\\t%s\\t%T\\t%h\\n'])
  assert.equal(result.code, 0, result.stderr)
  const read = result.stdout.split('\n').filter(l => l !== '').map(line => line.split('\t'))
  assert.deepEqual(read, messages.map((m, i) => [i % 10 === 0 ? '' : m.key, m.value, String(m.timestamp), `n=${i}`]))
})
