import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ModelHolder, shippedChurnModelPath } from '../../src/churn/index.ts'
import { createLogger } from '../../src/logging/index.ts'
import { MemoryProfileStore } from '../../src/profile/index.ts'
import {
  alertPolicy, CustomerReader, DueIndex, INACTIVITY_CHECK, nextDue, prepareBatch, processBatch, silencePolicy, SWEEP_LIMIT, type BatchContext, type BatchResult, type SourceRecord
} from '../../src/processor/index.ts'
import { openPredictionStore, type PredictionRow } from '../../src/sql/index.ts'
import { defaultRetryPolicy, Dependency, type OutMessage } from '../../src/stream/index.ts'

const silent = createLogger({ level: 'silent', format: 'json' })
const models = new ModelHolder(shippedChurnModelPath, silent)
const HOUR = 3_600_000
const DAY = 24 * HOUR
const START = Date.UTC(2024, 2, 1)

test('the due index gives the customers due in time order, once, skipping the times they moved away from', () => {
  const index = new DueIndex()
  index.set('a', 300)
  index.set('b', 100)
  index.set('c', 200)
  index.set('b', 400) // b moved: its entry at 100 is stale
  index.set('d', undefined)
  assert.equal(index.size, 3)
  assert.equal(index.peek(), 200)
  assert.deepEqual(index.takeDue(350), ['c', 'a'])
  assert.deepEqual(index.takeDue(350), [])
  assert.deepEqual(index.takeDue(1000), ['b'])
  assert.equal(index.size, 0)
  assert.equal(index.peek(), Number.POSITIVE_INFINITY)
  // Many moves of the same customers: stale entries are compacted away, and order holds.
  for (let round = 0; round < 50; round++) for (let i = 0; i < 100; i++) index.set(`c${i}`, 10_000 + round * 100 + ((i * 37) % 100))
  assert.ok(index.entries <= 2 * index.size + 1024, `${index.entries} heap entries for ${index.size} customers`)
  const due = index.takeDue(Number.MAX_SAFE_INTEGER)
  assert.equal(due.length, 100)
  assert.equal(new Set(due).size, 100)
})

test('nextDue walks the steps from the last activity, and ends after the last step', () => {
  const policy = silencePolicy({ stepsMs: [DAY, 3 * DAY], liveWindowHours: 24 })
  assert.equal(nextDue(policy, START, 0), START + DAY)
  assert.equal(nextDue(policy, START, 1), START + 3 * DAY)
  assert.equal(nextDue(policy, START, 2), undefined)
  assert.equal(nextDue(policy, 0, 0), undefined)
})

interface Harness { ctx: BatchContext, store: MemoryProfileStore, rows: PredictionRow[], published: OutMessage[], index: DueIndex }

/** A batch context on one partition with silence sweeps: profiles in memory, rows collected from a SQLite table in memory. */
async function harness (enter: number): Promise<Harness> {
  const store = new MemoryProfileStore()
  const predictions = openPredictionStore({ databaseUrl: 'sqlite::memory:', dbHost: undefined, dbPort: 3306, dbUser: 'root', dbPassword: '', dbName: 'x', stateDir: '/tmp' })
  await predictions.ensureTable()
  const rows: PredictionRow[] = []
  const insert = predictions.insert.bind(predictions)
  const published: OutMessage[] = []
  const dep = (name: string): Dependency => new Dependency(name, defaultRetryPolicy, silent)
  const index = new DueIndex()
  const ctx: BatchContext = {
    profiles: store,
    predictions: Object.assign(Object.create(predictions) as typeof predictions, {
      insert: async (r: readonly PredictionRow[]) => {
        const inserted = await insert(r)
        rows.push(...r)
        return inserted
      }
    }),
    output: { send: async m => { published.push(...m) } },
    scorer: { kind: 'model', name: 'model', current: models.current },
    alerts: alertPolicy({ enter, hysteresis: 0.05, cooldownHours: 24 }),
    topics: { predictions: 'p', alerts: 'a', deadLetter: t => `${t}-failed`, streamOf: () => 'user-events' },
    scoredCustomerTypes: new Set(),
    dependencies: { kafka: dep('kafka'), database: dep('db'), profiles: dep('profiles'), scoring: undefined },
    signal: new AbortController().signal,
    silence: { policy: silencePolicy({ stepsMs: [DAY, 2 * DAY, 3 * DAY, 5 * DAY, 7 * DAY], liveWindowHours: 24 }), index: p => p === 0 ? index : undefined, partitions: () => [0] }
  }
  return { ctx, store, rows, published, index }
}

/**
 * Ten days on partition 0: `active` customers come every two hours; `quiet` ones come on the
 * first day only; a steady stream of other customers moves the partition's event time on.
 */
