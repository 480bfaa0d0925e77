import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseEventTime } from '../../src/events/index.ts'
import { expm, HiddenStates, noPurchaseProbability, Population, stateAt, trueChurnProbability, type ChurnRates, type CustomerTruth } from '../../src/simulator/index.ts'
import { Rng } from '../../src/util/rng.ts'

const DAY = 86_400_000
const start = Date.UTC(2025, 0, 1)

interface History { events: { type: string, time: number }[] }

function simulate (customers: number, days: number, seed: number): { histories: Map<string, History>, truth: Map<string, CustomerTruth>, count: number } {
  const population = new Population(new Rng(seed), { customers, start, end: start + days * DAY })
  const histories = new Map<string, History>()
  let last = -Infinity
  let count = 0
  const lastPerCustomer = new Map<string, number>()
  for (let r = population.next(); r !== undefined; r = population.next()) {
    count++
    assert.ok(r.time >= last, 'events come in time order')
    last = r.time
    assert.ok(r.time > (lastPerCustomer.get(r.key) ?? -Infinity), 'a customer\'s timestamps strictly increase')
    lastPerCustomer.set(r.key, r.time)
    assert.equal(parseEventTime((r.value as { timestamp: string }).timestamp), r.time)
    const h = histories.get(r.key) ?? { events: [] }
    h.events.push({ type: (r.value as { event_type: string }).event_type, time: r.time })
    histories.set(r.key, h)
  }
  return { histories, truth: new Map(population.truth().map(t => [t.customer_id, t])), count }
}

/** Area under the ROC curve of scores against 0/1 labels (ties count half). */
function auc (scores: readonly number[], labels: readonly boolean[]): number {
  const pairs = scores.map((s, i) => [s, labels[i]] as const).sort((a, b) => a[0] - b[0])
  let rankSum = 0
  let positives = 0
  for (let i = 0; i < pairs.length;) {
    let j = i
    while (j < pairs.length && pairs[j]![0] === pairs[i]![0]) j++
    const rank = (i + j + 1) / 2
    for (let k = i; k < j; k++) if (pairs[k]![1]) { rankSum += rank; positives++ }
    i = j
  }
  const negatives = pairs.length - positives
  return (rankSum - positives * (positives + 1) / 2) / (positives * negatives)
}

test('expm agrees with the exponential of a diagonal and of a 2x2 rotation generator', () => {
  const d = expm([[-1, 0, 0], [0, -2, 0], [0, 0, 0.5]])
  assert.ok(Math.abs(d[0]![0]! - Math.exp(-1)) < 1e-12 && Math.abs(d[1]![1]! - Math.exp(-2)) < 1e-12 && Math.abs(d[2]![2]! - Math.exp(0.5)) < 1e-12)
  const r = expm([[0, -Math.PI / 2], [Math.PI / 2, 0]])
  assert.ok(Math.abs(r[0]![0]!) < 1e-12 && Math.abs(r[1]![0]! - 1) < 1e-12)
})

test('the closed-form churn probability matches a Monte Carlo run of the same hidden process', () => {
  const rates: ChurnRates = { drift: 0.02, recover: 0.03, churn: 0.06, purchaseEngaged: 0.08, purchaseDrifting: 0.01 }
  const rng = new Rng(77)
  for (const initial of [HiddenStates.ENGAGED, HiddenStates.DRIFTING]) {
    let none = 0
    const runs = 40_000
    for (let i = 0; i < runs; i++) {
      let t = 0
      let state: number = initial
      let bought = false
      while (!bought && state !== HiddenStates.CHURNED) {
        const out = state === 0 ? [rates.drift, rates.purchaseEngaged] : [rates.recover + rates.churn, rates.purchaseDrifting]
        t += rng.exponential(out[0]! + out[1]!)
        if (t > 30) break
        if (rng.next() * (out[0]! + out[1]!) < out[1]!) bought = true
        else state = state === 0 ? 1 : (rng.next() * (rates.recover + rates.churn) < rates.recover ? 0 : 2)
      }
      if (!bought) none++
    }
    const exact = noPurchaseProbability(rates, initial, 30)
    assert.ok(Math.abs(none / runs - exact) < 0.01, `state ${initial}: Monte Carlo ${none / runs} vs exact ${exact}`)
  }
  assert.equal(noPurchaseProbability(rates, HiddenStates.CHURNED, 30), 1)
})

