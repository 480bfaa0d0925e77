import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ModelHolder, shippedChurnModelPath } from '../../src/churn/index.ts'
import { createLogger } from '../../src/logging/index.ts'
import { MemoryProfileStore, profileFields } from '../../src/profile/index.ts'
import {
  alertPolicy, decodeRecord, predictionMessage, prepareBatch, processBatch, type BatchContext, type SourceRecord
} from '../../src/processor/index.ts'
import { defaultRetryPolicy, Dependency, type OutMessage } from '../../src/stream/index.ts'
import { openPredictionStore } from '../../src/sql/index.ts'
import { expectedProfiles, mixedEvents, type TestRecord } from '../helpers/events.ts'

const silent = createLogger({ level: 'silent', format: 'json' })
const models = new ModelHolder(shippedChurnModelPath, silent)

/** A batch context on the embedded components: profiles in memory, rows in SQLite in memory, records collected. */
async function context (profiles = new MemoryProfileStore()): Promise<{ ctx: BatchContext, published: OutMessage[] }> {
  const predictions = openPredictionStore({ databaseUrl: 'sqlite::memory:', dbHost: undefined, dbPort: 3306, dbUser: 'root', dbPassword: '', dbName: 'x', stateDir: '/tmp' })
  await predictions.ensureTable()
  const published: OutMessage[] = []
  const dep = (name: string): Dependency => new Dependency(name, defaultRetryPolicy, silent)
  const ctx: BatchContext = {
    profiles,
    predictions,
    output: { send: async m => { published.push(...m) } },
    scorer: { kind: 'model', name: 'model', current: models.current },
    alerts: alertPolicy({ enter: 0.6, hysteresis: 0.1, cooldownHours: 24 }),
    topics: { predictions: 'p', alerts: 'a', deadLetter: t => `${t}-failed`, streamOf: t => t === 'customer-events' ? 'customer-events' : 'user-events' },
    scoredCustomerTypes: new Set(['order_placed', 'payment_failed']),
    dependencies: { kafka: dep('kafka'), database: dep('db'), profiles: dep('profiles'), scoring: undefined },
    signal: new AbortController().signal
  }
  return { ctx, published }
}

/** Kafka-like records: one partition per stream, offsets in order. */
function asRecords (records: readonly TestRecord[]): SourceRecord[] {
  const next = { 'user-events': 0n, 'customer-events': 0n }
  return records.map(r => ({ topic: r.stream, partition: 0, offset: next[r.stream]++, key: Buffer.from(r.key), value: Buffer.from(r.value), headers: undefined, timestamp: r.time }))
}

async function assertProfiles (store: MemoryProfileStore, records: readonly TestRecord[]): Promise<void> {
  const expected = expectedProfiles(records)
  const stored = await store.getMany([...expected.keys()])
  for (const [id, want] of expected) for (const f of profileFields) assert.equal(stored.get(id)?.profile[f], want[f], `${id}.${f}`)
}

test('a replayed batch writes nothing twice and applies nothing twice', async () => {
  const { ctx, published } = await context()
  const events = mixedEvents(600, { seed: 21, users: 30, customers: 20 })
  const records = asRecords(events)
  const first = await processBatch(records, ctx)
  assert.equal(first.applied.length, 600)
  assert.equal(first.rowsInserted, first.predictions)
  const before = published.length
  const again = await processBatch(records, ctx)
  assert.equal(again.applied.length, 0)
  assert.equal(again.duplicates, 600)
  assert.equal(again.rowsInserted, 0)
  assert.equal(published.length, before, 'a replay published again')
  await assertProfiles(ctx.profiles as MemoryProfileStore, events)
})

test('batches prepared while the one before is written give the profiles of one-at-a-time processing', async () => {
  const { ctx } = await context()
  const events = mixedEvents(900, { seed: 22, users: 20, customers: 10 })
  const records = asRecords(events)
  const overlay = new Map()
  const a = await prepareBatch(records.slice(0, 300), ctx, overlay)
  const b = await prepareBatch(records.slice(300, 600), ctx, overlay)
  const ra = await a.write()
  const c = await prepareBatch(records.slice(600), ctx, overlay)
  const rb = await b.write()
  const rc = await c.write()
  assert.equal(ra.conflicts + rb.conflicts + rc.conflicts, 0)
  assert.equal(overlay.size, 0)
  await assertProfiles(ctx.profiles as MemoryProfileStore, events)
})

test('a batch whose profile read spans the end of the write before it starts from the profiles that write stored', async () => {
  /** Finishes the batch before's write while this batch's read is in flight, as a slow store or a busy event loop can. */
  class FinishingDuringRead extends MemoryProfileStore {
    during: (() => Promise<unknown>) | undefined
    override async getMany (ids: readonly string[]): ReturnType<MemoryProfileStore['getMany']> {
      const during = this.during
      this.during = undefined
      if (during !== undefined) await during()
      return super.getMany(ids)
    }
  }
  const store = new FinishingDuringRead()
  const { ctx } = await context(store)
  const events = mixedEvents(900, { seed: 24, users: 40, customers: 20 })
  const records = asRecords(events)
  const overlay = new Map()
  const a = await prepareBatch(records.slice(0, 100), ctx, overlay)
  const inA = new Set(overlay.keys())
  const later = records.slice(100).map(r => decodeRecord(r, ctx.topics.streamOf(r.topic))).flatMap(d => d.ok ? [d.event.customerId] : [])
  assert.ok(later.some(id => inA.has(id)) && later.some(id => !inA.has(id)), 'the second batch has customers of the first and new ones')
  store.during = () => a.write()
  const b = await prepareBatch(records.slice(100), ctx, overlay)
  assert.equal(store.during, undefined, 'the first write finished during the read')
  const rb = await b.write()
  assert.equal(rb.conflicts, 0)
  assert.equal(overlay.size, 0)
  await assertProfiles(store, events)
})

