import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/index.ts'
import { ChurnflowError, ErrorCodes } from '../../src/errors.ts'
import {
  accountIds, applyTransaction, decodeAccount, decodeTransaction, decodeTransactions, emptyAccount, emptyAccountRecord, encodeAccount,
  factsOf, FRAUD_FEATURES, fraudBatch, fraudFeatures, FraudScorer, shippedFraudModelPath, trainingFeatures,
  type AccountRecord, type FraudBatchContext, type TrainingTransaction
} from '../../src/fraud/index.ts'
import { fraudAlertMessage, fraudPredictionMessage, openFraudPipeline, type ScoredTransaction } from '../../src/fraud/pipeline/index.ts'
import { createLogger } from '../../src/logging/index.ts'
import { migrate } from '../../src/sql/index.ts'
import { isoUtc } from '../../src/events/index.ts'
import type { SourceRecord } from '../../src/processor/index.ts'
import { TransactionStream, type SimulatedTransaction } from '../../src/simulator/index.ts'
import { Rng } from '../../src/util/rng.ts'
import { transactionPoisonCorpus, validTransaction } from './corpus.ts'
import { DeadLetterHeaders, Dependency, type TakenRecord } from '../../src/stream/index.ts'

const model = FraudScorer.fromFile(shippedFraudModelPath)
const record = (value: string, offset = 0, partition = 0, topic = 'transactions'): SourceRecord =>
  ({ topic, partition, offset: BigInt(offset), key: undefined, value: Buffer.from(value), headers: undefined, timestamp: 0 })
const context = (overrides: Partial<FraudBatchContext> = {}): FraudBatchContext => ({
  scorer: { kind: 'model', name: 'model', current: model },
  topics: { predictions: 'fraud-predictions', alerts: 'fraud-alerts', deadLetter: s => `${s}-failed` },
  signal: new AbortController().signal,
  now: () => Date.UTC(2026, 0, 1),
  ...overrides
})

test('every malformed transaction of the corpus is rejected with its code and a message naming the fault', () => {
  assert.ok(decodeTransaction(record(JSON.stringify(validTransaction))).ok, 'the corpus\'s base transaction is valid')
  for (const c of transactionPoisonCorpus) {
    const d = decodeTransaction(record(c.value))
    assert.ok(!d.ok, `${c.name}: accepted`)
    assert.equal(d.poison.code, c.code, `${c.name}: ${d.poison.message}`)
    assert.match(d.poison.message, c.message, c.name)
  }
})

test('valid transactions: id as the other spelling, numeric ids, codes in either case, extra fields kept', () => {
  const d = decodeTransaction(record(JSON.stringify({
    id: 'uuid-123', account_id: 991, amount: 0.01, currency: 'usd', merchant_id: 77, merchant_category: 'Books & Media',
    channel: 'contactless', country: 'us', timestamp: '2024-01-15T10:30:00.123456', device: { os: 'ios' }, ip: '10.0.0.1'
  })))
  assert.ok(d.ok, d.ok ? '' : d.poison.message)
  const row = d.transaction.row
  assert.deepEqual({ ...row }, {
    transactionId: 'uuid-123', accountId: '991', cardId: null, amount: 0.01, currency: 'USD', merchantId: '77', merchantCategory: 'Books & Media',
    channel: 'contactless', country: 'US', eventTime: Date.UTC(2024, 0, 15, 10, 30, 0, 123), extra: '{"device":{"os":"ios"},"ip":"10.0.0.1"}'
  })
  assert.equal(d.transaction.fields.transaction_id, 'uuid-123')
  const both = decodeTransaction(record(JSON.stringify({ ...validTransaction, id: validTransaction.transaction_id })))
  assert.ok(both.ok)
  assert.equal(both.transaction.row.extra, null)
  // The simulator's own transactions, card_id included.
  const stream = new TransactionStream(new Rng(1), { accounts: 50, fraudRate: 0.05, start: Date.UTC(2025, 0, 1), end: Date.UTC(2025, 0, 8) })
  for (let r = stream.next(); r !== undefined; r = stream.next()) {
    const s = decodeTransaction(record(JSON.stringify(r.value)))
    assert.ok(s.ok, s.ok ? '' : s.poison.message)
    assert.equal(s.transaction.row.cardId, (r.value as SimulatedTransaction).card_id)
  }
})