function population (): SourceRecord[] {
  const out: SourceRecord[] = []
  let offset = 0n
  const event = (user: string, time: number, type = 'product_view'): void => {
    out.push({ topic: 'user-events', partition: 0, offset: offset++, key: Buffer.from(user), value: Buffer.from(JSON.stringify({ user_id: user, event_type: type, timestamp: new Date(time).toISOString(), metadata: { session_length: 3 } })), headers: undefined, timestamp: time })
  }
  for (let t = START; t < START + 10 * DAY; t += HOUR) {
    const hour = (t - START) / HOUR
    if (hour % 2 === 0) for (const a of ['active-1', 'active-2']) event(a, t + 60_000, hour % 4 === 0 ? 'add_to_cart' : 'product_view')
    if (hour < 20) for (const q of ['quiet-1', 'quiet-2', 'quiet-3']) event(q, t + 120_000, hour % 3 === 0 ? 'checkout' : 'product_view')
    event(`passer-${hour % 7}`, t + 180_000)
  }
  return out
}

const checkKey = (r: PredictionRow): string => `${r.userId} ${r.topic}:${r.partition}:${r.offset} ${r.churnScore}`

async function inBatches (h: Harness, records: readonly SourceRecord[], size: number): Promise<BatchResult[]> {
  const results: BatchResult[] = []
  for (let i = 0; i < records.length; i += size) results.push(await processBatch(records.slice(i, i + size), h.ctx))
  return results
}

test('silence sweeps: quiet customers get inactivity checks and a silence alert, active ones none; batching and replays change nothing', async () => {
  // The alert threshold between a quiet customer's score on their last day and a week later:
  // silence, and nothing else, takes them over it.
  const probe = new MemoryProfileStore()
  const lastDay = await harness(2)
  lastDay.ctx = { ...lastDay.ctx, profiles: probe }
  await processBatch(population().filter(r => r.key?.toString() === 'quiet-1'), lastDay.ctx)
  const quiet = (await probe.getMany(['quiet-1'])).get('quiet-1')
  assert.ok(quiet?.risk !== undefined)
  const after = models.current.score(quiet.profile, quiet.profile.lastSeen + 7 * DAY).churn_score
  assert.ok(after > quiet.risk.score + 0.02, `a week of silence raises the risk (${quiet.risk.score} → ${after})`)
  const enter = (quiet.risk.score + after) / 2

  const records = population()
  const whole = await harness(enter)
  const [result] = await inBatches(whole, records, records.length)
  const checks = whole.rows.filter(r => r.eventType === INACTIVITY_CHECK)
  const byCustomer = new Map<string, PredictionRow[]>()
  for (const r of checks) byCustomer.set(r.userId, [...byCustomer.get(r.userId) ?? [], r])
  for (const q of ['quiet-1', 'quiet-2', 'quiet-3']) {
    const mine = byCustomer.get(q) ?? []
    // Last seen in hour 19; the partition runs to day 10: steps 1, 2, 3, 5 and 7 days have passed.
    assert.deepEqual(mine.map(r => JSON.parse(r.metadata as string).silence_days), [1, 2, 3, 5, 7], q)
    assert.ok(mine.every(r => r.topic.startsWith('user-events/silence-')), 'keyed by the record the silence follows')
    assert.equal(new Set(mine.map(r => `${r.topic}:${r.offset}`)).size, mine.length)
    const scores = mine.map(r => r.churnScore)
    assert.ok((scores.at(-1) as number) > (scores[0] as number), `the risk rises over a week of silence: ${scores.join(', ')}`)
  }
  for (const a of ['active-1', 'active-2']) assert.equal(byCustomer.get(a), undefined, `${a} stays active`)
  const silenceAlerts = whole.published.filter(m => m.topic === 'a').map(m => JSON.parse(m.value?.toString() as string) as { reason?: string, customer_id: string })
    .filter(a => a.reason === 'silence')
  assert.deepEqual([...new Set(silenceAlerts.map(a => a.customer_id))].sort(), ['quiet-1', 'quiet-2', 'quiet-3'])
  const checkRecords = whole.published.filter(m => m.topic === 'p').map(m => JSON.parse(m.value?.toString() as string) as { trigger?: string }).filter(p => p.trigger === 'inactivity')
  assert.equal(checkRecords.length, checks.length)
  assert.equal(result?.checks.length, checks.length)

  // The same stream in small batches, and then again from the start (a replay): the same checks, none twice.
  const small = await harness(enter)
  await inBatches(small, records, 37)
  assert.deepEqual(small.rows.filter(r => r.eventType === INACTIVITY_CHECK).map(checkKey).sort(), checks.map(checkKey).sort())
  const replay = await inBatches(small, records, 500)
  assert.equal(replay.reduce((n, r) => n + r.rowsInserted, 0), 0, 'a replay inserted rows')
  assert.equal(replay.reduce((n, r) => n + r.checks.length, 0), 0, 'a replay re-scored a silence step')

  // The current risk: every scored customer is ranked, silent ones by their latest silence step, above the active ones.
  const reader = new CustomerReader({ profiles: whole.store, bands: () => models.current.artifact.bands, watermarkOf: () => whole.index.watermark })
  const all = await reader.atRisk({ limit: 100 })
  assert.equal(all.length, 12)
  assert.ok(all.every((c, i) => i === 0 || c.churn_score <= (all[i - 1] as typeof c).churn_score), 'ranked by current risk')
  const rank = (id: string): number => all.findIndex(c => c.customer_id === id)
  for (const q of ['quiet-1', 'quiet-2', 'quiet-3']) {
    const c = all[rank(q)] as (typeof all)[number]
    assert.equal(c.trigger, 'inactivity')
    assert.ok((c.days_silent as number) > 9, `${q} silent ${c.days_silent} days`)
    assert.ok(c.reasons.length > 0)
    for (const a of ['active-1', 'active-2']) assert.ok(rank(q) < rank(a), `${q} ranks above ${a}`)
  }
  assert.deepEqual((await reader.atRisk({ limit: 3 })).map(c => c.customer_id), all.slice(0, 3).map(c => c.customer_id))
  const high = await reader.atRisk({ limit: 100, band: 'high' })
  assert.ok(high.every(c => c.risk_band === 'high'))
  await assert.rejects(reader.atRisk({ limit: 10, band: 'purple' }), /unknown band/)
  const page = await reader.customer('quiet-2')
  assert.equal(page?.risk?.trigger, 'inactivity')
  assert.equal(page?.alert.high_risk, true)
})

