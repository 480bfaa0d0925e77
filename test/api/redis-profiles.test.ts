import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildApi } from '../../src/api/index.ts'
import { defaultBands, ModelHolder, shippedChurnModelPath } from '../../src/churn/index.ts'
import { createLogger } from '../../src/logging/index.ts'
import { CustomerReader } from '../../src/processor/index.ts'
import { applyEvent, emptyProfile, profileEventOf, RedisProfileStore, RiskTriggers, type CurrentRisk, type ProfileRecord } from '../../src/profile/index.ts'
import { redisStore } from '../helpers/services.ts'

const silent = createLogger({ level: 'silent', format: 'json' })

test('profiles round-trip through Redis hashes, field for field', async t => {
  const store = await redisStore(t)
  if (store === undefined) return
  const p = emptyProfile()
  applyEvent(p, profileEventOf({ event_type: 'order_placed', timestamp: '2024-01-15T10:30:00.123Z', data: { order_value: 12.34 } })!)
  applyEvent(p, profileEventOf({ event_type: 'bounce', timestamp: '2024-01-16T10:30:00Z', metadata: { session_length: 0.7 } })!)
  await store.put('CUST-777', p)
  assert.deepEqual(await store.get('CUST-777'), p)
  assert.equal(await store.get('CUST-nobody'), undefined)
  assert.equal(await store.clear(), 1)
  assert.equal(await store.get('CUST-777'), undefined)
})

test('the API scores an event on the customer\'s Redis profile; a Redis that is down is a 503, not a 500', async t => {
  const store = await redisStore(t)
  if (store === undefined) return
  const loyal = emptyProfile()
  for (let d = 0; d < 60; d += 3) applyEvent(loyal, profileEventOf({ event_type: 'order_placed', timestamp: new Date(Date.UTC(2024, 0, 1) + d * 86_400_000).toISOString(), data: { order_value: 60 } })!)
  await store.put('CUST-LOYAL', loyal)
  const models = new ModelHolder(shippedChurnModelPath, silent)
  const api = buildApi({ models, log: silent, profiles: store })
  t.after(() => api.close())
  const event = { event_type: 'product_view', timestamp: '2024-03-01T09:00:00Z' }
  const withHistory = (await api.inject({ method: 'POST', url: '/predict-churn', payload: { ...event, user_id: 'CUST-LOYAL' } })).json() as { churn_score: number, profile: string }
  const stranger = (await api.inject({ method: 'POST', url: '/predict-churn', payload: { ...event, user_id: 'CUST-NEW' } })).json() as { churn_score: number, profile: string }
  assert.equal(withHistory.profile, 'profile')
  assert.equal(stranger.profile, 'event alone')
  assert.ok(withHistory.churn_score < stranger.churn_score)
  assert.match((await api.inject({ method: 'GET', url: '/health' })).json<{ profile_store: string }>().profile_store, /^redis 127\.0\.0\.1:6379: up$/)

  const down = new RedisProfileStore({ host: '127.0.0.1', port: 1, timeoutMs: 300 })
  t.after(() => down.close())
  const broken = buildApi({ models, log: silent, profiles: down })
  t.after(() => broken.close())
  const health = await broken.inject({ method: 'GET', url: '/health' })
  assert.equal(health.statusCode, 503)
  assert.match(health.json<{ status: string, profile_store: string }>().profile_store, /^redis 127\.0\.0\.1:1: down/)
  const scored = await broken.inject({ method: 'POST', url: '/predict-churn', payload: { ...event, user_id: 'CUST-LOYAL' } })
  assert.equal(scored.statusCode, 503)
  assert.equal(scored.json<{ error: string }>().error, 'profile_store_unavailable')
})

