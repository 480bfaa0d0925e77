import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FraudPatterns, TransactionStream, type SimulatedTransaction, type TransactionTruth } from '../../src/simulator/index.ts'
import { Rng } from '../../src/util/rng.ts'

test('fraud is injected at the asked rate, in all four patterns, each looking like itself', () => {
  const start = Date.UTC(2025, 0, 1)
  const stream = new TransactionStream(new Rng(5), { accounts: 2000, fraudRate: 0.02, start, end: start + 30 * 86_400_000 })
  const rows: { tx: SimulatedTransaction, truth: TransactionTruth }[] = []
  for (let r = stream.next(); r !== undefined; r = stream.next()) rows.push({ tx: r.value as SimulatedTransaction, truth: stream.lastTruth! })
  assert.ok(rows.length > 50_000, `${rows.length} transactions`)
  const fraud = rows.filter(r => r.truth.is_fraud)
  const share = fraud.length / rows.length
  assert.ok(Math.abs(share - 0.02) < 0.004, `fraud share ${share}`)
  for (const p of Object.values(FraudPatterns)) assert.ok(fraud.some(r => r.truth.pattern === p), `pattern ${p} appears`)

  const habit = new Map<string, { amounts: number[], countries: Set<string>, categories: Set<string> }>()
  for (const { tx, truth } of rows) {
    if (truth.is_fraud) continue
    const h = habit.get(tx.account_id) ?? { amounts: [], countries: new Set(), categories: new Set() }
    h.amounts.push(tx.amount)
    h.countries.add(tx.country)
    h.categories.add(tx.merchant_category)
    habit.set(tx.account_id, h)
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
  for (const { tx, truth } of fraud) {
    const h = habit.get(tx.account_id)
    if (h === undefined) continue
    if (truth.pattern === 'amount') assert.ok(tx.amount > 3 * median(h.amounts), `amount ${tx.amount} vs median ${median(h.amounts)}`)
    if (truth.pattern === 'new_country') assert.ok(!h.countries.has(tx.country))
  }
  // Bursts: several transactions on one card within minutes.
  const bursts = fraud.filter(r => r.truth.pattern === 'burst')
  const byAccount = Map.groupBy(bursts, r => r.tx.account_id)
  assert.ok([...byAccount.values()].some(list => list.length >= 5))
})

test('a live stream follows the wall clock: no transaction later than now, ids unique, incidents continue when due', () => {
  const start = Date.UTC(2026, 0, 1, 12)
  const stream = new TransactionStream(new Rng(9), { accounts: 1000, fraudRate: 0.2, start, end: Infinity, live: true })
  // 40,000 transactions in 20 simulated seconds of wall clock: a full-pace producer's view.
  let now = start
  const ids = new Set<string>()
  let last = 0
  let fraudLater = 0
  for (let i = 0; i < 40_000; i++) {
    if (i % 2000 === 0) now += 1000
    const r = stream.next(now)!
    assert.ok(r.time <= now, `transaction ${i} at ${r.time} is after the wall clock ${now}`)
    assert.ok(r.time >= last, 'times stay in order')
    last = r.time
    const tx = r.value as SimulatedTransaction
    assert.ok(!ids.has(tx.transaction_id), `id ${tx.transaction_id} repeats`)
    ids.add(tx.transaction_id)
    if (stream.lastTruth!.is_fraud && r.time > start + 10_000) fraudLater++
  }
  assert.ok(fraudLater > 0)
  // Without the live option the simulated clock runs ahead on its own: days, for this many.
  const simulated = new TransactionStream(new Rng(9), { accounts: 1000, fraudRate: 0.2, start, end: Infinity })
  let t = 0
  for (let i = 0; i < 40_000; i++) t = simulated.next()!.time
  assert.ok(t - start > 86_400_000, 'the simulated clock runs ahead of a live one')
})

test('a live stream started in the past replays simulated time up to the wall clock, then follows it', () => {
  const now = Date.UTC(2026, 0, 2)
  const start = now - 3_600_000
  const stream = new TransactionStream(new Rng(4), { accounts: 5000, fraudRate: 0.01, start, end: Infinity, live: true })
  const times: number[] = []
  for (let i = 0; i < 2000; i++) times.push(stream.next(now)!.time)
  const before = times.filter(t => t < now).length
  // 5,000 accounts make about 380 transactions an hour: those are simulated, the rest are now.
  assert.ok(before > 200 && before < 600, `${before} transactions before now`)
  assert.ok(times.every(t => t <= now))
  assert.ok(new Set(times.slice(0, before)).size > before * 0.9, 'history keeps its own spread-out times')
})
