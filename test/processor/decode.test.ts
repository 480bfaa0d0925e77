import assert from 'node:assert/strict'
import { test } from 'node:test'
import { alertPolicy, decideAlert, decodeRecord, type SourceRecord } from '../../src/processor/index.ts'
import { defaultRetryPolicy, Dependency, isRetriable } from '../../src/stream/index.ts'
import { backoffDelay } from '../../src/util/backoff.ts'
import { Streams } from '../../src/events/index.ts'
import { createLogger } from '../../src/logging/index.ts'
import { ChurnflowError, ErrorCodes, StoppedWhileWaiting } from '../../src/errors.ts'
import { poisonCorpus } from '../helpers/events.ts'

const silent = createLogger({ level: 'silent', format: 'json' })
const record = (value: string | undefined, topic = 'user-events'): SourceRecord =>
  ({ topic, partition: 0, offset: 0n, key: undefined, value: value === undefined ? undefined : Buffer.from(value), headers: undefined, timestamp: 0 })

test('seed 000/002/003 user-events decode: int or string ids, timestamps with or without a zone', () => {
  const cases = [
    { body: { user_id: 123, event_type: 'bounce', timestamp: '2024-01-15T10:30:00Z', metadata: { page: '/checkout', session_length: 1.2 } }, id: '123', time: Date.UTC(2024, 0, 15, 10, 30) },
    { body: { user_id: 'u-9', event_type: 'checkout', timestamp: '2024-01-15T10:30:00.123456' }, id: 'u-9', time: Date.UTC(2024, 0, 15, 10, 30, 0, 123) },
    { body: { user_id: 7, event_type: 'add_to_cart', timestamp: '2024-01-15T12:30:00+02:00', metadata: null }, id: '7', time: Date.UTC(2024, 0, 15, 10, 30) }
  ]
  for (const c of cases) {
    const d = decodeRecord(record(JSON.stringify(c.body)), Streams.USER_EVENTS)
    assert.ok(d.ok, d.ok ? '' : d.poison.message)
    assert.equal(d.event.customerId, c.id)
    assert.equal(d.event.rawId, c.body.user_id)
    assert.equal(d.event.time, c.time)
  }
})

test('seed 001 customer-events decode; a data field of the wrong type is poison, a missing one is not', () => {
  const ok = decodeRecord(record(JSON.stringify({ event_id: 'CUST-001_1', event_type: 'order_placed', customer_id: 'CUST-001', timestamp: '2024-01-15T10:30:00Z', data: { order_id: 'ORD-12345', order_value: 99.99, items_count: 3, payment_method: 'credit_card' } }), 'customer-events'), Streams.CUSTOMER_EVENTS)
  assert.ok(ok.ok)
  assert.equal(ok.event.profileEvent.orderValue, 99.99)
  const sparse = decodeRecord(record(JSON.stringify({ event_id: 'e', event_type: 'login', customer_id: 'C', timestamp: '2024-01-15T10:30:00Z', data: {} })), Streams.CUSTOMER_EVENTS)
  assert.ok(sparse.ok)
  const wrong = decodeRecord(record(JSON.stringify({ event_id: 'e', event_type: 'order_placed', customer_id: 'C', timestamp: '2024-01-15T10:30:00Z', data: { order_value: 'lots' } })), Streams.CUSTOMER_EVENTS)
  assert.ok(!wrong.ok)
  assert.equal(wrong.poison.code, 'invalid_event')
  assert.match(wrong.poison.message, /data\.order_value/)
  const userTypeOnCustomerStream = decodeRecord(record(JSON.stringify({ event_id: 'e', event_type: 'bounce', customer_id: 'C', timestamp: '2024-01-15T10:30:00Z', data: {} })), Streams.CUSTOMER_EVENTS)
  assert.ok(!userTypeOnCustomerStream.ok)
  assert.equal(userTypeOnCustomerStream.poison.code, 'unknown_event_type')
})