test('an account state round-trips through its changelog bytes exactly; other bytes are refused with a code', () => {
  const a = emptyAccount()
  const t0 = Date.UTC(2025, 0, 1)
  const rng = new Rng(3)
  for (let i = 0; i < 40; i++) applyTransaction(a, { time: t0 + rng.int(0, 86_400_000 * 3), amount: rng.lognormal(40, 0.7), country: i % 9 === 0 ? 'FR' : 'DE', category: ['grocery', 'fuel', 'travel'][i % 3]!, channel: 'pos' })
  const original: AccountRecord = { profile: a, offsets: { 'transactions:0': 41, 'transactions:2': 7 }, recent: ['T-39', 'T-40'] }
  const bytes = encodeAccount(original)
  assert.equal(bytes[0], 1, 'version byte')
  assert.ok(bytes.length < 450, `${bytes.length} bytes`)
  assert.deepEqual(decodeAccount(bytes), original)
  assert.deepEqual(encodeAccount(decodeAccount(bytes)), bytes)
  assert.deepEqual(decodeAccount(encodeAccount(emptyAccountRecord())), emptyAccountRecord())
  const features = (r: AccountRecord): Float64Array => {
    const out = new Float64Array(FRAUD_FEATURES)
    fraudFeatures(r.profile, { time: t0 + 5 * 86_400_000, amount: 900, country: 'BR', category: 'jewelry', channel: 'online' }, out)
    return out
  }
  assert.deepEqual(features(decodeAccount(bytes)), features(original))
  for (const bad of [Buffer.alloc(0), Buffer.from([2, 0x5b, 0x5d]), Buffer.concat([Buffer.from([1]), Buffer.from('{"count":1}')]), Buffer.concat([Buffer.from([1]), Buffer.from('[1,2')])]) {
    assert.throws(() => decodeAccount(bad), (e: unknown) => e instanceof ChurnflowError && e.code === ErrorCodes.ACCOUNT_STATE_INVALID)
  }
})

/** A simulated stream as Kafka would hold it: keyed by account over three partitions, offsets per partition. */
function simulatedTopic (seed: number, days: number): { records: SourceRecord[][], training: TrainingTransaction[] } {
  const start = Date.UTC(2025, 0, 1)
  const stream = new TransactionStream(new Rng(seed), { accounts: 300, fraudRate: 0.02, start, end: start + days * 86_400_000 })
  const partitions: SourceRecord[][] = [[], [], []]
  const training: TrainingTransaction[] = []
  for (let r = stream.next(); r !== undefined; r = stream.next()) {
    const tx = r.value as SimulatedTransaction
    const p = partitions[Number(tx.account_id.slice(4)) % 3]!
    p.push(record(JSON.stringify(tx), p.length, Number(tx.account_id.slice(4)) % 3))
    training.push({ facts: factsOf(tx)!, account: tx.account_id, id: tx.transaction_id })
  }
  return { records: partitions, training }
}

/** Runs partitions through the batch step as a runtime would: batches of `size`, accounts stored after each as changelog bytes. */
async function drain (partitions: readonly SourceRecord[][], size: number, store: Map<string, Buffer>, ctx = context()): Promise<Map<string, Float64Array>> {
  const features = new Map<string, Float64Array>()
  for (const records of partitions) {
    for (let i = 0; i < records.length; i += size) {
      const batch = decodeTransactions(records.slice(i, i + size))
      const loaded = new Map<string, AccountRecord>()
      for (const id of accountIds(batch)) {
        const bytes = store.get(id)
        if (bytes !== undefined) loaded.set(id, decodeAccount(bytes))
      }
      const result = await fraudBatch(batch, loaded, ctx)
      for (const s of result.scored) features.set(s.transaction.row.transactionId, s.features)
      for (const [id, account] of result.accounts) store.set(id, encodeAccount(account))
    }
  }
  return features
}

