import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { ModelHolder, shippedChurnModelPath } from '../churn/index.ts'
import type { Config } from '../config/index.ts'
import { FraudConsole, FraudScorer, fraudBatch, fraudSettings, shippedFraudModelPath } from '../fraud/index.ts'
import type { Logger } from '../logging/index.ts'
import { MemoryProfileStore } from '../profile/index.ts'
import { alertPolicy, highBandStart, logEventLines, processBatch, type SourceRecord } from '../processor/index.ts'
import { TransactionStream, type TransactionTruth } from '../simulator/index.ts'
import { deadLetterTopic, defaultRetryPolicy, Dependency, ProcessingStats, type OutMessage } from '../stream/index.ts'
import { migrate, openFraudStore, openPredictionStore } from '../sql/index.ts'
import { Rng } from '../util/rng.ts'
import type { Command } from './command.ts'

const DAY = 86_400_000

/** the churn prediction consumer's demo events, plus the Kafka event system's customer events and one record no processor could read. */
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

/** Simulated transactions with the simulator's injected fraud (a fixed seed: the same every run), then three no pipeline could read. */
function sampleTransactions (topic: string): { records: SourceRecord[], truth: Map<string, TransactionTruth> } {
  const start = Date.UTC(2024, 0, 1)
  const stream = new TransactionStream(new Rng(7), { accounts: 6, fraudRate: 0.1, start, end: start + 30 * DAY })
  const truth = new Map<string, TransactionTruth>()
  const values: { key: string, value: string, at: number }[] = []
  for (let r = stream.next(); r !== undefined && values.length < 60; r = stream.next()) {
    const t = stream.lastTruth as TransactionTruth
    truth.set(t.transaction_id, t)
    values.push({ key: r.key, value: JSON.stringify(r.value), at: r.time })
  }
  const at = values.at(-1)?.at ?? start
  const broken = { transaction_id: 'TX-BROKEN', account_id: 'ACC-000001', amount: 12.5, currency: 'EUR', merchant_id: 'MER-GRO-0001', merchant_category: 'grocery', channel: 'pos', country: 'DE', timestamp: new Date(at).toISOString() }
  values.push(
    { key: 'ACC-000001', value: JSON.stringify(broken).slice(0, -20), at },
    { key: 'ACC-000002', value: JSON.stringify({ ...broken, transaction_id: 'TX-BAD-CURRENCY', account_id: 'ACC-000002', currency: 'XYZ' }), at },
    { key: 'ACC-000003', value: JSON.stringify({ ...broken, transaction_id: 'TX-BAD-TIME', account_id: 'ACC-000003', timestamp: 'yesterday at noon' }), at }
  )
  const records = values.map((v, i): SourceRecord => ({ topic, partition: 0, offset: BigInt(i), key: Buffer.from(v.key), value: Buffer.from(v.value), headers: undefined, timestamp: v.at }))
  return { records, truth }
}

interface FlaggedRow { transaction_id: string, account_id: string, amount: number, currency: string, merchant_category: string, country: string, channel: string, fraud_score: number }

/**
 * The fraud pipeline's batch step on the sample transactions, as `process --streams transactions`
 * runs it: accounts in memory, the transactions and predictions tables migrated into a temporary
 * SQLite file, Kafka records collected. Prints the fraud consumer's lines, its statistics, the
 * flagged rows as stored, the dead letters, and what would have been published.
 */
async function fraudDemo (config: Config, log: Logger, out: (line: string) => void): Promise<void> {
  const settings = fraudSettings(config)
  const { records, truth } = sampleTransactions(settings.sourceTopic)
  const dir = await mkdtemp(join(tmpdir(), 'churnflow-demo-'))
  const connection = { ...config, databaseUrl: `sqlite:${join(dir, 'fraud.db')}` }
  const store = openFraudStore(connection)
  try {
    await migrate(connection)
    const fraudConsole = new FraudConsole(log, { server: '(no Kafka: the demo)', group: settings.group, topic: settings.sourceTopic, every: 20 })
    fraudConsole.started()
    const result = await fraudBatch(records, new Map(), {
      scorer: { kind: 'model', name: 'in-process fraud model', current: FraudScorer.fromFile(shippedFraudModelPath) },
      topics: { predictions: settings.predictionsTopic, alerts: settings.alertsTopic, deadLetter: source => deadLetterTopic(config, source) },
      signal: new AbortController().signal
    })
    await store.write(result.transactionRows, result.predictionRows)
    fraudConsole.batch(result)
    fraudConsole.stopped()
    for (const line of fraudConsole.stats.block()) out(line)
    const db = new DatabaseSync(join(dir, 'fraud.db'), { readOnly: true })
    let flagged: FlaggedRow[]
    try {
      flagged = db.prepare(`SELECT p.transaction_id, t.account_id, t.amount, t.currency, t.merchant_category, t.country, t.channel, p.fraud_score
        FROM predictions p JOIN transactions t ON t.transaction_id = p.transaction_id WHERE p.prediction = 'fraud' ORDER BY p.fraud_score DESC`).all() as unknown as FlaggedRow[]
    } finally {
      db.close()
    }
    out(`Stored ${result.transactionRows.length} rows in transactions and in predictions (SQLite, a temporary file); ${flagged.length} flagged as fraud:`)
    for (const f of flagged) {
      const pattern = truth.get(f.transaction_id)?.pattern
      out(`  ${f.transaction_id}  ${f.account_id}  ${f.amount.toFixed(2).padStart(9)} ${f.currency}  ${f.merchant_category}, ${f.country}, ${f.channel}  score ${f.fraud_score.toFixed(3)}  (${pattern === null || pattern === undefined ? 'simulated as legitimate' : `simulated fraud: ${pattern}`})`)
    }
    const injected = [...truth.values()].filter(t => t.is_fraud).length
    out(`The simulator injected ${injected} fraudulent transaction(s) among the ${truth.size}.`)
    out(`Dead-lettered to ${deadLetterTopic(config, settings.sourceTopic)} (value unchanged, the reason in headers):`)
    for (const p of result.poison) out(`  offset ${p.record.offset}  ${p.code}: ${p.message}`)
    const byTopic = new Map<string, number>()
    for (const m of result.messages) byTopic.set(m.topic, (byTopic.get(m.topic) ?? 0) + 1)
    out('With Kafka these records would be published:')
    for (const [topic, n] of byTopic) out(`  ${topic}: ${n}`)
  } finally {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the churn and fraud pipelines on built-in sample events with no Kafka, database or Redis (the churn prediction consumer\'s demo)',
  usage: 'churnflow demo',
  help: [
    'Decodes, profiles, scores and alerts on a dozen sample events exactly as `churnflow process` does, with',
    'profiles in memory, predictions in an in-memory SQLite database and Kafka records collected instead of sent.',
    'Prints the churn prediction consumer\'s log lines, the statistics, and what would have been published.',
    'Then the fraud pipeline, as `process --streams transactions` runs it, on 60 simulated transactions with the',
    'simulator\'s injected fraud and 3 malformed ones: the fraud consumer\'s lines, its statistics, the rows flagged',
    'as fraud (read back from the transactions and predictions tables of a temporary SQLite file) and the dead letters.'
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
      out('')
      await fraudDemo(config, dlog, out)
    } finally {
      models.close()
      await predictions.close()
      await profiles.close()
    }
    return 0
  }
}
