import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fraudBatch, FraudScorer, fraudSettings, shippedFraudModelPath } from '../../src/fraud/index.ts'
import { createProducer } from '../../src/kafka/client/index.ts'
import type { SourceRecord } from '../../src/processor/index.ts'
import { produceRaw } from '../helpers/events.ts'
import { consumeFromStart, createTopic, deleteTopics, kafkaConfig, uniqueName } from '../helpers/services.ts'
import { transactionPoisonCorpus, validTransaction } from './corpus.ts'
import { DeadLetterHeaders } from '../../src/stream/index.ts'

test('through the real broker: every malformed transaction reaches transactions-failed byte for byte with its code; the valid ones are predicted, keyed by account', async t => {
  const prefix = uniqueName('fraud')
  const env = { KAFKA_TOPIC_TRANSACTIONS: `${prefix}.transactions`, KAFKA_TOPIC_FRAUD_PREDICTIONS: `${prefix}.fraud-predictions`, KAFKA_TOPIC_FRAUD_ALERTS: `${prefix}.fraud-alerts` }
  const config = await kafkaConfig(t, env)
  if (config === undefined) return
  const settings = fraudSettings(config)
  const topics = [settings.sourceTopic, settings.deadLetterTopic, settings.predictionsTopic, settings.alertsTopic]
  t.after(() => deleteTopics(config, topics))
  for (const topic of topics) await createTopic(config, topic, 1)
  assert.equal(settings.deadLetterTopic, `${prefix}.transactions-failed`)

  const valid = Array.from({ length: 20 }, (_, i) => JSON.stringify({ ...validTransaction, transaction_id: `T-${i}`, timestamp: new Date(Date.UTC(2025, 0, 1) + i * 3_600_000).toISOString() }))
  // Poison and valid transactions interleaved, one key: one partition, offsets in this order.
  const poison = transactionPoisonCorpus.map(c => c.value)
  const values: string[] = []
  for (let i = 0; i < Math.max(valid.length, poison.length); i++) values.push(...valid.slice(i, i + 1), ...poison.slice(i, i + 1))
  await produceRaw(config, settings.sourceTopic, values, validTransaction.account_id)

  const consumed = await consumeFromStart(config, settings.sourceTopic, values.length)
  const records: SourceRecord[] = consumed.map(r => ({
    topic: settings.sourceTopic, partition: r.partition, offset: r.offset, key: Buffer.from(r.key), value: Buffer.from(r.value), headers: undefined, timestamp: Number(r.timestamp)
  }))
  const result = await fraudBatch(records, new Map(), {
    scorer: { kind: 'model', name: 'model', current: FraudScorer.fromFile(shippedFraudModelPath) },
    topics: { predictions: settings.predictionsTopic, alerts: settings.alertsTopic, deadLetter: () => settings.deadLetterTopic },
    signal: new AbortController().signal
  })
  const producer = createProducer(config, { suffix: 'test' })
  try {
    await producer.send({ messages: result.messages as never })
  } finally {
    await producer.close()
  }

  const dead = await consumeFromStart(config, settings.deadLetterTopic, transactionPoisonCorpus.length)
  assert.equal(dead.length, transactionPoisonCorpus.length)
  const expected = new Map(transactionPoisonCorpus.map(c => [c.value, c.code]))
  for (const d of dead) {
    assert.ok(expected.has(d.value), `a dead letter that was not sent: ${d.value.slice(0, 80)}`)
    assert.equal(d.headers.get(DeadLetterHeaders.ERROR_CODE), expected.get(d.value), d.value)
    assert.equal(d.headers.get(DeadLetterHeaders.SOURCE_TOPIC), settings.sourceTopic)
    assert.equal(d.value, values[Number(d.headers.get(DeadLetterHeaders.SOURCE_OFFSET))], 'the source offset points at the same bytes')
    assert.equal(d.key, validTransaction.account_id)
  }
  const predictions = await consumeFromStart(config, settings.predictionsTopic, valid.length)
  assert.deepEqual(predictions.map(p => (JSON.parse(p.value) as { transaction_id: string }).transaction_id), valid.map((_, i) => `T-${i}`))
  for (const p of predictions) assert.equal(p.key, validTransaction.account_id)
})
