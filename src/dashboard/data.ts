import { statSync } from 'node:fs'
import { defaultBands, readArtifactJson, type ChurnArtifact } from '../churn/index.ts'
import { missingForDashboard } from './indexes.ts'
import { StreamRates, TopicTail, type TailRecord } from './kafka.ts'
import type { DashboardOptions } from './options.ts'
import { readProcessor } from './ops.ts'
import {
  atRisk, customerPredictions, describeProcessorAtRisk, fraudView, highRiskOverTime, latestPredictions, predictionsAfter, predictionsPerMinute, readClock, scoreDistribution,
  type AtRiskCustomer, type AtRiskQuery, type Band, type Clock
} from './queries.ts'
import { processorCustomer, processorsAtRisk } from './processors.ts'
import { TENURE_SEGMENTS } from '../profile/index.ts'
import { openSqlReader, type SqlReader } from './sql.ts'
import type { LiveEvent } from './live.ts'
import { DeadLetterHeaders, NO_ERROR_CODE } from '../stream/index.ts'

/** What the latest churn-predictions record said about a customer. */
export interface LatestScore { readonly score: number, readonly band: string, readonly reasons: unknown, readonly modelVersion: string, readonly at: number }

/** Where the at-risk list came from: the processors' current risk, SQL, or the `atRisk` option. */
export type AtRiskSourceInfo = { readonly kind: 'processors', readonly answered: number, readonly asked: number } | { readonly kind: 'sql', readonly asked: number } | { readonly kind: 'custom' }

/** Customers whose latest scored record is remembered (for reasons), oldest forgotten first. */
const REMEMBERED_CUSTOMERS = 50_000

