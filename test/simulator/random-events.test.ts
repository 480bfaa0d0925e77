import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  checkCustomerEvent, checkCustomerEventData, checkTransaction, checkUserEvent, customerEventTypes, parseEventTime,
  userEventWeights, type CustomerEvent, type CustomerEventType, type UserEvent
} from '../../src/events/index.ts'
import { Population, RandomCustomerEvents, randomCustomerEventWeights, RandomUserEvents, TransactionStream, type SimRecord } from '../../src/simulator/index.ts'
import { Rng } from '../../src/util/rng.ts'

/** Pearson's chi-square statistic of observed counts against expected shares. */
function chiSquare (observed: ReadonlyMap<string, number>, shares: Readonly<Record<string, number>>): number {
  const total = [...observed.values()].reduce((a, b) => a + b, 0)
  const sum = Object.values(shares).reduce((a, b) => a + b, 0)
  let chi = 0
  for (const [key, share] of Object.entries(shares)) {
    const expected = total * share / sum
    chi += ((observed.get(key) ?? 0) - expected) ** 2 / expected
  }
  return chi
}

function counts (records: readonly SimRecord[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const r of records) {
    const type = (r.value as { event_type: string }).event_type
    m.set(type, (m.get(type) ?? 0) + 1)
  }
  return m
}

const take = (n: number, next: (i: number) => SimRecord | undefined): SimRecord[] =>
  Array.from({ length: n }, (_, i) => next(i)).filter((r): r is SimRecord => r !== undefined)

const now = Date.UTC(2024, 0, 15, 10, 30)

test('seed 003 user-events follow the 40/25/20/15 weights (chi-square, 3 degrees of freedom)', () => {
  const gen = new RandomUserEvents(new Rng(11), { users: 1000, shape: 'seed003' })
  const records = take(200_000, i => gen.next(now + i))
  // 16.27 is the 0.999 quantile of chi-square with 3 degrees of freedom.
  assert.ok(chiSquare(counts(records), userEventWeights) < 16.27)
  const shares = counts(records)
  assert.ok(Math.abs(shares.get('product_view')! / records.length - 0.40) < 0.01)
  assert.ok(Math.abs(shares.get('bounce')! / records.length - 0.15) < 0.01)
})

test('seed 003 events: user_id 1-1000, product_id 1-500, session_length 0.5-30, a UTC timestamp with a Z', () => {
  const gen = new RandomUserEvents(new Rng(3), { users: 1000, shape: 'seed003' })
  for (const r of take(20_000, () => gen.next(now))) {
    const e = r.value as UserEvent
    assert.ok(checkUserEvent.Check(e), JSON.stringify(e))
    assert.ok(typeof e.user_id === 'number' && e.user_id >= 1 && e.user_id <= 1000)
    const meta = e.metadata as { product_id: number, session_length: number }
    assert.ok(Number.isInteger(meta.product_id) && meta.product_id >= 1 && meta.product_id <= 500)
    assert.ok(meta.session_length >= 0.5 && meta.session_length <= 30)
    assert.equal(e.timestamp, '2024-01-15T10:30:00.000Z')
    assert.equal(r.key, String(e.user_id))
  }
})

test('seed 002 events: three types evenly, each with its own metadata and a naive microsecond timestamp', () => {
  const gen = new RandomUserEvents(new Rng(5), { users: 1000, shape: 'seed002' })
  const records = take(60_000, () => gen.next(now))
  assert.ok(chiSquare(counts(records), { add_to_cart: 1, bounce: 1, product_view: 1 }) < 13.82)
  const fields: Record<string, string[]> = {
    add_to_cart: ['page', 'price', 'product_id', 'quantity', 'session_length'],
    bounce: ['device', 'page', 'referrer', 'session_length'],
    product_view: ['category', 'device', 'page', 'price', 'product_id', 'view_duration']
  }
  for (const r of records) {
    const e = r.value as UserEvent
    assert.ok(checkUserEvent.Check(e))
    assert.deepEqual(Object.keys(e.metadata ?? {}).sort(), fields[e.event_type])
    assert.equal(e.timestamp, '2024-01-15T10:30:00.000000')
    if (e.event_type !== 'bounce') assert.match(String((e.metadata as { product_id: string }).product_id), /^PROD-\d{4}$/)
  }
})

test('customer events: all twelve types at their weights, seed 001 ids, every data object valid', () => {
  const gen = new RandomCustomerEvents(new Rng(8), { customers: 1000 })
  const records = take(100_000, i => gen.next(now + Math.floor(i / 50)))
  assert.ok(chiSquare(counts(records), randomCustomerEventWeights) < 32.91, 'chi-square, 11 degrees of freedom, 0.9995')
  const ids = new Set<string>()
  for (const r of records) {
    const e = r.value as CustomerEvent
    assert.ok(checkCustomerEvent.Check(e), JSON.stringify(e))
    assert.ok(checkCustomerEventData[e.event_type].Check(e.data), `${e.event_type} ${JSON.stringify(e.data)}`)
    assert.match(e.customer_id, /^CUST-\d{3,}$/)
    assert.equal(e.event_id, `${e.customer_id}_${parseEventTime(e.timestamp)}`)
    assert.ok(!ids.has(e.event_id), `event_id ${e.event_id} is unique`)
    ids.add(e.event_id)
  }
  assert.deepEqual([...counts(records).keys()].sort(), [...customerEventTypes].sort())
})

test('the same seed gives the same events; another seed other events', () => {
  const run = (seed: number): string[] => {
    const users = new RandomUserEvents(new Rng(seed), { users: 1000, shape: 'seed003' })
    const customers = new RandomCustomerEvents(new Rng(seed), { customers: 100 })
    const start = Date.UTC(2025, 0, 1)
    const population = new Population(new Rng(seed), { customers: 200, start, end: start + 30 * 86_400_000 })
    const tx = new TransactionStream(new Rng(seed), { accounts: 100, fraudRate: 0.05, start, end: start + 5 * 86_400_000 })
    return [
      ...take(500, i => users.next(now + i)), ...take(500, i => customers.next(now + i)),
      ...take(3000, () => population.next()), ...take(3000, () => tx.next())
    ].map(r => `${r.key} ${JSON.stringify(r.value)}`)
  }
  assert.deepEqual(run(42), run(42))
  const other = run(43)
  assert.ok(run(42).filter((line, i) => line === other[i]).length < 10)
})

test('population and transaction events all match their schemas', () => {
  const start = Date.UTC(2025, 0, 1)
  const population = new Population(new Rng(9), { customers: 300, start, end: start + 60 * 86_400_000 })
  const seen = new Set<string>()
  for (let r = population.next(); r !== undefined; r = population.next()) {
    const e = r.value as { event_type: string }
    seen.add(e.event_type)
    if ('customer_id' in r.value) {
      const c = r.value as CustomerEvent
      assert.ok(checkCustomerEvent.Check(c) && checkCustomerEventData[c.event_type as CustomerEventType].Check(c.data), JSON.stringify(c))
    } else {
      assert.ok(checkUserEvent.Check(r.value), JSON.stringify(r.value))
    }
  }
  for (const type of [...Object.keys(userEventWeights), ...customerEventTypes]) assert.ok(seen.has(type), `population emits ${type}`)
  const tx = new TransactionStream(new Rng(9), { accounts: 200, fraudRate: 0.05, start, end: start + 10 * 86_400_000 })
  for (let r = tx.next(); r !== undefined; r = tx.next()) assert.ok(checkTransaction.Check(r.value), JSON.stringify(r.value))
})
