import type { PredictionRow } from '../../src/sql/index.ts'

const DAY = 86_400_000

/** A small deterministic random source (mulberry32), so a seeded table is the same every run. */
export function random (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const types = ['product_view', 'add_to_cart', 'checkout', 'bounce', 'order_placed', 'payment_failed', 'inactivity_check']

/**
 * `count` churn predictions of `customers` customers over `days` days ending at `end`, in event
 * order, as the processor writes them: each customer drifts around a risk of its own, some go
 * quiet (and get inactivity checks), offsets are unique per topic and partition.
 */
export function syntheticPredictions (options: { count: number, customers: number, days: number, end: number, seed?: number, first?: number, topic?: string }): PredictionRow[] {
  const rnd = random(options.seed ?? 1)
  const span = options.days * DAY
  const start = options.end - span
  const base = Array.from({ length: options.customers }, () => rnd() ** 2)
  const rows: PredictionRow[] = []
  for (let i = 0; i < options.count; i++) {
    const c = Math.floor(rnd() * options.customers)
    const t = start + Math.floor((i / options.count) * span)
    const drift = ((t - start) / span) * 0.3 * ((c % 3) - 1)
    const score = Math.min(0.999, Math.max(0.001, (base[c] ?? 0) + drift + (rnd() - 0.5) * 0.1))
    const type = types[Math.floor(rnd() * (rnd() < 0.05 ? types.length : 4))] as string
    const topic = options.topic ?? (c % 2 === 0 ? 'user-events' : 'customer-events')
    rows.push({
      userId: `cust-${c}`,
      eventType: type,
      churnScore: Math.round(score * 10000) / 10000,
      eventTime: t,
      predictionTime: t + 50,
      metadata: type === 'inactivity_check' ? null : JSON.stringify({ product_id: Math.floor(rnd() * 500), session_length: Math.round(rnd() * 300) / 10 }),
      topic,
      partition: c % 3,
      offset: BigInt((options.first ?? 0) + i)
    })
  }
  return rows
}
