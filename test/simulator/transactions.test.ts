import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Transaction } from '../../src/events/index.ts'
import { FraudPatterns, TransactionStream, type TransactionTruth } from '../../src/simulator/index.ts'
import { Rng } from '../../src/util/rng.ts'

test('fraud is injected at the asked rate, in all four patterns, each looking like itself', () => {
  const start = Date.UTC(2025, 0, 1)
  const stream = new TransactionStream(new Rng(5), { accounts: 2000, fraudRate: 0.02, start, end: start + 30 * 86_400_000 })
  const rows: { tx: Transaction, truth: TransactionTruth }[] = []
  for (let r = stream.next(); r !== undefined; r = stream.next()) rows.push({ tx: r.value as Transaction, truth: stream.lastTruth! })
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
