import { bandOf, bandRange, type RiskBand } from '../churn/index.ts'
import { isoUtc } from '../events/index.ts'
import type { AtRiskCustomer as ProcessorAtRisk, CustomerPrediction } from '../processor/customers.ts'
import { tenureDays, tenureSegment } from '../profile/index.ts'
import { sqlTimestamp, SqlDialects, type SqlConnection, type SqlDialect } from '../sql/index.ts'
import type { DashboardTables } from './indexes.ts'
import { openSqlReader, sqlTime, type SqlReader, type SqlRow } from './sql.ts'

const MINUTE = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000

import { INACTIVITY_CHECK } from '../processor/batch.ts'
import { silenceStepOf, streamOf } from '../processor/silence.ts'

export { INACTIVITY_CHECK }


/** A risk band: a score at or above `from` (and below the next band's `from`) is in it. */
export type Band = RiskBand

/** Text of a time truncated to the minute or the hour, in the dialect's own function. */
function bucket (dialect: SqlDialect, column: string, unit: 'minute' | 'hour'): string {
  if (dialect === SqlDialects.SQLITE) return `substr(${column}, 1, ${unit === 'minute' ? 16 : 13})`
  if (dialect === SqlDialects.MYSQL) return `DATE_FORMAT(${column}, '${unit === 'minute' ? '%Y-%m-%d %H:%i' : '%Y-%m-%d %H'}')`
  return `to_char(${column}, '${unit === 'minute' ? 'YYYY-MM-DD HH24:MI' : 'YYYY-MM-DD HH24'}')`
}

/** A bucket's text (`YYYY-MM-DD HH[:MM]`) back to epoch ms. */
function bucketTime (text: unknown): number {
  const s = String(text)
  return sqlTime(s.length === 13 ? `${s}:00:00` : `${s}:00`)
}

const num = (v: unknown): number => typeof v === 'number' ? v : Number(v)
const str = (v: unknown): string => v === null || v === undefined ? '' : String(v)


/** The newest times in the table: the data's own "now" (event time) and the last write. */
export interface Clock { readonly maxId: number, readonly eventTime: number, readonly predictionTime: number }

/** Reads the table's newest id, event time and prediction time, each from an index end. */
export async function readClock (db: SqlReader, table: string): Promise<Clock> {
  const [ids, events, predictions] = await Promise.all([
    db.all(`SELECT MAX(id) AS v FROM ${table}`),
    db.all(`SELECT MAX(event_timestamp) AS v FROM ${table}`),
    db.all(`SELECT MAX(prediction_timestamp) AS v FROM ${table}`)
  ])
  return { maxId: num(ids[0]?.v ?? 0) || 0, eventTime: sqlTime(events[0]?.v), predictionTime: sqlTime(predictions[0]?.v) }
}

export interface SeriesPoint { readonly t: number, readonly v: number }

/** Every bucket from `from` to `to` (epoch ms, truncated to the step), 0 where the query had none. */
function filled (points: readonly SeriesPoint[], from: number, to: number, step: number): SeriesPoint[] {
  const by = new Map(points.map(p => [p.t, p.v]))
  const out: SeriesPoint[] = []
  for (let t = Math.floor(from / step) * step; t <= to; t += step) out.push({ t, v: by.get(t) ?? 0 })
  return out
}

/** Predictions written per minute over the hour before the last write. */
export async function predictionsPerMinute (db: SqlReader, table: string, clock: Clock): Promise<SeriesPoint[]> {
  if (!Number.isFinite(clock.predictionTime)) return []
  const m = bucket(db.dialect, 'prediction_timestamp', 'minute')
  const from = clock.predictionTime - 60 * MINUTE
  const rows = await db.all(`SELECT ${m} AS b, COUNT(*) AS n FROM ${table} WHERE prediction_timestamp >= ? GROUP BY ${m} ORDER BY 1`, [sqlTimestamp(from)])
  return filled(rows.map(r => ({ t: bucketTime(r.b), v: num(r.n) })), from, clock.predictionTime, MINUTE)
}