test('the pipeline computes, for every transaction, exactly the features the model was trained on', async () => {
  const { records, training } = simulatedTopic(21, 14)
  assert.ok(training.length > 4000, `${training.length} transactions`)
  const pipeline = await drain(records, 100, new Map())
  const { x } = trainingFeatures(training)
  assert.equal(pipeline.size, training.length)
  training.forEach((t, r) => {
    assert.deepEqual(pipeline.get(t.id), x.slice(r * FRAUD_FEATURES, (r + 1) * FRAUD_FEATURES), `features of ${t.id}`)
  })
})

test('replay: a transaction its account has applied is skipped; a crash before the state write recomputes the same scores', async () => {
  const { records } = simulatedTopic(22, 5)
  const clean = await drain(records, 100, new Map())
  // A run that stores its accounts, then "crashes" and restarts 250 records back in each partition.
  const store = new Map<string, Buffer>()
  const firstPart = records.map(p => p.slice(0, Math.floor(p.length / 2)))
  await drain(firstPart, 100, store)
  const replayFrom = records.map(p => p.slice(Math.max(0, Math.floor(p.length / 2) - 250)))
  let duplicates = 0
  const ctx = context()
  const replayed = new Map<string, Float64Array>()
  for (const part of replayFrom) {
    for (let i = 0; i < part.length; i += 100) {
      const batch = decodeTransactions(part.slice(i, i + 100))
      const loaded = new Map([...accountIds(batch)].flatMap(id => store.has(id) ? [[id, decodeAccount(store.get(id)!)] as const] : []))
      const result = await fraudBatch(batch, loaded, ctx)
      duplicates += result.counts.duplicates
      assert.equal(result.transactionRows.length, result.counts.scored)
      for (const s of result.scored) replayed.set(s.transaction.row.transactionId, s.features)
      for (const [id, a] of result.accounts) store.set(id, encodeAccount(a))
    }
  }
  assert.equal(duplicates, replayFrom.reduce((n, _p, i) => n + Math.min(250, Math.floor(records[i]!.length / 2)), 0))
  for (const [id, f] of replayed) assert.deepEqual(f, clean.get(id), `transaction ${id} scores as in the clean run`)
  // The stored accounts equal a clean run's.
  const cleanStore = new Map<string, Buffer>()
  await drain(records, 100, cleanStore)
  assert.deepEqual(new Map([...store].map(([k, v]) => [k, decodeAccount(v).profile])), new Map([...cleanStore].map(([k, v]) => [k, decodeAccount(v).profile])))
})

test('a batch makes one transaction row and one prediction row per transaction, prediction and alert records keyed by account, dead letters with coded headers', async () => {
  const t0 = Date.UTC(2025, 3, 1, 12)
  const habit = Array.from({ length: 30 }, (_, i) => ({ ...validTransaction, transaction_id: `H-${i}`, amount: 40 + (i % 5), timestamp: new Date(t0 + i * 86_400_000 / 2).toISOString() }))
  const strange = { ...validTransaction, transaction_id: 'S-1', amount: 4800, country: 'NG', merchant_category: 'jewelry', channel: 'online', timestamp: new Date(t0 + 16 * 86_400_000).toISOString(), note: 'kept' }
  const values = [...habit.map(h => JSON.stringify(h)), 'garbage', JSON.stringify(strange)]
  const records = values.map((v, i) => record(v, 1000 + i, 2))
  const result = await fraudBatch(records, new Map(), context())
  assert.deepEqual(result.counts, { records: 32, scored: 31, duplicates: 0, deadLettered: 1, fraud: result.counts.fraud })
  assert.equal(result.transactionRows.length, 31)
  assert.equal(result.predictionRows.length, 31)
  const last = result.predictionRows.at(-1)!
  assert.equal(last.transactionId, 'S-1')
  assert.equal(last.prediction, 'fraud', `score ${last.fraudScore}`)
  assert.deepEqual([last.topic, last.partition, last.offset], ['transactions', 2, 1031n])
  assert.ok(Array.isArray(JSON.parse(last.reasons)))
  assert.equal(result.transactionRows.at(-1)!.extra, '{"note":"kept"}')
  const byTopic = Map.groupBy(result.messages, m => m.topic)
  assert.equal(byTopic.get('fraud-predictions')?.length, 31)
  const alerts = byTopic.get('fraud-alerts') ?? []
  assert.equal(alerts.length, result.counts.fraud)
  const alert = JSON.parse(alerts.at(-1)!.value!.toString()) as Record<string, unknown>
  assert.equal(alert.transaction_id, 'S-1')
  assert.equal(alert.alert_type, 'fraud')
  assert.deepEqual(alert.source, { topic: 'transactions', partition: 2, offset: 1031 })
  for (const m of [...byTopic.get('fraud-predictions')!, ...alerts]) assert.equal(m.key!.toString(), 'A-1')
  const [dead] = byTopic.get('transactions-failed')!
  assert.equal(dead!.value!.toString(), 'garbage')
  const headers = new Map([...dead!.headers!].map(([k, v]) => [k.toString(), v.toString()]))
  assert.equal(headers.get(DeadLetterHeaders.ERROR_CODE), 'invalid_json')
  assert.equal(headers.get(DeadLetterHeaders.SOURCE_OFFSET), '1030')
  // The account holds all 31, with its offset.
  const account = result.accounts.get('A-1')!
  assert.equal(account.profile.count, 31)
  assert.deepEqual(account.offsets, { 'transactions:2': 1031 })
  // The same batch again, from the stored account: nothing new.
  const again = await fraudBatch(records, result.accounts, context())
  assert.equal(again.counts.duplicates, 31)
  assert.equal(again.transactionRows.length, 0)
  assert.equal(again.counts.deadLettered, 1, 'poison is poison again: the dead-letter topic may see it twice, never the tables')
  assert.equal(again.accounts.size, 0, 'a replay alone leaves nothing to store')
})