function parseJson (text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/** An alert record as the dashboard shows it: the record's own fields, parsed, and its Kafka place. */
export interface AlertView { readonly key: string, readonly timestamp: number, readonly alert: Record<string, unknown> | undefined, readonly raw: string, readonly partition: number, readonly offset: string }

function alertView (r: TailRecord): AlertView {
  const alert = parseJson(r.value)
  return { key: r.key, timestamp: r.timestamp, alert, raw: alert === undefined ? r.value : '', partition: r.partition, offset: r.offset }
}

/**
 * Everything the dashboard reads, in one place: the SQL reader, the Kafka tails (alerts, dead
 * letters, the predictions topic for reasons), the streams' rates and the processors' ops
 * endpoints. Each view's data is one method.
 */
export class DashboardData {
  readonly #o: DashboardOptions
  readonly db: SqlReader
  readonly alerts: TopicTail
  readonly deadLetters: TopicTail
  readonly predictions: TopicTail
  readonly #rates: StreamRates
  readonly #latest = new Map<string, LatestScore>()
  #modelCache: { mtimeMs: number, artifact: ChurnArtifact | undefined, error?: string } | undefined
  #liveAfter: number | undefined
  #liveCount = 0
  /** Called with each alert as it arrives (the live feed). */
  onAlert: ((alert: AlertView) => void) | undefined

  constructor (options: DashboardOptions) {
    this.#o = options
    this.db = openSqlReader(options.sql)
    const log = options.log
    this.alerts = new TopicTail({ connection: options.kafka, topics: [options.topics.alerts], keep: 2000, log, onRecord: r => { this.onAlert?.(alertView(r)) } })
    this.deadLetters = new TopicTail({ connection: options.kafka, topics: options.topics.deadLetters, keep: 1000, log })
    this.predictions = new TopicTail({ connection: options.kafka, topics: [options.topics.predictions], keep: 200, log, onRecord: r => { this.#remember(r) } })
    this.#rates = new StreamRates(options.kafka, options.topics.streams, log)
  }

  /** Says what the database lacks for the views to be fast (when asked), and starts following Kafka. */
  async start (): Promise<void> {
    if (this.#o.checkIndexes) {
      try {
        for (const line of await missingForDashboard(this.#o.sql, this.#o.tables)) {
          this.#o.log.warn(`${line}: the dashboard's views may be slow on large tables; churnflow db migrate adds it`)
        }
      } catch (error) {
        this.#o.log.warn({ err: error }, 'the dashboard could not look at the tables\' indexes')
      }
    }
    for (const tail of [this.alerts, this.deadLetters, this.predictions]) tail.start()
    // A first look at the end offsets, so the first overview already has a rate.
    void this.#rates.sample()
  }

  #remember (r: TailRecord): void {
    const p = parseJson(r.value)
    const id = p?.customer_id ?? p?.user_id ?? r.key
    if (p === undefined || (typeof id !== 'string' && typeof id !== 'number')) return
    const key = String(id)
    this.#latest.delete(key)
    this.#latest.set(key, { score: Number(p.churn_score), band: String(p.risk_band ?? ''), reasons: p.reasons ?? [], modelVersion: String(p.model_version ?? ''), at: r.timestamp })
    if (this.#latest.size > REMEMBERED_CUSTOMERS) this.#latest.delete(this.#latest.keys().next().value as string)
  }

  /** The model artifact, read again only when its file changes. */
  model (): { artifact: ChurnArtifact | undefined, error?: string } {
    let mtimeMs = -1
    try { mtimeMs = statSync(this.#o.modelPath).mtimeMs } catch { /* reported by the read below */ }
    if (this.#modelCache?.mtimeMs !== mtimeMs) {
      try {
        this.#modelCache = { mtimeMs, artifact: readArtifactJson(this.#o.modelPath) as ChurnArtifact }
      } catch (error) {
        this.#modelCache = { mtimeMs, artifact: undefined, error: (error as Error).message }
      }
    }
    return this.#modelCache
  }

  get bands (): readonly Band[] {
    const bands = this.model().artifact?.bands
    return Array.isArray(bands) && bands.length > 0 ? bands : defaultBands
  }

  /** Where the high band starts: the alerting threshold's default. */
  get highFrom (): number {
    return this.bands.find(b => b.name === 'high')?.from ?? 0.6
  }

  clock (): Promise<Clock> {
    return readClock(this.db, this.#o.tables.predictions)
  }

  async overview (): Promise<unknown> {
    const t = this.#o.tables.predictions
    const clock = await this.clock()
    const [perMinute, highRisk, processors, streams] = await Promise.all([
      predictionsPerMinute(this.db, t, clock),
      highRiskOverTime(this.db, t, clock, this.highFrom),
      Promise.all(this.#o.opsUrls.map(u => readProcessor(u))),
      this.#rates.sample()
    ])
    return { clock, predictionsPerMinute: perMinute, highRiskOverTime: highRisk, highFrom: this.highFrom, processors, streams, deadLetters: this.deadLetterSummary() }
  }

  deadLetterSummary (): { following: readonly string[], byCode: { code: string, count: number }[], latest: unknown[] } {
    const counts = new Map<string, number>()
    for (const r of this.deadLetters.records) {
      const code = r.headers[DeadLetterHeaders.ERROR_CODE] ?? NO_ERROR_CODE
      counts.set(code, (counts.get(code) ?? 0) + 1)
    }
    const latest = [...this.deadLetters.records].sort((a, b) => b.timestamp - a.timestamp).slice(0, 20).map(r => ({
      topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value.slice(0, 300), headers: r.headers
    }))
    return { following: this.deadLetters.following, byCode: [...counts].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count), latest }
  }

  /**
   * The at-risk list: the processors' current risk when their `/customers/at-risk` routes answer
   * (merged by score), otherwise each customer's latest prediction in SQL; or the `atRisk` option.
   */
  async atRiskList (query: AtRiskQuery, clock: Clock): Promise<{ customers: AtRiskCustomer[], source: AtRiskSourceInfo }> {
    const t = this.#o.tables.predictions
    if (this.#o.atRisk !== undefined) return { customers: await this.#o.atRisk(query), source: { kind: 'custom' } }
    const processors = await processorsAtRisk(this.#o.opsUrls, query)
    if (processors.answered > 0) {
      return {
        customers: await describeProcessorAtRisk(this.db, t, clock, processors.customers),
        source: { kind: 'processors', answered: processors.answered, asked: processors.asked }
      }
    }
    return { customers: await atRisk(this.db, t, this.bands, clock, query), source: { kind: 'sql', asked: processors.asked } }
  }

  async churn (query: AtRiskQuery): Promise<unknown> {
    const t = this.#o.tables.predictions
    const clock = await this.clock()
    const [distribution, list] = await Promise.all([scoreDistribution(this.db, t, clock), this.atRiskList(query, clock)])
    return {
      clock,
      bands: this.bands,
      distribution,
      segments: TENURE_SEGMENTS,
      source: list.source,
      atRisk: list.customers.map(c => ({ ...c, reasons: c.reasons ?? this.#latest.get(c.customerId)?.reasons ?? this.#alertReasons(c.customerId) ?? null }))
    }
  }

  #alertsOf (customerId: string): AlertView[] {
    return this.alerts.records.filter(r => r.key === customerId || String(parseJson(r.value)?.customer_id ?? '') === customerId).map(alertView).reverse()
  }

  #alertReasons (customerId: string): unknown {
    return this.#alertsOf(customerId)[0]?.alert?.reasons
  }

  async customer (customerId: string): Promise<unknown> {
    const [predictions, clock, current] = await Promise.all([
      customerPredictions(this.db, this.#o.tables.predictions, this.bands, customerId, 500),
      this.clock(),
      processorCustomer(this.#o.opsUrls, customerId)
    ])
    const types: Record<string, number> = {}
    for (const p of predictions) types[p.eventType] = (types[p.eventType] ?? 0) + 1
    const latest = predictions[0]
    return {
      customerId,
      found: predictions.length > 0 || current !== undefined,
      clock,
      current: current ?? null,
      summary: latest === undefined
        ? null
        : { score: latest.score, band: latest.band, lastEvent: latest.eventTime, firstInWindow: predictions.at(-1)?.eventTime, predictions: predictions.length, eventTypes: types, stream: latest.stream },
      latestScored: this.#latest.get(customerId) ?? null,
      predictions,
      alerts: this.#alertsOf(customerId)
    }
  }

  alertFeed (): AlertView[] {
    return [...this.alerts.records].sort((a, b) => b.timestamp - a.timestamp).slice(0, 200).map(alertView)
  }

  fraud (): Promise<unknown> {
    return fraudView(this.db, this.#o.tables)
  }

  modelView (): unknown {
    const { artifact, error } = this.model()
    const serving = [...this.#latest.values()].at(-1)?.modelVersion
    if (artifact === undefined) return { error, path: this.#o.modelPath, serving: serving ?? null }
    return {
      path: this.#o.modelPath,
      serving: serving ?? null,
      version: artifact.model_version,
      createdAt: artifact.created_at,
      horizonDays: artifact.horizon_days,
      bands: artifact.bands,
      training: artifact.training,
      test: artifact.metrics?.test,
      importance: (artifact.metrics?.importance ?? []).slice(0, 15),
      featureCount: artifact.features?.length ?? 0
    }
  }

  /** Forgets where the live feed was: the next listener's feed starts from what is stored then. */
  resetLive (): void {
    this.#liveAfter = undefined
    this.#liveCount = 0
  }

  /** The live feed's next events: predictions stored since the last look, and the counters. */
  async livePoll (): Promise<LiveEvent[]> {
    const t = this.#o.tables.predictions
    if (this.#liveAfter === undefined) {
      // The first look marks where the feed starts: what is stored after it is news.
      this.#liveAfter = (await this.clock()).maxId
      return [{ event: 'ready', data: { after: this.#liveAfter } }]
    }
    const rows = await predictionsAfter(this.db, t, this.bands, this.#liveAfter, 200)
    const last = rows.at(-1)
    if (last === undefined) return []
    // More than a page arrived: show the newest page, count them all.
    const clock = rows.length === 200 ? await this.clock() : undefined
    const newest = clock === undefined ? rows : (await latestPredictions(this.db, t, this.bands, clock, 50)).reverse()
    const added = clock === undefined ? rows.length : clock.maxId - this.#liveAfter
    this.#liveAfter = clock?.maxId ?? last.id
    this.#liveCount += added
    return [{ event: 'predictions', data: { added, total: this.#liveCount, rows: newest.slice(-50) } }]
  }

  async close (): Promise<void> {
    await Promise.all([this.alerts.close(), this.deadLetters.close(), this.predictions.close(), this.#rates.close()])
    await this.db.close()
  }
}