/** Distinct customers scored at or above `threshold` per hour of event time, over the two days before the newest event. */
export async function highRiskOverTime (db: SqlReader, table: string, clock: Clock, threshold: number): Promise<SeriesPoint[]> {
  if (!Number.isFinite(clock.eventTime)) return []
  const h = bucket(db.dialect, 'event_timestamp', 'hour')
  const from = clock.eventTime - 48 * HOUR
  const rows = await db.all(`SELECT ${h} AS b, COUNT(DISTINCT user_id) AS n FROM ${table} WHERE event_timestamp >= ? AND churn_score >= ? GROUP BY ${h} ORDER BY 1`,
    [sqlTimestamp(from), threshold])
  return filled(rows.map(r => ({ t: bucketTime(r.b), v: num(r.n) })), from, clock.eventTime, HOUR)
}

/** How many of the latest predictions the score distribution counts. */
export const DISTRIBUTION_WINDOW = 20_000

/**
 * The score distribution of the latest predictions in ten bins of 0.1, and the source streams
 * among them, in one read of a primary key range: grouping on the score's bin
 * first keeps planners off the unique key's kafka_topic column, which would read every row.
 */
export async function scoreDistribution (db: SqlReader, table: string, clock: Clock): Promise<{ bins: number[], window: number, streams: string[] }> {
  const rows = await db.all(`SELECT FLOOR(churn_score * 10) AS b, kafka_topic AS s, COUNT(*) AS n FROM ${table} WHERE id > ? GROUP BY FLOOR(churn_score * 10), kafka_topic`,
    [clock.maxId - DISTRIBUTION_WINDOW])
  const bins = Array.from({ length: 10 }, () => 0)
  const streams = new Set<string>()
  for (const r of rows) {
    const i = Math.min(9, Math.max(0, num(r.b)))
    bins[i] = (bins[i] ?? 0) + num(r.n)
    if (str(r.s) !== '') streams.add(streamOf(str(r.s)))
  }
  return { bins, window: DISTRIBUTION_WINDOW, streams: [...streams].sort() }
}

/** One customer of the at-risk list. */
export interface AtRiskCustomer {
  readonly customerId: string
  readonly score: number
  readonly band: string
  /** The score now minus the latest stored score a week of event time before the newest event; null when there was none. */
  readonly changeSinceLastWeek: number | null
  /** The last activity (epoch ms; NaN when unknown). */
  readonly lastSeen: number
  readonly daysSilent: number | null
  /** What the current score followed: `event`, or `inactivity` (a silence re-score). */
  readonly trigger: string
  /** The first activity (epoch ms; NaN when unknown). */
  readonly firstSeen: number
  readonly tenureDays: number | null
  /** The tenure segment (`TENURE_SEGMENTS`); null when the first activity is unknown. */
  readonly segment: string | null
  /** The reasons of the current score when the source knows them; null otherwise. */
  readonly reasons: unknown
}

export interface AtRiskQuery {
  readonly limit: number
  readonly band?: string
  /** A tenure segment (`TENURE_SEGMENTS`). */
  readonly segment?: string
}

/** The most of the highest-scored predictions the SQL at-risk list looks through for a segment's customers (or 12 per customer asked for). */
export const SEGMENT_WINDOW = 6000

/**
 * Customers ranked by current risk: each customer's latest prediction, highest score first.
 * Reads a window of the highest-scored rows down the churn_score index, keeps those that are
 * their customer's latest (one seek each in (user_id, id)), and widens the window only when too
 * few were: the cost follows the list's length, not the table's. For a tenure segment the window
 * widens up to SEGMENT_WINDOW rows: a rare segment's list may be shorter than asked.
 */