test('the API\'s /customers routes read the processors\' current risk from Redis: ranked, by band, one customer', async t => {
  const store = await redisStore(t)
  if (store === undefined) return
  const models = new ModelHolder(shippedChurnModelPath, silent)
  const bands = models.current.artifact.bands
  const high = bands.find(b => b.name === 'high')?.from ?? 0.6
  const p = emptyProfile()
  applyEvent(p, profileEventOf({ event_type: 'order_placed', timestamp: '2024-01-15T10:30:00Z', data: { order_value: 12 } })!)
  const at = Date.UTC(2024, 1, 15)
  const risk = (score: number): CurrentRisk => ({ score, band: models.current.band(score), modelVersion: models.current.version, at, trigger: RiskTriggers.INACTIVITY, reasons: [{ feature: 'days_since_last', value: 31, impact: 0.4 }] })
  const record = (score: number): ProfileRecord => ({ profile: p, offsets: { 'user-events:0': 1 }, alert: { high: score >= high, lastAt: 0 }, version: 0, risk: risk(score) })
  await store.putMany(new Map([['CUST-A', record(Math.min(0.99, high + 0.2))], ['CUST-B', record(high / 2)], ['CUST-C', record(Math.min(0.95, high + 0.1))]]))
  const api = buildApi({ models, log: silent, profiles: store, customers: new CustomerReader({ profiles: store, bands: () => bands }) })
  t.after(() => api.close())
  const ranked = (await api.inject({ method: 'GET', url: '/customers/at-risk?limit=10' })).json() as { count: number, customers: { customer_id: string, trigger: string, days_silent: number }[] }
  assert.deepEqual(ranked.customers.map(c => c.customer_id), ['CUST-A', 'CUST-C', 'CUST-B'])
  assert.equal(ranked.customers[0]?.trigger, 'inactivity')
  assert.ok((ranked.customers[0]?.days_silent ?? 0) >= 30)
  // Each band by its score range: C's band holds C, and A or B only when they share it.
  const scores = { 'CUST-A': Math.min(0.99, high + 0.2), 'CUST-B': high / 2, 'CUST-C': Math.min(0.95, high + 0.1) }
  const band = models.current.band(scores['CUST-C'])
  const inBand = (await api.inject({ method: 'GET', url: `/customers/at-risk?band=${band}` })).json() as { customers: { customer_id: string }[] }
  assert.deepEqual(inBand.customers.map(c => c.customer_id), ['CUST-A', 'CUST-C'].filter(id => models.current.band(scores[id as keyof typeof scores]) === band))
  assert.equal((await api.inject({ method: 'GET', url: '/customers/at-risk?band=nope' })).statusCode, 400)
  const one = (await api.inject({ method: 'GET', url: '/customers/CUST-B' })).json() as { customer_id: string, profile: { orders: number }, risk: { churn_score: number } }
  assert.equal(one.profile.orders, 1)
  assert.equal(one.risk.churn_score, high / 2)
  assert.equal((await api.inject({ method: 'GET', url: '/customers/CUST-NOBODY' })).statusCode, 404)
})

test('the at-risk ranking from Redis filters by tenure segment, reading further down the sorted set when the top holds too few', async t => {
  const store = await redisStore(t)
  if (store === undefined) return
  const now = Date.UTC(2026, 0, 1)
  const day = 86_400_000
  const records = new Map<string, ProfileRecord>()
  for (let i = 0; i < 30; i++) {
    const profile = emptyProfile()
    // Three customers of long standing, at the bottom of the ranking's top.
    profile.firstSeen = now - (i % 10 === 0 ? 400 : 5) * day
    profile.lastSeen = now - day
    records.set(`R-${i}`, { profile, offsets: {}, alert: { high: false, lastAt: 0 }, risk: { score: i / 100, band: 'low', modelVersion: 'm', at: now - day, trigger: RiskTriggers.EVENT, reasons: [] }, version: 0 })
  }
  assert.deepEqual(await store.putMany(records), [])
  const reader = new CustomerReader({ profiles: store, bands: () => defaultBands, now: () => now })
  const old = await reader.atRisk({ limit: 2, segment: 'over-12-months' })
  assert.deepEqual(old.map(c => [c.customer_id, c.segment, c.tenure_days]), [['R-20', 'over-12-months', 400], ['R-10', 'over-12-months', 400]])
  assert.equal((await reader.atRisk({ limit: 100, segment: 'over-12-months' })).length, 3)
  assert.deepEqual((await reader.atRisk({ limit: 3, segment: 'new' })).map(c => c.customer_id), ['R-29', 'R-28', 'R-27'])
  await assert.rejects(reader.atRisk({ limit: 3, segment: 'veterans' }), RangeError)
})