test('the prediction and alert records are the JSON of their objects, byte for byte, whatever the text in them', () => {
  const at = Date.UTC(2026, 0, 1, 12, 30, 15, 250)
  const odd = 'q " \\ \t \n \u0000 \u2028 \ud800 ü 🙂'
  const transactions = [
    { ...validTransaction, transaction_id: `T-${odd}`, account_id: `A-${odd}`, card_id: `C-${odd}`, merchant_id: `M-${odd}`, merchant_category: odd, channel: odd, amount: 1e-7 },
    { ...validTransaction, transaction_id: 'T-2', amount: 123456789.125, card_id: undefined }
  ]
  for (const [i, tx] of transactions.entries()) {
    const d = decodeTransaction(record(JSON.stringify(tx), 9_007_199_254 + i, 4, `topic-${odd}`))
    assert.ok(d.ok, d.ok ? '' : d.poison.message)
    const s: ScoredTransaction = {
      transaction: d.transaction,
      features: new Float64Array(FRAUD_FEATURES),
      score: { fraud_score: 0.9876, prediction: 'fraud', model_version: `v-${odd}`, reasons: [{ feature: 'velocity_10m', value: 3.25, impact: 1.5 }, { feature: odd, value: -0, impact: 0.1 + 0.2 }, { feature: 'amount_z', value: -1e21, impact: 1e-7 }] }
    }
    const row = d.transaction.row
    const common = { transaction_id: row.transactionId, account_id: row.accountId, fraud_score: 0.9876, model_version: `v-${odd}`, reasons: s.score.reasons, amount: row.amount, currency: row.currency }
    const source = { topic: `topic-${odd}`, partition: 4, offset: 9_007_199_254 + i }
    const prediction = fraudPredictionMessage('p', s, at)
    assert.equal(prediction.value?.toString(), JSON.stringify({ ...common, prediction: 'fraud', event_timestamp: isoUtc(row.eventTime), prediction_timestamp: isoUtc(at), source }))
    assert.deepEqual(prediction.key, Buffer.from(row.accountId))
    const alert = fraudAlertMessage('a', s, at)
    assert.equal(alert.value?.toString(), JSON.stringify({
      alert_type: 'fraud', ...common, card_id: row.cardId, merchant_id: row.merchantId, merchant_category: row.merchantCategory,
      channel: row.channel, country: row.country, event_timestamp: isoUtc(row.eventTime), alert_timestamp: isoUtc(at), source
    }))
  }
})

