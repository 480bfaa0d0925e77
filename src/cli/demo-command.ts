import { ModelHolder, shippedChurnModelPath } from '../churn/index.ts'
import { MemoryProfileStore } from '../profile/index.ts'
import { alertPolicy, highBandStart, logEventLines, processBatch, type SourceRecord } from '../processor/index.ts'
import { defaultRetryPolicy, Dependency, ProcessingStats, type OutMessage } from '../stream/index.ts'
import { openPredictionStore } from '../sql/index.ts'
import type { Command } from './command.ts'

const DAY = 86_400_000

/** seed 000's demo events, plus seed 001's customer events and one record no processor could read. */
function sampleRecords (start: number): SourceRecord[] {
  const user = (id: number, type: string, minutes: number, metadata: Record<string, unknown>): { topic: string, value: unknown, key: string, at: number } =>
    ({ topic: 'user-events', key: String(id), at: start + minutes * 60_000, value: { user_id: id, event_type: type, timestamp: new Date(start + minutes * 60_000).toISOString(), metadata } })
  const customer = (id: string, type: string, days: number, data: Record<string, unknown>): { topic: string, value: unknown, key: string, at: number } =>
    ({ topic: 'customer-events', key: id, at: start + days * DAY, value: { event_id: `${id}_${start + days * DAY}`, event_type: type, customer_id: id, timestamp: new Date(start + days * DAY).toISOString(), data } })
  const items = [
    user(123, 'product_view', 0, { page: '/products/42', session_length: 4.2 }),
    user(123, 'add_to_cart', 3, { product_id: 42, session_length: 6.1 }),
    user(123, 'checkout', 9, { order_value: 59.9, session_length: 8.4 }),
    user(456, 'bounce', 1, { page: '/checkout', session_length: 0.3 }),
    user(456, 'bounce', 2, { page: '/home', session_length: 0.2 }),
    user(789, 'product_view', 4, { page: '/products/7', session_length: 2.5 }),
    customer('CUST-001', 'order_placed', 0, { order_id: 'ORD-12345', order_value: 99.99, items_count: 3, payment_method: 'credit_card' }),
    customer('CUST-001', 'email_opened', 2, { campaign_id: 'CMP-7', campaign_type: 'newsletter', email_id: 'EM-1' }),
    customer('CUST-002', 'payment_failed', 1, { order_id: 'ORD-777', amount: 45, payment_method: 'paypal', failure_reason: 'insufficient_funds', attempt: 1 }),
    customer('CUST-002', 'support_ticket_created', 1.2, { ticket_id: 'TCK-9', category: 'billing', priority: 'high', channel: 'email' }),
    customer('CUST-002', 'subscription_cancelled', 40, { subscription_id: 'SUB-2', plan: 'premium', reason: 'too_expensive', tenure_days: 400 })
  ]
  const records: SourceRecord[] = items.map((it, i) => ({ topic: it.topic, partition: 0, offset: BigInt(i), key: Buffer.from(it.key), value: Buffer.from(JSON.stringify(it.value)), headers: undefined, timestamp: it.at }))
  records.push({ topic: 'user-events', partition: 0, offset: BigInt(items.length), key: Buffer.from('999'), value: Buffer.from('{"user_id": 999, "event_type": "teleport"'), headers: undefined, timestamp: start })
  return records
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the pipeline on built-in sample events with no Kafka, database or Redis (seed 000\'s demo)',
  usage: 'churnflow demo',
  help: [
    'Decodes, profiles, scores and alerts on a dozen sample events exactly as `churnflow process` does, with',
    'profiles in memory, predictions in an in-memory SQLite database and Kafka records collected instead of sent.',
    'Prints seed 000\'s log lines, the statistics, and what would have been published.'
  ].join('\n'),
  async run ({ config, log, out }) {
    const dlog = log.child({ component: 'demo' })
    const models = new ModelHolder(config.churnModel ?? shippedChurnModelPath, dlog)
    const profiles = new MemoryProfileStore({})
    const predictions = openPredictionStore({ ...config, databaseUrl: 'sqlite::memory:' })
    const published: OutMessage[] = []
    const dependency = (name: string): Dependency => new Dependency(name, defaultRetryPolicy, dlog)
    const stats = new ProcessingStats()
    const signal = new AbortController().signal
    try {
      await predictions.ensureTable()
      const result = await processBatch(sampleRecords(Date.UTC(2024, 0, 15, 10, 30)), {
        profiles,
        predictions,
        output: { send: async messages => { published.push(...messages) } },
        scorer: { kind: 'model', name: 'in-process model', current: models.current },
        alerts: alertPolicy({ enter: config.alertThreshold ?? highBandStart(models.current.artifact.bands), hysteresis: config.alertHysteresis, cooldownHours: config.alertCooldownHours }),
        topics: {
          predictions: config.predictionsTopic,
          alerts: config.alertsTopic,
          deadLetter: source => config.errorTopic ?? `${source}-failed`,
          streamOf: topic => topic === 'customer-events' ? 'customer-events' : 'user-events'
        },
        scoredCustomerTypes: new Set(config.scoredCustomerEvents),
        dependencies: { kafka: dependency('kafka (collected)'), database: dependency(predictions.name), profiles: dependency(profiles.name), scoring: undefined },
        signal
      })
      logEventLines(dlog, result, source => config.errorTopic ?? `${source}-failed`)
      stats.records = result.records
      stats.eventsProcessed = result.applied.length
      stats.predictionsSaved = result.predictions
      stats.rowsInserted = result.rowsInserted
      stats.alerts = result.alerts
      stats.deadLettered = result.poison.length
      for (const line of stats.block()) out(line)
      const byTopic = new Map<string, number>()
      for (const m of published) byTopic.set(m.topic, (byTopic.get(m.topic) ?? 0) + 1)
      out(`Stored ${result.rowsInserted} rows in churn_predictions (SQLite, in memory); with Kafka these records would be published:`)
      for (const [topic, n] of byTopic) out(`  ${topic}: ${n}`)
    } finally {
      models.close()
      await predictions.close()
      await profiles.close()
    }
    return 0
  }
}