test('every poison record gets its code and a message; nothing throws', () => {
  for (const p of poisonCorpus) {
    const d = decodeRecord(record(p.value), Streams.USER_EVENTS)
    assert.ok(!d.ok, p.value)
    assert.equal(d.poison.code, p.code, p.value)
    assert.ok(d.poison.message.length > 5)
  }
  assert.equal((decodeRecord(record(undefined), Streams.USER_EVENTS) as { poison: { code: string } }).poison.code, 'empty_record')
  const proto = decodeRecord(record('{"user_id": 1, "event_type": "bounce", "timestamp": "2024-01-15T10:30:00Z", "__proto__": {"x": 1}}'), Streams.USER_EVENTS)
  assert.ok(proto.ok)
  assert.equal(({} as Record<string, unknown>).x, undefined)
  // Random bytes never crash the decoder.
  for (let i = 0; i < 2000; i++) {
    const bytes = Buffer.from(Array.from({ length: 1 + (i % 64) }, (_v, j) => (i * 31 + j * 17) % 256))
    const d = decodeRecord({ ...record(undefined), value: bytes }, i % 2 === 0 ? Streams.USER_EVENTS : Streams.CUSTOMER_EVENTS)
    assert.equal(d.ok, false)
  }
})

test('alerts: critical events at once, high-risk crossings with hysteresis, one per customer per cool-down', () => {
  const policy = alertPolicy({ enter: 0.6, hysteresis: 0.1, cooldownHours: 24 })
  const H = 3_600_000
  let state = { high: false, lastAt: 0 }
  const step = (type: string, score: number | undefined, time: number): string | undefined => {
    const d = decideAlert(policy, state, type, score, time)
    state = d.state
    return d.alert
  }
  assert.equal(step('product_view', 0.3, 0), undefined)
  assert.equal(step('product_view', 0.65, 1 * H), 'high_risk')
  // Hovering around the threshold: no flapping, no second alert.
  assert.equal(step('product_view', 0.58, 2 * H), undefined)
  assert.equal(state.high, true)
  assert.equal(step('product_view', 0.61, 3 * H), undefined)
  assert.equal(step('product_view', 0.45, 30 * H), undefined)
  assert.equal(state.high, false)
  assert.equal(step('product_view', 0.7, 31 * H), 'high_risk')
  // Within the cool-down a critical event is held back; after it, it goes out.
  assert.equal(step('payment_failed', undefined, 32 * H), undefined)
  assert.equal(step('refund_requested', undefined, 56 * H), 'critical_event')
  const noCooldown = alertPolicy({ enter: 0.6, hysteresis: 0.1, cooldownHours: 0 })
  assert.equal(decideAlert(noCooldown, { high: false, lastAt: 5 }, 'subscription_cancelled', undefined, 6).alert, 'critical_event')
})

test('retries back off exponentially with jitter, then the circuit opens and probes until the dependency is back', async () => {
  const policy = { maxRetries: 2, baseDelayMs: 10, factor: 2, maxDelayMs: 40 }
  const delays = { baseMs: policy.baseDelayMs, factor: policy.factor, maxMs: policy.maxDelayMs }
  assert.equal(backoffDelay(1, delays, () => 0), 5)
  assert.equal(backoffDelay(1, delays, () => 1), 10)
  assert.equal(backoffDelay(3, delays, () => 1), 40)
  assert.equal(backoffDelay(10, delays, () => 1), 40)
  const failures: string[] = []
  const dep = new Dependency('db', policy, silent, name => failures.push(name))
  let calls = 0
  const down = (): Error => new ChurnflowError(ErrorCodes.DATABASE_UNAVAILABLE, 'down', { retriable: true })
  const result = await dep.run(async () => {
    calls++
    if (calls < 6) throw down()
    return 'ok'
  }, new AbortController().signal)
  assert.equal(result, 'ok')
  assert.equal(calls, 6)
  assert.equal(failures.length, 5)
  assert.equal(dep.state, 'up')
  // A bug is not retried.
  await assert.rejects(dep.run(async () => { throw new TypeError('bug') }, new AbortController().signal), TypeError)
  // Stopping while the dependency is down abandons the call.
  const stop = new AbortController()
  setTimeout(() => { stop.abort() }, 100)
  await assert.rejects(dep.run(async () => { throw down() }, stop.signal), StoppedWhileWaiting)
  assert.equal(dep.state, 'down')
  assert.equal(isRetriable(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), true)
  assert.equal(isRetriable(new Error('x')), false)
  assert.equal(defaultRetryPolicy.maxRetries, 3)
})
