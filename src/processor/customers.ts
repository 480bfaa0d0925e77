import { bandRange, type RiskBand } from '../churn/index.ts'
import { isoUtc } from '../events/index.ts'
import { TENURE_SEGMENTS, tenureDays, tenureSegment, type CurrentRisk, type ProfileRecord, type ProfileStore } from '../profile/index.ts'
import { KeyedMinHeap } from '../util/heap.ts'

const DAY = 86_400_000

export type { RiskBand }

/** One customer of the at-risk list, as the routes answer it. */
export interface AtRiskCustomer {
  readonly customer_id: string
  readonly churn_score: number
  readonly risk_band: string
  readonly reasons: CurrentRisk['reasons']
  /** What the score is as of: the event's time, or the silence step's due time. */
  readonly scored_at: string
  /** `event` or `inactivity`. */
  readonly trigger: CurrentRisk['trigger']
  readonly model_version: string
  readonly last_seen: string | null
  /** Days since the last activity, as of `as_of`. */
  readonly days_silent: number | null
  /** The event time the silence and the tenure are counted to: the watermark of the customer's partition, or now. */
  readonly as_of: string
  readonly first_seen: string | null
  /** Whole days from first seen to `as_of`. */
  readonly tenure_days: number | null
  /** The tenure segment (`TENURE_SEGMENTS`): `new`, `1-6-months`, `6-12-months`, `over-12-months`. */
  readonly segment: string | null
}

/** A stored prediction of a customer, newest first. */
export interface CustomerPrediction {
  readonly event_type: string
  readonly churn_score: number
  readonly event_timestamp: string
  readonly prediction_timestamp: string
}

export interface CustomerView {
  readonly customer_id: string
  readonly profile: {
    readonly first_seen: string | null
    readonly last_seen: string | null
    readonly events: number
    readonly orders: number
    readonly total_spent: number
    readonly page_views: number
    readonly support_tickets: number
    readonly payment_failures: number
  }
  readonly risk: AtRiskCustomer | null
  readonly alert: { readonly high_risk: boolean, readonly last_alert_at: string | null }
  readonly predictions: readonly CustomerPrediction[]
}

export interface CustomerReaderOptions {
  readonly profiles: ProfileStore
  /** The model's bands, lowest first: `band=` filters by them. */
  readonly bands: () => readonly RiskBand[]
  /** The input partition holding a customer's state, when the store keeps it per partition. */
  readonly partitionOf?: (id: string) => number | undefined
  /** The event-time watermark of a partition, when known. */
  readonly watermarkOf?: (partition: number | undefined) => number | undefined
  /** A customer's latest stored predictions (from SQL), newest first. */
  readonly predictions?: (id: string, limit: number) => Promise<readonly CustomerPrediction[]>
  readonly now?: () => number
}

/** Most customers one at-risk request returns. */
export const AT_RISK_LIMIT = 1000

/**
 * Reads customers' current risk from the processor's state: the at-risk ranking (every scored
 * customer, silent ones included, by their latest score) and one customer's page. The ranking is
 * one pass over the in-process state keeping the best `limit` in a small heap, or a sorted set in Redis.
 */
export class CustomerReader {
  readonly #o: CustomerReaderOptions

  constructor (options: CustomerReaderOptions) {
    this.#o = options
  }

