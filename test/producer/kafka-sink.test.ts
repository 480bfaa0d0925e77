import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadConfig, type Config } from '../../src/config/index.ts'
import { createProducer } from '../../src/kafka/client/index.ts'
import { KafkaSink } from '../../src/producer/kafka-sink.ts'
import type { DeliveryReport, OutRecord } from '../../src/producer/types.ts'
import { consumeFromStart, createTopic, deleteTopics, kafkaConfig, uniqueName } from '../helpers/services.ts'

/**
 * Writes `writes` records one at a time, a millisecond apart, through a KafkaSink on a real
 * producer whose Produce calls are counted; every record of one key, so their order shows.
 */
async function trickle (t: TestContext, config: Config, lingerMs: number, writes: number): Promise<{ sends: number, elapsedMs: number, sent: number, failed: number, written: OutRecord[], topic: string }> {
  const topic = uniqueName('linger')
  await createTopic(config, topic, 1)
  t.after(() => deleteTopics(config, [topic]))
  const producer = createProducer(config, { suffix: 'linger-test' })
  const send = producer.send.bind(producer)
  let sends = 0
  producer.send = (options => { sends++; return send(options) }) as typeof producer.send
  let sent = 0
  let failed = 0
  const sink = new KafkaSink(producer, {
    lingerMs,
    onDelivery: (r: DeliveryReport) => { if (r.error === undefined) sent += r.records.length; else failed += r.records.length }
  })
  const written: OutRecord[] = []
  const started = performance.now()
  try {
    for (let i = 0; i < writes; i++) {
      const time = Date.now()
      const record: OutRecord = { topic, key: 'k', payload: JSON.stringify({ i }), time, event: { i } }
      written.push(record)
      await sink.write([record])
      await sleep(1)
    }
  } finally {
    await sink.close()
  }
  return { sends, elapsedMs: performance.now() - started, sent, failed, written, topic }
}

async function assertInKafka (config: Config, topic: string, written: readonly OutRecord[]): Promise<void> {
  const records = await consumeFromStart(config, topic, written.length)
  assert.equal(records.length, written.length)
  records.forEach((r, i) => {
    const w = written[i] as OutRecord
    assert.equal(r.value, w.payload, `record ${i} in the order written`)
    assert.equal(r.timestamp, BigInt(w.time), `record ${i} keeps the time it was written with`)
  })
}

test('with a linger, records written one at a time go in few requests, in order, each with its own timestamp', async t => {
  const config = await kafkaConfig(t)
  if (config === undefined) return
  const lingerMs = 50
  const run = await trickle(t, config, lingerMs, 200)
  assert.deepEqual({ sent: run.sent, failed: run.failed }, { sent: 200, failed: 0 })
  // A held batch goes once the linger has passed since its first record, and the next batch's
  // first record comes after that: whatever the machine's speed, the sends are at most one per
  // linger of the run, and the flush at the end.
  assert.ok(run.sends <= Math.floor(run.elapsedMs / lingerMs) + 2, `${run.sends} Produce calls in ${run.elapsedMs.toFixed(0)} ms with a ${lingerMs} ms linger`)
  assert.ok(run.sends < 200)
  await assertInKafka(config, run.topic, run.written)
})

test('with no linger, each write is its own request', async t => {
  const config = await kafkaConfig(t)
  if (config === undefined) return
  const run = await trickle(t, config, 0, 20)
  assert.deepEqual({ sends: run.sends, sent: run.sent, failed: run.failed }, { sends: 20, sent: 20, failed: 0 })
  await assertInKafka(config, run.topic, run.written)
})

test('with a linger, a writer still waits while held batches wait for room in flight: nothing piles up behind an absent broker', async () => {
  const { config } = loadConfig({ env: { KAFKA_BROKER: '127.0.0.1:1' }, envFile: false })
  const producer = createProducer(config, { suffix: 'linger-test', retries: 2, retryDelay: () => 1000 })
  const events: string[] = []
  const sink = new KafkaSink(producer, {
    lingerMs: 5,
    maxInFlight: 1,
    onDelivery: r => { events.push(`${r.records.map(x => x.payload).join(',')} ${r.error === undefined ? 'sent' : 'failed'}`) }
  })
  const record = (i: number): OutRecord => ({ topic: 'absent', key: 'k', payload: String(i), time: Date.now(), event: {} })
  try {
    await sink.write([record(1)])
    await sleep(100) // its linger passes: in flight, the broker never answering
    await sink.write([record(2)])
    await sleep(100) // released, but no room in flight (the first fails after its two retries, 2 s)
    await sink.write([record(3)])
    events.push('write 3 returned')
  } finally {
    await sink.close().catch(() => undefined)
  }
  // Whatever the machine's speed, the third write returns only once the first batch has left.
  assert.deepEqual(events, ['1 failed', 'write 3 returned', '2 failed', '3 failed'])
})
