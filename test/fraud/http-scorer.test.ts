import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'node:test'
import {
  decodeTransactions, fraudBatch, FraudHttpScorer, FraudScorer, shippedFraudModelPath,
  type FraudBatchContext, type FraudScoring
} from '../../src/fraud/index.ts'
import { createLogger } from '../../src/logging/index.ts'
import type { SourceRecord } from '../../src/processor/index.ts'
import { Dependency, DependencyStates } from '../../src/stream/index.ts'
import { TransactionStream } from '../../src/simulator/index.ts'
import { Rng } from '../../src/util/rng.ts'
import { testFraudApi as testApi } from '../helpers/fraud-api.ts'

const model = FraudScorer.fromFile(shippedFraudModelPath)
const silent = createLogger({ level: 'silent', format: 'json' })

function transactions (count: number): SourceRecord[] {
  const start = Date.UTC(2025, 0, 1)
  const stream = new TransactionStream(new Rng(31), { accounts: 40, fraudRate: 0.05, start, end: start + 30 * 86_400_000 })
  const out: SourceRecord[] = []
  for (let r = stream.next(); r !== undefined && out.length < count; r = stream.next()) {
    out.push({ topic: 'transactions', partition: 0, offset: BigInt(out.length), key: Buffer.from(r.key), value: Buffer.from(JSON.stringify(r.value)), headers: undefined, timestamp: r.time })
  }
  return out
}

const context = (scorer: FraudScoring, scoring?: Dependency): FraudBatchContext => ({
  scorer,
  ...(scoring === undefined ? {} : { scoring }),
  topics: { predictions: 'fraud-predictions', alerts: 'fraud-alerts', deadLetter: s => `${s}-failed` },
  signal: new AbortController().signal,
  now: () => Date.UTC(2026, 0, 1)
})

test('through the API, with the account features sent along, every transaction scores as in process', async t => {
  const api = await testApi(t)
  const records = transactions(600)
  const local = await fraudBatch(records, new Map(), context({ kind: 'model', name: 'model', current: model }))
  const http = new FraudHttpScorer({ baseUrl: api.url, timeoutMs: 5000, maxBatch: 250 })
  const remote = await fraudBatch(records, new Map(), context(http, new Dependency('scoring API', { maxRetries: 2, baseDelayMs: 20, factor: 2, maxDelayMs: 100 }, silent)))
  assert.deepEqual(api.calls, [250, 250, 100])
  assert.deepEqual(remote.predictionRows, local.predictionRows)
  assert.ok(local.counts.fraud > 0)
  assert.deepEqual(remote.counts, local.counts)
})

test('an API outage: retries, the breaker opens, the batch waits and then completes with nothing lost or dead-lettered', async t => {
  const api = await testApi(t)
  const records = transactions(300)
  const local = await fraudBatch(records, new Map(), context({ kind: 'model', name: 'model', current: model }))
  await api.stop()
  const dependency = new Dependency('scoring API', { maxRetries: 2, baseDelayMs: 20, factor: 2, maxDelayMs: 150 }, silent)
  const http = new FraudHttpScorer({ baseUrl: api.url, timeoutMs: 2000 })
  const pending = fraudBatch(decodeTransactions(records), new Map(), context(http, dependency))
  for (let waited = 0; dependency.state !== DependencyStates.DOWN && waited < 30_000; waited += 20) await sleep(20)
  assert.equal(dependency.state, DependencyStates.DOWN, 'the breaker opened')
  await sleep(300)
  await api.start()
  const result = await pending
  assert.equal(dependency.state, DependencyStates.UP)
  assert.ok(dependency.failures > 2, `${dependency.failures} failed calls`)
  assert.deepEqual(result.predictionRows, local.predictionRows)
  assert.equal(result.counts.deadLettered, 0)
})

test('a transaction the API refuses (4xx) is found by halving the batch and dead-lettered; its account does not count it', async t => {
  const api = await testApi(t)
  const records = transactions(64)
  const bad = JSON.parse(records[37]!.value!.toString()) as Record<string, unknown>
  records[37] = { ...records[37]!, value: Buffer.from(JSON.stringify({ ...bad, merchant_id: 'REFUSE-ME' })) }
  const http = new FraudHttpScorer({ baseUrl: api.url, timeoutMs: 5000, log: silent })
  const result = await fraudBatch(records, new Map(), context(http, new Dependency('scoring API', { maxRetries: 1, baseDelayMs: 10, factor: 2, maxDelayMs: 50 }, silent)))
  assert.equal(result.counts.scored, 63)
  assert.equal(result.poison.length, 1)
  assert.equal(result.poison[0]!.code, 'rejected_by_scoring_api')
  assert.match(result.poison[0]!.message, /HTTP 400.*REFUSE-ME/)
  assert.equal(result.poison[0]!.record.offset, 37n)
  assert.ok(api.calls.length <= 2 * Math.ceil(Math.log2(64)) + 1, `${api.calls.length} calls`)
  const account = result.accounts.get(String(bad.account_id))!
  const sameAccount = records.filter(r => JSON.parse(r.value!.toString()).account_id === bad.account_id).length
  assert.equal(account.profile.count, sameAccount - 1)
  assert.equal(account.offsets['transactions:0']! >= 37, true)
  assert.ok(!account.recent.includes(String(bad.transaction_id)), 'a replay from the dead-letter topic will be taken as new')
})