export async function atRisk (db: SqlReader, table: string, bands: readonly Band[], clock: Clock, query: AtRiskQuery): Promise<AtRiskCustomer[]> {
  // Only the band narrows the walk (a range of churn_score, which keeps it on the index); the
  // tenure segment is checked on the window's latest rows, by the time of each one's first row
  // (its id a seek in (user_id, id), its time a primary key read), so no planner is tempted to
  // read a whole segment and sort it.
  const band = query.band === undefined ? undefined : bandRange(bands, query.band)
  // Scores are at most 1: the last band's open end is 2 in SQL.
  const range = band === undefined ? undefined : [band.from, Math.min(band.to, 2)]
  const inner = range === undefined ? '' : 'WHERE p.churn_score >= ? AND p.churn_score < ?'
  const segment = query.segment
  // A segment's window widens no further than SEGMENT_WINDOW: a segment few high scores fall in
  // would otherwise widen it to the whole table.
  const widest = segment === undefined ? clock.maxId : Math.max(SEGMENT_WINDOW, query.limit * 12)
  let window = Math.max(1500, query.limit * 30)
  for (;;) {
    const rows = await db.all(`SELECT w.*, (SELECT MIN(f.id) FROM ${table} f WHERE f.user_id = w.user_id) AS first_id
      FROM (
        SELECT p.id, p.user_id, p.churn_score, p.event_type, p.event_timestamp,
          (SELECT MAX(q.id) FROM ${table} q WHERE q.user_id = p.user_id) AS latest_id
        FROM ${table} p ${inner} ORDER BY p.churn_score DESC LIMIT ?
      ) w WHERE w.id = w.latest_id ORDER BY w.churn_score DESC, w.id DESC ${segment === undefined ? 'LIMIT ?' : ''}`,
    [...(range ?? []), window, ...(segment === undefined ? [query.limit] : [])])
    const firstSeen = await timesOf(db, table, rows.map(r => num(r.first_id)))
    const kept = segment === undefined ? rows : rows.filter(r => tenureSegment(firstSeen.get(num(r.first_id)) ?? NaN, clock.eventTime) === segment).slice(0, query.limit)
    if (kept.length >= query.limit || window >= widest) return describeAtRisk(db, table, bands, clock, kept, firstSeen)
    window = Math.min(window * 2, widest)
  }
}

/** The event time of each of these rows, by id (primary key reads, a thousand at a time). */
async function timesOf (db: SqlReader, table: string, ids: readonly number[]): Promise<Map<number, number>> {
  const out = new Map<number, number>()
  for (let i = 0; i < ids.length; i += 1000) {
    const part = ids.slice(i, i + 1000)
    const rows = await db.all(`SELECT id, event_timestamp FROM ${table} WHERE id IN (${part.map(() => '?').join(', ')})`, part)
    for (const r of rows) out.set(num(r.id), sqlTime(r.event_timestamp))
  }
  return out
}

/** The latest stored score of each of these customers a week of event time before the newest event. */
async function scoresWeekAgo (db: SqlReader, table: string, clock: Clock, ids: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  if (ids.length === 0 || !Number.isFinite(clock.eventTime)) return out
  const rows = await db.all(`SELECT user_id, id, churn_score FROM ${table} WHERE user_id IN (${ids.map(() => '?').join(', ')}) AND event_timestamp <= ?`,
    [...ids, sqlTimestamp(clock.eventTime - 7 * DAY)])
  const newest = new Map<string, number>()
  for (const r of rows) {
    const key = str(r.user_id)
    if ((newest.get(key) ?? -1) < num(r.id)) {
      newest.set(key, num(r.id))
      out.set(key, num(r.churn_score))
    }
  }
  return out
}

/**
 * The list's other columns, for all its customers at once: the latest score a week before now
 * and the last real event (not a silence re-score). Two reads through (user_id, id), whatever
 * the list's length.
 */
async function describeAtRisk (db: SqlReader, table: string, bands: readonly Band[], clock: Clock, rows: readonly SqlRow[], firstSeenById: ReadonlyMap<number, number>): Promise<AtRiskCustomer[]> {
  if (rows.length === 0) return []
  const ids = rows.map(r => str(r.user_id))
  const [weekAgo, seen] = await Promise.all([
    scoresWeekAgo(db, table, clock, ids),
    db.all(`SELECT user_id, MAX(event_timestamp) AS t FROM ${table} WHERE user_id IN (${ids.map(() => '?').join(', ')}) AND event_type <> ? GROUP BY user_id`, [...ids, INACTIVITY_CHECK])
  ])
  const lastSeen = new Map(seen.map(r => [str(r.user_id), sqlTime(r.t)]))
  return rows.map(r => {
    const id = str(r.user_id)
    const score = num(r.churn_score)
    const last = lastSeen.get(id) ?? sqlTime(r.event_timestamp)
    const then = weekAgo.get(id)
    const firstSeen = firstSeenById.get(num(r.first_id)) ?? NaN
    return {
      customerId: id,
      score,
      band: bandOf(bands, score),
      changeSinceLastWeek: then === undefined ? null : score - then,
      lastSeen: last,
      daysSilent: Number.isFinite(clock.eventTime) ? Math.max(0, Math.floor((clock.eventTime - last) / DAY)) : null,
      trigger: str(r.event_type) === INACTIVITY_CHECK ? 'inactivity' : 'event',
      firstSeen,
      tenureDays: tenureDays(firstSeen, clock.eventTime),
      segment: tenureSegment(firstSeen, clock.eventTime),
      reasons: null
    }
  })
}

