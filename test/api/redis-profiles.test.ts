import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildApi } from '../../src/api/index.ts'
import { defaultBands, ModelHolder, shippedChurnModelPath } from '../../src/churn/index.ts'
import { createLogger } from '../../src/logging/index.ts'
import { CustomerReader } from '../../src/processor/index.ts'
import { applyEvent, emptyProfile, profileEventOf, RedisProfileStore, RiskTriggers, type ProfileRecord } from '../../src/profile/index.ts'
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