test('a transaction sent twice (same id, another offset) is applied and scored once; an account remembers its last 8 ids', async () => {
  const t0 = Date.UTC(2025, 5, 1)
  const body = (i: number): string => JSON.stringify({ ...validTransaction, transaction_id: `T-${i}`, timestamp: new Date(t0 + i * 60_000).toISOString() })
  const values = [body(1), body(2), body(2), body(3), body(1)]
  const result = await fraudBatch(values.map((v, i) => record(v, i)), new Map(), context())
  assert.deepEqual(result.transactionRows.map(r => r.transactionId), ['T-1', 'T-2', 'T-3'])
  assert.equal(result.counts.duplicates, 2)
  const account = result.accounts.get('A-1')!
  assert.equal(account.profile.count, 3)
  assert.deepEqual(account.offsets, { 'transactions:0': 4 })
  assert.deepEqual(account.recent, ['T-1', 'T-2', 'T-3'])
  // Twelve more: only the last eight ids are kept, so the state stays small.
  const more = await fraudBatch(Array.from({ length: 12 }, (_, i) => record(body(10 + i), 5 + i)), result.accounts, context())
  assert.deepEqual(more.accounts.get('A-1')!.recent, Array.from({ length: 8 }, (_, i) => `T-${14 + i}`))
})

test('two writes in flight: the later one writes its rows beside the earlier, but stores its accounts only after the earlier has succeeded; a failed earlier write fails it too', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'churnflow-fraud-writes-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const { config } = loadConfig({ env: { DATABASE_URL: `sqlite:${join(dir, 'fraud.db')}`, CHURNFLOW_STATE_DIR: dir }, envFile: false })
  const log = createLogger({ level: 'silent', format: 'text', destination: process.stderr })
  let release: () => void = () => undefined
  const gate = new Promise<void>(resolve => { release = resolve })
  let writes = 0
  // The real SQLite store, its first write held and then refused for good.
  const { pipeline, store } = openFraudPipeline(config, log, {
    migrate: true,
    wrapStore: s => ({
      dialect: s.dialect,
      name: s.name,
      ping: () => s.ping(),
      close: () => s.close(),
      [Symbol.asyncDispose]: () => s.close(),
      write: async (transactions, predictions) => {
        if (writes++ > 0) return await s.write(transactions, predictions)
        await gate
        throw new ChurnflowError(ErrorCodes.DATABASE_FAILED, 'the first batch is refused', { retriable: false })
      }
    })
  })
  t.after(() => store.close())
  assert.equal(pipeline.writesInFlight, 2)
  await migrate(config)
  const policy = { maxRetries: 0, baseDelayMs: 1, factor: 1, maxDelayMs: 1 }
  const io = { output: { send: async () => undefined }, dependencies: { kafka: new Dependency('kafka', policy, log), database: new Dependency(store.name, policy, log) }, signal: new AbortController().signal }
  // One account in both batches: the second is computed from the first's account, not yet stored.
  const batch = (from: number): TakenRecord[] => Array.from({ length: 5 }, (_, i) => ({
    ...record(JSON.stringify({ ...validTransaction, transaction_id: `T-${from + i}` }), from + i), key: Buffer.from(validTransaction.account_id), leaderEpoch: 0
  }))
  const first = (await pipeline.prepare(batch(0), io)).write()
  const second = (await pipeline.prepare(batch(5), io)).write()
  first.catch(() => undefined)
  second.catch(() => undefined)
  const db = new DatabaseSync(join(dir, 'fraud.db'), { readOnly: true })
  t.after(() => { db.close() })
  const stored = (): number => Number((db.prepare('SELECT COUNT(*) AS n FROM predictions').get() as { n: number }).n)
  const deadline = Date.now() + 30_000
  while (stored() < 5) {
    assert.ok(Date.now() < deadline, 'the second batch\'s rows were not written while the first was held')
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  release()
  await assert.rejects(first, /the first batch is refused/)
  // Storing its account would have been refused as a partition not held here (no broker, no
  // assignment): the second write fails with the first's error, before touching the state.
  await assert.rejects(second, /the first batch is refused/)
  assert.equal(pipeline.state.get(validTransaction.account_id), undefined)
})
