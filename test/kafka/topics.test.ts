import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/index.ts'
import { createAdmin } from '../../src/kafka/client/index.ts'
import { ensureTopics } from '../../src/kafka/topics/index.ts'
import { cli, deleteTopics, kafkaConfig, uniqueName } from '../helpers/services.ts'
import { churnflowTopics, deadLetterTopic } from '../../src/stream/index.ts'

function prefixedEnv (prefix: string): Record<string, string> {
  return {
    KAFKA_TOPIC: `${prefix}.user-events`,
    KAFKA_TOPIC_CUSTOMER_EVENTS: `${prefix}.customer-events`,
    KAFKA_TOPIC_TRANSACTIONS: `${prefix}.transactions`,
    KAFKA_TOPIC_CHURN_PREDICTIONS: `${prefix}.churn-predictions`,
    KAFKA_TOPIC_CHURN_ALERTS: `${prefix}.churn-alerts`,
    KAFKA_TOPIC_FRAUD_PREDICTIONS: `${prefix}.fraud-predictions`,
    KAFKA_TOPIC_FRAUD_ALERTS: `${prefix}.fraud-alerts`,
    KAFKA_PARTITIONS: '4'
  }
}

test('the topic list follows the configuration: names, dead-letter topics, replication auto', () => {
  const { config } = loadConfig({ env: {}, envFile: false })
  assert.deepEqual(churnflowTopics(config, 1).map(t => t.name), [
    'user-events', 'customer-events', 'transactions', 'churn-predictions', 'churn-alerts', 'fraud-predictions', 'fraud-alerts',
    'user-events-failed', 'customer-events-failed', 'transactions-failed'
  ])
  assert.equal(churnflowTopics(config, 1)[0]!.replicas, 1)
  assert.equal(churnflowTopics(config, 5)[0]!.replicas, 3)
  const single = loadConfig({ env: { KAFKA_ERROR_TOPIC: 'dlq', KAFKA_REPLICATION_FACTOR: '2' }, envFile: false }).config
  assert.equal(deadLetterTopic(single, 'user-events'), 'dlq')
  assert.deepEqual(churnflowTopics(single, 1).map(t => t.name).filter(n => n.includes('dlq')), ['dlq'])
  assert.equal(churnflowTopics(single, 1)[0]!.replicas, 2)
})

test('creating the topics twice, and from two clients at once, is harmless', async t => {
  const prefix = uniqueName('topics')
  const config = await kafkaConfig(t, prefixedEnv(prefix))
  if (config === undefined) return
  const specs = churnflowTopics(config, 1)
  t.after(() => deleteTopics(config, specs.map(s => s.name)))

  const [a, b] = [createAdmin(config), createAdmin(config)]
  try {
    const [first, concurrent] = await Promise.all([ensureTopics(a, specs), ensureTopics(b, specs)])
    assert.equal(first.created.length + first.existing.length, specs.length)
    assert.equal(concurrent.created.length + concurrent.existing.length, specs.length)
    const again = await ensureTopics(a, specs)
    assert.deepEqual(again.created, [])
    assert.deepEqual(again.existing, specs.map(s => ({ name: s.name, partitions: 4 })))
  } finally {
    await Promise.all([a.close(), b.close()])
  }
})

test('churnflow topics create prints what it created, then what exists', async t => {
  const prefix = uniqueName('cli-topics')
  const env = { ...prefixedEnv(prefix), KAFKA_BROKER: process.env.CHURNFLOW_TEST_KAFKA ?? '' }
  const config = await kafkaConfig(t, env)
  if (config === undefined) return
  t.after(() => deleteTopics(config, churnflowTopics(config, 1).map(s => s.name)))
  const first = await cli(['topics', 'create'], env)
  assert.equal(first.code, 0, first.stderr)
  assert.match(first.stdout, new RegExp(`^created ${prefix}\\.user-events \\(4 partitions, replication 1\\)$`, 'm'))
  assert.equal(first.stdout.trim().split('\n').length, 10)
  const second = await cli(['topics', 'create'], env)
  assert.equal(second.code, 0)
  assert.ok(!second.stdout.includes('created'))
  assert.match(second.stdout, new RegExp(`^exists  ${prefix}\\.user-events-failed \\(4 partitions\\)$`, 'm'))
})

test('churnflow topics create with no broker says so and how to fix it', async () => {
  const result = await cli(['topics', 'create'], { KAFKA_BROKER: '127.0.0.1:1' })
  assert.equal(result.code, 1)
  assert.match(result.stderr, /no Kafka broker answered at 127\.0\.0\.1:1/)
  assert.match(result.stderr, /churnflow kafka start/)
})
