import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { FraudConsole, fraudBatch, FraudScorer, shippedFraudModelPath } from '../../src/fraud/index.ts'
import { createLogger } from '../../src/logging/index.ts'
import type { SourceRecord } from '../../src/processor/index.ts'
import { validTransaction } from './corpus.ts'

test('the fraud streaming consumer\'s lines: started with server, group and topic; every 100 messages; stopped with the total', async () => {
  let text = ''
  const destination = new Writable({ write (chunk: Buffer, _encoding, done) { text += chunk.toString(); done() } })
  const log = createLogger({ level: 'info', format: 'text', destination })
  const console = new FraudConsole(log, { server: 'localhost:9092', group: 'transaction-consumer-group', topic: 'transactions' })
  const model = FraudScorer.fromFile(shippedFraudModelPath)
  const ctx = {
    scorer: { kind: 'model', name: 'model', current: model } as const,
    topics: { predictions: 'p', alerts: 'a', deadLetter: (s: string) => `${s}-failed` },
    signal: new AbortController().signal
  }
  const record = (i: number): SourceRecord => ({
    topic: 'transactions', partition: 0, offset: BigInt(i), key: undefined, headers: undefined, timestamp: 0,
    value: Buffer.from(i === 5 ? 'oops' : JSON.stringify({ ...validTransaction, transaction_id: `T-${i}`, timestamp: new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString() }))
  })
  console.started()
  // Batches of 60, 60, 130 and 3: a line when 100 is passed (at 120), one when 200 is (at 250), none for 253.
  let next = 0
  for (const size of [60, 60, 130, 3]) {
    const records = Array.from({ length: size }, () => record(next++))
    console.batch(await fraudBatch(records, new Map(), ctx))
  }
  console.stopped()
  await new Promise(resolve => setImmediate(resolve))
  const lines = text.trim().split('\n').map(l => l.replace(/^\S+ \S+ - \w+ - /, ''))
  assert.deepEqual(lines.filter(l => !l.startsWith('Invalid transaction')), [
    'Consumer started - Server: localhost:9092, Group: transaction-consumer-group, Topic: transactions',
    'Processed 100 messages',
    'Processed 200 messages',
    'Consumer stopped. Total messages: 253'
  ])
  assert.equal(lines.filter(l => l.startsWith('Invalid transaction sent to the error topic: the value is not JSON')).length, 1)
  assert.deepEqual(console.stats.toJSON().records, 253)
  assert.equal(console.stats.deadLettered, 1)
  assert.equal(console.stats.scored, 252)
})