/**
 * The processors' current-risk list in the dashboard's shape, with the change since last week
 * from SQL (one read for all its customers).
 */
export async function describeProcessorAtRisk (db: SqlReader, table: string, clock: Clock, customers: readonly ProcessorAtRisk[]): Promise<AtRiskCustomer[]> {
  const weekAgo = await scoresWeekAgo(db, table, clock, customers.map(c => c.customer_id))
  const time = (iso: string | null): number => iso === null ? NaN : Date.parse(iso)
  return customers.map(c => {
    const then = weekAgo.get(c.customer_id)
    return {
      customerId: c.customer_id,
      score: c.churn_score,
      band: c.risk_band,
      changeSinceLastWeek: then === undefined ? null : c.churn_score - then,
      lastSeen: time(c.last_seen),
      daysSilent: c.days_silent,
      trigger: c.trigger,
      firstSeen: time(c.first_seen),
      tenureDays: c.tenure_days,
      segment: c.segment,
      reasons: c.reasons
    }
  })
}

/** One stored prediction as the dashboard shows it. */
export interface PredictionView {
  readonly id: number
  readonly customerId: string
  readonly eventType: string
  readonly score: number
  readonly band: string
  readonly eventTime: number
  readonly predictionTime: number
  /** The source stream (kafka_topic up to a `/`). */
  readonly stream: string
  /** An inactivity check's silence step (`7d`); null for an event's prediction. */
  readonly silenceStep: string | null
  /** The event's metadata as stored (JSON text), or null. */
  readonly metadata: string | null
}

function predictionView (bands: readonly Band[], r: SqlRow): PredictionView {
  const score = num(r.churn_score)
  const metadata = r.metadata === null || r.metadata === undefined ? null : typeof r.metadata === 'string' ? r.metadata : JSON.stringify(r.metadata)
  return {
    id: num(r.id),
    customerId: str(r.user_id),
    eventType: str(r.event_type),
    score,
    band: bandOf(bands, score),
    eventTime: sqlTime(r.event_timestamp),
    predictionTime: sqlTime(r.prediction_timestamp),
    stream: streamOf(str(r.kafka_topic)),
    silenceStep: silenceStepOf(str(r.kafka_topic)),
    metadata
  }
}

const predictionColumns = 'id, user_id, event_type, churn_score, event_timestamp, prediction_timestamp, metadata, kafka_topic'

/** A customer's latest predictions, newest first (the (user_id, id) index). */
export async function customerPredictions (db: SqlReader, table: string, bands: readonly Band[], customerId: string, limit: number): Promise<PredictionView[]> {
  const rows = await db.all(`SELECT ${predictionColumns} FROM ${table} WHERE user_id = ? ORDER BY id DESC LIMIT ?`, [customerId, limit])
  return rows.map(r => predictionView(bands, r))
}

/** Predictions stored after `afterId`, oldest first, at most `limit` (the live feed). */
export async function predictionsAfter (db: SqlReader, table: string, bands: readonly Band[], afterId: number, limit: number): Promise<PredictionView[]> {
  const rows = await db.all(`SELECT ${predictionColumns} FROM ${table} WHERE id > ? ORDER BY id LIMIT ?`, [afterId, limit])
  return rows.map(r => predictionView(bands, r))
}

/** The latest predictions, newest first. */
export async function latestPredictions (db: SqlReader, table: string, bands: readonly Band[], clock: Clock, limit: number): Promise<PredictionView[]> {
  const rows = await db.all(`SELECT ${predictionColumns} FROM ${table} WHERE id > ? ORDER BY id DESC LIMIT ?`, [clock.maxId - limit, limit])
  return rows.map(r => predictionView(bands, r))
}