  /**
   * Customers ranked by current risk, highest first; `band` keeps those whose stored band is that
   * one, `segment` those of that tenure segment. Rejects an unknown band or segment.
   */
  async atRisk (query: { limit: number, band?: string | undefined, segment?: string | undefined }): Promise<AtRiskCustomer[]> {
    const profiles = this.#o.profiles
    const limit = Math.max(1, Math.min(AT_RISK_LIMIT, Math.floor(query.limit)))
    const range = query.band === undefined ? undefined : bandRange(this.#o.bands(), query.band)
    if (query.band !== undefined && range === undefined) throw new RangeError(`unknown band "${query.band}"; the model's bands are ${this.#o.bands().map(b => b.name).join(', ')}`)
    const segment = query.segment
    if (segment !== undefined && !TENURE_SEGMENTS.some(s => s.name === segment)) {
      throw new RangeError(`unknown segment "${segment}"; the segments are ${TENURE_SEGMENTS.map(s => s.name).join(', ')}`)
    }
    if (profiles.forEachRisk !== undefined) {
      const top = new TopK(limit)
      const asOf = this.#asOfPartition()
      profiles.forEachRisk((id, score, band, at, firstSeen, partition) => {
        if (query.band !== undefined && band !== query.band) return
        if (segment !== undefined && tenureSegment(firstSeen, Math.max(asOf(partition), at)) !== segment) return
        top.offer(id, score)
      })
      return this.#entries(top.sorted().map(r => r.id))
    }
    if (profiles.topRisk === undefined) return []
    if (segment === undefined) return this.#entries((await profiles.topRisk(limit, range)).map(r => r.id))
    // A sorted set has no tenure: read down the ranking in widening windows, keeping the segment's.
    for (let window = limit * 4; ; window *= 4) {
      const ranked = await profiles.topRisk(window, range)
      const kept = (await this.#entries(ranked.map(r => r.id))).filter(e => e.segment === segment)
      if (kept.length >= limit || ranked.length < window) return kept.slice(0, limit)
    }
  }

  /** The as-of time of each partition's customers (its watermark, or now), looked up once per partition. */
  #asOfPartition (): (partition: number | undefined) => number {
    const now = (this.#o.now ?? Date.now)()
    const known = new Map<number | undefined, number>()
    return partition => {
      let t = known.get(partition)
      if (t === undefined) known.set(partition, t = this.#o.watermarkOf?.(partition) ?? now)
      return t
    }
  }

  /** The at-risk entries of these customers, in this order; customers no longer scored are left out. */
  async #entries (ids: readonly string[]): Promise<AtRiskCustomer[]> {
    const records = await this.#o.profiles.getMany(ids)
    const out: AtRiskCustomer[] = []
    for (const id of ids) {
      const record = records.get(id)
      if (record?.risk !== undefined) out.push(this.#entry(id, record, record.risk))
    }
    return out
  }

  #entry (id: string, record: ProfileRecord, risk: CurrentRisk): AtRiskCustomer {
    const { lastSeen, firstSeen } = record.profile
    const asOf = Math.max(this.#o.watermarkOf?.(this.#o.partitionOf?.(id)) ?? (this.#o.now ?? Date.now)(), risk.at)
    return {
      customer_id: id,
      churn_score: risk.score,
      risk_band: risk.band,
      reasons: risk.reasons,
      scored_at: isoUtc(risk.at),
      trigger: risk.trigger,
      model_version: risk.modelVersion,
      last_seen: lastSeen > 0 ? isoUtc(lastSeen) : null,
      days_silent: lastSeen > 0 ? Math.round(((asOf - lastSeen) / DAY) * 10) / 10 : null,
      as_of: isoUtc(asOf),
      first_seen: firstSeen > 0 ? isoUtc(firstSeen) : null,
      tenure_days: tenureDays(firstSeen, asOf),
      segment: tenureSegment(firstSeen, asOf)
    }
  }

  /** One customer: profile summary, current risk with reasons, alert state and latest predictions; undefined when unknown. */
  async customer (id: string, predictions = 20): Promise<CustomerView | undefined> {
    const record = (await this.#o.profiles.getMany([id])).get(id)
    if (record === undefined) return undefined
    const p = record.profile
    const time = (ms: number): string | null => ms > 0 ? isoUtc(ms) : null
    return {
      customer_id: id,
      profile: {
        first_seen: time(p.firstSeen),
        last_seen: time(p.lastSeen),
        events: p.events,
        orders: p.orders,
        total_spent: Math.round(p.totalSpent * 100) / 100,
        page_views: p.views + p.productViews,
        support_tickets: p.tickets,
        payment_failures: p.paymentFailures
      },
      risk: record.risk === undefined ? null : this.#entry(id, record, record.risk),
      alert: { high_risk: record.alert.high, last_alert_at: time(record.alert.lastAt) },
      predictions: this.#o.predictions === undefined ? [] : await this.#o.predictions(id, predictions)
    }
  }
}

/** The `k` highest scores offered, in a min-heap of size k: one pass over a million customers, no sort of them all. */
class TopK {
  readonly #k: number
  readonly #heap = new KeyedMinHeap<string>()

  constructor (k: number) {
    this.#k = k
  }

  offer (id: string, score: number): void {
    const heap = this.#heap
    if (heap.size < this.#k) heap.push(score, id)
    else if (score > heap.peekKey()) heap.replaceTop(score, id)
  }

  /** Highest first; ties by id, so the order is stable. */
  sorted (): { id: string, score: number }[] {
    return this.#heap.entries().map(e => ({ id: e.item, score: e.key }))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }
}