test('the truth is calibrated on the population itself, and churners behave differently (churn is learnable)', () => {
  const { histories, truth, count } = simulate(3000, 150, 2024)
  assert.ok(count > 100_000, `${count} events`)
  const cutoff = start + 120 * DAY
  const horizon = 30
  const predicted: number[] = []
  const labels: boolean[] = []
  const daysSincePurchase: number[] = []
  for (const [id, t] of truth) {
    const events = histories.get(id)?.events ?? []
    const purchases = events.filter(e => e.type === 'checkout' || e.type === 'order_placed')
    const label = !purchases.some(e => e.time > cutoff && e.time <= cutoff + horizon * DAY)
    predicted.push(trueChurnProbability(t, cutoff, horizon))
    labels.push(label)
    const lastPurchase = Math.max(start - 60 * DAY, ...purchases.filter(e => e.time <= cutoff).map(e => e.time))
    daysSincePurchase.push((cutoff - lastPurchase) / DAY)
  }
  const meanPredicted = predicted.reduce((a, b) => a + b, 0) / predicted.length
  const observed = labels.filter(Boolean).length / labels.length
  assert.ok(Math.abs(meanPredicted - observed) < 0.03, `mean true probability ${meanPredicted.toFixed(3)} vs observed churn ${observed.toFixed(3)}`)
  const oracle = auc(predicted, labels)
  assert.ok(oracle > 0.85, `oracle AUC ${oracle}`)
  // A one-feature rule already sees churn coming: the signal is in the events, not only in the hidden state.
  const simple = auc(daysSincePurchase, labels)
  assert.ok(simple > 0.75, `days-since-last-purchase AUC ${simple}`)

  // Customers who really churned, in their last 20 days, against those who stayed, over the period.
  const mix = { churned: new Map<string, number>(), stayed: new Map<string, number>() }
  const days = { churned: 0, stayed: 0 }
  for (const [id, t] of truth) {
    const events = histories.get(id)?.events ?? []
    const churnedAt = t.churned_at === null ? undefined : parseEventTime(t.churned_at)!
    const window = churnedAt === undefined ? events : events.filter(e => e.time > churnedAt - 20 * DAY && e.time <= churnedAt)
    const bucket = churnedAt === undefined ? mix.stayed : mix.churned
    days[churnedAt === undefined ? 'stayed' : 'churned'] += churnedAt === undefined ? 150 : Math.min(20, (churnedAt - start) / DAY)
    for (const e of window) bucket.set(e.type, (bucket.get(e.type) ?? 0) + 1)
  }
  const share = (m: Map<string, number>, type: string, of: string[]): number => (m.get(type) ?? 0) / of.reduce((s, k) => s + (m.get(k) ?? 0), 0)
  const sessionTypes = ['bounce', 'product_view']
  const rate = (bucket: 'churned' | 'stayed', type: string): number => (mix[bucket].get(type) ?? 0) / days[bucket]
  assert.ok(share(mix.churned, 'bounce', sessionTypes) > 2 * share(mix.stayed, 'bounce', sessionTypes),
    `bounce share: churned ${share(mix.churned, 'bounce', sessionTypes).toFixed(3)}, stayed ${share(mix.stayed, 'bounce', sessionTypes).toFixed(3)}`)
  assert.ok(rate('churned', 'support_ticket_created') > 2 * rate('stayed', 'support_ticket_created'), 'churners open more tickets')
  assert.ok(rate('churned', 'order_placed') < 0.5 * rate('stayed', 'order_placed'), 'churners buy less')
  assert.ok(rate('churned', 'email_opened') < 0.6 * rate('stayed', 'email_opened'), 'churners open fewer emails')
})

test('churned customers go quiet after churning, and the truth says when', () => {
  const { histories, truth } = simulate(1500, 120, 7)
  const churned = [...truth.values()].filter(t => t.churned)
  assert.ok(churned.length > 100 && churned.length < 1000, `${churned.length} of 1500 churned`)
  for (const t of churned) {
    const at = parseEventTime(t.churned_at!)!
    assert.equal(stateAt(t, at), HiddenStates.CHURNED)
    const after = (histories.get(t.customer_id)?.events ?? []).filter(e => e.time > at)
    assert.ok(after.every(e => e.type === 'subscription_cancelled') && after.length <= 1, `${t.customer_id} after churn: ${after.map(e => e.type).join(',')}`)
  }
})