test('two processors on the same events during a rebalance: the late writer re-applies only what is new', async () => {
  const shared = new MemoryProfileStore()
  const one = await context(shared)
  const two = await context(shared)
  const events = mixedEvents(400, { seed: 23, users: 10, customers: 5 })
  const records = asRecords(events)
  // The old owner prepared the first half; the new owner takes everything and writes first.
  const old = await prepareBatch(records.slice(0, 200), one.ctx, new Map())
  const fresh = await prepareBatch(records, two.ctx, new Map())
  await fresh.write()
  const late = await old.write()
  assert.ok(late.conflicts > 0, 'the late write met the newer profiles')
  await assertProfiles(shared, events)
})

test('a prediction\'s key is the customer id: the source record\'s key when it holds exactly that, a new buffer otherwise', () => {
  const score = { churn_score: 0.5, risk_band: 'medium', model_version: 'v', reasons: [] }
  const cases: { id: string | number, key: Buffer | undefined, reused: boolean }[] = [
    { id: 12345, key: Buffer.from('12345'), reused: true },
    { id: 'CUST-001', key: Buffer.from('CUST-001'), reused: true },
    { id: 12345, key: Buffer.from('12346'), reused: false },
    { id: 12345, key: Buffer.from('1234'), reused: false },
    { id: 12345, key: undefined, reused: false },
    // Same length in code units and in bytes, different text: é is two bytes, so "éa" is three.
    { id: 'éa', key: Buffer.from('éa'), reused: false },
    { id: 'é', key: Buffer.from([0xe9]), reused: false },
    { id: 'ü-1', key: Buffer.from('u-1'), reused: false }
  ]
  for (const c of cases) {
    const record: SourceRecord = { topic: 'user-events', partition: 0, offset: 1n, key: c.key, value: Buffer.from(JSON.stringify({ user_id: c.id, event_type: 'bounce', timestamp: '2024-01-15T10:30:00Z' })), headers: undefined, timestamp: 1 }
    const d = decodeRecord(record, 'user-events')
    assert.ok(d.ok)
    const m = predictionMessage('churn-predictions', d.event, score, 0)
    assert.deepEqual(m.key, Buffer.from(String(c.id)), String(c.id))
    assert.equal(m.key === c.key, c.reused, `${String(c.id)} reused`)
  }
})

test('a prediction record is exactly the JSON of its fields, whatever the ids and reasons hold', () => {
  const cases = [
    { topic: 'user-events', value: { user_id: 12345, event_type: 'bounce', timestamp: '2024-01-15T10:30:00', metadata: null } },
    { topic: 'user-events', value: { user_id: 'ü "quoted" \\ back\u2028slash\n', event_type: 'checkout', timestamp: '2024-01-15T10:30:00.123+02:00', metadata: { a: 1 } } },
    { topic: 'customer-events', value: JSON.parse(mixedEvents(30).find(r => r.stream === 'customer-events')?.value ?? '{}') as Record<string, unknown> }
  ]
  const scores = [
    { churn_score: 0.9123, risk_band: 'high', model_version: 'churn-gbt "v2"', reasons: [{ feature: 'days_since_last_purchase', value: 41.5, impact: 0.7 }, { feature: 'x', value: Infinity, impact: 1e-7 }] },
    { churn_score: 0, risk_band: '', model_version: 'remote', reasons: [] },
    { churn_score: -0, risk_band: 'médio "x"', model_version: 'v\u2028\u0001', reasons: [{ feature: 'we"ird\\', value: -0, impact: NaN }, { feature: 'big', value: 1e21, impact: -1.5e-300 }, { feature: 'big', value: -Infinity, impact: 123456789.12345679 }] }
  ]
  for (const [i, c] of cases.entries()) {
    const record: SourceRecord = { topic: c.topic, partition: 3, offset: 9_007_199_254_740_000n + BigInt(i), key: undefined, value: Buffer.from(JSON.stringify(c.value)), headers: undefined, timestamp: 1 }
    const d = decodeRecord(record, c.topic === 'customer-events' ? 'customer-events' : 'user-events')
    assert.ok(d.ok, d.ok ? '' : d.poison.message)
    for (const s of scores) {
      const at = Date.UTC(2024, 0, 16, 8, 0, 0, 7)
      const m = predictionMessage('churn-predictions', d.event, s, at)
      const expected: string = JSON.stringify({
        customer_id: d.event.customerId,
        user_id: d.event.rawId,
        event_type: d.event.eventType,
        churn_score: s.churn_score,
        risk_band: s.risk_band,
        model_version: s.model_version,
        reasons: s.reasons,
        event_timestamp: new Date(d.event.time).toISOString(),
        prediction_timestamp: new Date(at).toISOString(),
        source: { topic: record.topic, partition: record.partition, offset: Number(record.offset) }
      })
      assert.equal(m.value?.toString('utf8'), expected)
      assert.deepEqual(JSON.parse(m.value?.toString('utf8') ?? ''), JSON.parse(expected))
      assert.equal(m.key?.toString('utf8'), d.event.customerId)
      assert.equal(m.timestamp, BigInt(at))
    }
  }
})