test('an idle live partition moves on by the wall clock; an old history does not', async () => {
  const h = await harness(2)
  const now = Date.now()
  const events = (base: number): SourceRecord[] => [0, 1].map(i => ({
    topic: 'user-events', partition: 0, offset: BigInt(i), key: Buffer.from(`u${i}`), headers: undefined, timestamp: base,
    value: Buffer.from(JSON.stringify({ user_id: `u${i}`, event_type: 'product_view', timestamp: new Date(base - i * 2 * DAY).toISOString() }))
  }))
  // u1's last event was two days before u0's; with the partition live, the wall clock passes its first step.
  h.ctx = { ...h.ctx, silence: { ...h.ctx.silence!, policy: silencePolicy({ stepsMs: [DAY], liveWindowHours: 24 }) } }
  await processBatch(events(now - HOUR), h.ctx)
  // Event time alone: u1's step (due a day before the watermark) was scored with the batch.
  assert.deepEqual(h.rows.filter(r => r.eventType === INACTIVITY_CHECK).map(r => r.userId), ['u1'])
  // Idle, every second in a processor: here at two moments, half a day apart.
  await (await prepareBatch([], h.ctx, new Map(), { idleAt: now + 12 * HOUR })).write()
  assert.deepEqual(h.rows.filter(r => r.eventType === INACTIVITY_CHECK).map(r => r.userId), ['u1'], 'nothing due yet')
  await (await prepareBatch([], h.ctx, new Map(), { idleAt: now + DAY })).write()
  assert.deepEqual(h.rows.filter(r => r.eventType === INACTIVITY_CHECK).map(r => r.userId), ['u1', 'u0'], 'the wall clock moved the live partition on')

  const old = await harness(2)
  old.ctx = { ...old.ctx, silence: { ...old.ctx.silence!, policy: silencePolicy({ stepsMs: [DAY], liveWindowHours: 24 }) } }
  await processBatch(events(START), old.ctx)
  await (await prepareBatch([], old.ctx, new Map(), { idleAt: now })).write()
  assert.deepEqual(old.rows.filter(r => r.eventType === INACTIVITY_CHECK).map(r => r.userId), ['u1'], 'a history years old is not live: no wall-clock sweep')
})

test('a watermark that jumps makes many customers due at once: they are swept SWEEP_LIMIT customers a batch, all of them in the end', async () => {
  const h = await harness(2)
  const customers = SWEEP_LIMIT + 1200
  const records: SourceRecord[] = []
  for (let i = 0; i < customers; i++) {
    const time = START + i * 1000
    records.push({ topic: 'user-events', partition: 0, offset: BigInt(i), key: Buffer.from(`c${i}`), headers: undefined, timestamp: time, value: Buffer.from(JSON.stringify({ user_id: `c${i}`, event_type: 'product_view', timestamp: new Date(time).toISOString() })) })
  }
  await processBatch(records, h.ctx)
  assert.equal(h.rows.filter(r => r.eventType === INACTIVITY_CHECK).length, 0)
  // Two days and a bit later: each customer owes its 1-day and 2-day steps.
  h.index.watermark += 2 * DAY + HOUR
  const first = await (await prepareBatch([], h.ctx, new Map(), { idleAt: 0 })).write()
  assert.equal(new Set(first.checks.map(c => c.customerId)).size, SWEEP_LIMIT)
  assert.equal(first.checks.length, 2 * SWEEP_LIMIT)
  const second = await (await prepareBatch([], h.ctx, new Map(), { idleAt: 0 })).write()
  assert.equal(new Set(second.checks.map(c => c.customerId)).size, 1200)
  const third = await (await prepareBatch([], h.ctx, new Map(), { idleAt: 0 })).write()
  assert.equal(third.checks.length, 0)
  assert.equal(h.rows.filter(r => r.eventType === INACTIVITY_CHECK).length, 2 * customers)
})