/** The fraud view's figures, from the fraud pipeline's tables. */
export interface FraudView {
  /** False when the fraud tables do not exist or are empty: no fraud pipeline data. */
  readonly present: boolean
  readonly transactionsPerSecond: number
  /** Per hour over the day before the newest prediction: share of transactions labelled fraud. */
  readonly fraudRate: { t: number, total: number, fraud: number }[]
  readonly flagged: { transactionId: string, score: number, reasons: string, time: number, amount: number | null, currency: string, merchantCategory: string, country: string, channel: string, accountId: string }[]
  readonly breakdown: Record<'merchant_category' | 'country' | 'channel', { key: string, total: number, fraud: number }[]>
}

const emptyFraud: FraudView = { present: false, transactionsPerSecond: 0, fraudRate: [], flagged: [], breakdown: { merchant_category: [], country: [], channel: [] } }

/** Reads the fraud view; `present: false` when the fraud pipeline has written nothing. */
export async function fraudView (db: SqlReader, tables: DashboardTables): Promise<FraudView> {
  const fp = tables.fraudPredictions
  const ft = tables.fraudTransactions
  const newest = await db.all(`SELECT MAX(created_at) AS v FROM ${fp}`)
  const now = sqlTime(newest[0]?.v)
  if (!Number.isFinite(now)) return emptyFraud
  const fraud = "SUM(CASE WHEN p.prediction = 'fraud' THEN 1 ELSE 0 END)"
  const h = bucket(db.dialect, 'p.created_at', 'hour')
  const dayAgo = sqlTimestamp(now - DAY)
  const [minute, rate, flagged, ...breakdowns] = await Promise.all([
    db.all(`SELECT COUNT(*) AS n FROM ${fp} WHERE created_at >= ?`, [sqlTimestamp(now - MINUTE)]),
    db.all(`SELECT ${h} AS b, COUNT(*) AS n, ${fraud} AS f FROM ${fp} p WHERE p.created_at >= ? GROUP BY ${h} ORDER BY 1`, [dayAgo]),
    db.all(`SELECT p.transaction_id, p.fraud_score, p.reasons, p.created_at, t.amount, t.currency, t.merchant_category, t.country, t.channel, t.account_id
      FROM ${fp} p LEFT JOIN ${ft} t ON t.transaction_id = p.transaction_id WHERE p.prediction = 'fraud' ORDER BY p.created_at DESC LIMIT 50`),
    ...(['merchant_category', 'country', 'channel'] as const).map(k =>
      db.all(`SELECT t.${k} AS k, COUNT(*) AS n, ${fraud} AS f FROM ${fp} p JOIN ${ft} t ON t.transaction_id = p.transaction_id WHERE p.created_at >= ? GROUP BY t.${k} ORDER BY 3 DESC, 2 DESC LIMIT 20`, [dayAgo]))
  ])
  const breakdown = (rows: SqlRow[] | undefined): { key: string, total: number, fraud: number }[] => (rows ?? []).map(r => ({ key: str(r.k), total: num(r.n), fraud: num(r.f) }))
  return {
    present: true,
    transactionsPerSecond: num(minute[0]?.n ?? 0) / 60,
    fraudRate: rate.map(r => ({ t: bucketTime(r.b), total: num(r.n), fraud: num(r.f) })),
    flagged: flagged.map(r => ({
      transactionId: str(r.transaction_id),
      score: num(r.fraud_score),
      reasons: typeof r.reasons === 'string' ? r.reasons : JSON.stringify(r.reasons ?? []),
      time: sqlTime(r.created_at),
      amount: r.amount === null || r.amount === undefined ? null : num(r.amount),
      currency: str(r.currency),
      merchantCategory: str(r.merchant_category),
      country: str(r.country),
      channel: str(r.channel),
      accountId: str(r.account_id)
    })),
    breakdown: { merchant_category: breakdown(breakdowns[0]), country: breakdown(breakdowns[1]), channel: breakdown(breakdowns[2]) }
  }
}

/**
 * A customer's latest stored predictions, for the processor's GET /customers/:id: one read-only
 * connection to the prediction database, closed with `close()`.
 */
export function customerPredictionReader (config: SqlConnection, table: string): { read: (id: string, limit: number) => Promise<CustomerPrediction[]>, close: () => Promise<void> } {
  const db = openSqlReader(config)
  return {
    read: async (id, limit) => (await customerPredictions(db, table, [], id, limit)).map(p => ({
      event_type: p.eventType,
      churn_score: p.score,
      event_timestamp: isoUtc(p.eventTime),
      prediction_timestamp: isoUtc(p.predictionTime)
    })),
    close: () => db.close()
  }
}
