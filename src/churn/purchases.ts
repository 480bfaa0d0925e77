import {
  expectedPurchases, GbtModel, IsotonicCalibrator, probabilityAlive, probabilityNoPurchase,
  type BgNbdParams, type GbtModelJson, type IsotonicJson, type PurchaseSummaries, type PurchaseSummary
} from '../model/index.ts'
import { HALF_LIVES, type CustomerProfile } from '../profile/index.ts'

const DAY = 86_400_000
const WEEK = 7 * DAY

/**
 * True when a profile holds purchases alone (orders, checkouts, their cancellations and refunds):
 * a purchase history, such as a shop's invoices, with none of the behaviour the trees read.
 */
export function isPurchaseHistory (p: CustomerProfile): boolean {
  return p.events > 0 && p.events === p.orders + p.checkouts + p.orderCancels + p.refunds
}

/**
 * BG/NBD's view of a profile as of `at`, in weeks: repeat purchases, the last purchase's time and
 * the time now, both from the customer's first event. With one purchase event per purchase day
 * (as the CDNOW reader makes them) it is the literature's calibration summary exactly.
 */
export function purchaseSummaryOf (profile: CustomerProfile, at: number): PurchaseSummary {
  const purchases = profile.orders + profile.checkouts
  const birth = profile.firstSeen
  return {
    x: Math.max(0, purchases - 1),
    tx: purchases > 1 ? Math.max(0, (profile.lastPurchase - birth) / WEEK) : 0,
    T: Math.max(0, (at - birth) / WEEK)
  }
}

/** Purchase summaries of many profiles as of `at`, column by column, in the given order. */
export function purchaseSummariesOf (profiles: readonly CustomerProfile[], at: number): PurchaseSummaries {
  const n = profiles.length
  const out = { x: new Float64Array(n), tx: new Float64Array(n), T: new Float64Array(n) }
  profiles.forEach((p, i) => {
    const s = purchaseSummaryOf(p, at)
    out.x[i] = s.x
    out.tx[i] = s.tx
    out.T[i] = s.T
  })
  return out
}

/**
 * What the purchase-history trees read of a customer as of a time: BG/NBD's summary (weeks), the
 * mean order value, and the purchases decayed to that time with 7- and 30-day half-lives.
 */
export interface PurchaseView extends PurchaseSummary {
  readonly meanValue: number
  readonly recent7: number
  readonly recent30: number
}

/** A profile's {@link PurchaseView} as of `at`. */
export function purchaseViewOf (p: CustomerProfile, at: number): PurchaseView {
  const days = p.decayAt === 0 || at <= p.decayAt ? 0 : (at - p.decayAt) / DAY
  return {
    ...purchaseSummaryOf(p, at),
    meanValue: p.orders > 0 ? p.totalSpent / p.orders : 0,
    recent7: p.d7Purchases * Math.pow(2, -days / HALF_LIVES.short),
    recent30: p.d30Purchases * Math.pow(2, -days / HALF_LIVES.long)
  }
}

/** The purchase-history trees' features, in order (weeks, as BG/NBD counts time). */
export const purchaseFeatureNames = [
  'repeat_purchases', 'weeks_to_last_purchase', 'weeks_since_first_purchase', 'weeks_since_last_purchase', 'purchases_per_week',
  'mean_weeks_between_purchases', 'silence_over_mean_gap', 'avg_order_value', 'purchases_7d', 'purchases_30d',
  'bgnbd_expected_purchases', 'bgnbd_p_alive', 'bgnbd_p_no_purchase'
] as const
export const PURCHASE_FEATURES = purchaseFeatureNames.length

/**
 * Writes the purchase-history features of `v` into `out` from `offset`: recency and frequency in
 * the customer's own terms (the silence against their usual gap between purchases), and BG/NBD's
 * expected purchases, P(alive) and P(no purchase) within the horizon, so the trees start from the
 * standard model of this data and learn where it is wrong.
 */
export function purchaseFeatures (v: PurchaseView, params: BgNbdParams, horizonWeeks: number, out: Float64Array, offset = 0): void {
  const meanGap = v.x > 0 ? v.tx / v.x : 0
  let i = offset
  out[i++] = v.x
  out[i++] = v.tx
  out[i++] = v.T
  out[i++] = v.T - v.tx
  out[i++] = v.x / Math.max(1, v.T)
  out[i++] = meanGap
  out[i++] = meanGap > 0 ? (v.T - v.tx) / meanGap : -1
  out[i++] = v.meanValue
  out[i++] = v.recent7
  out[i++] = v.recent30
  out[i++] = expectedPurchases(params, v.x, v.tx, v.T, horizonWeeks)
  out[i++] = probabilityAlive(params, v.x, v.tx, v.T)
  out[i] = probabilityNoPurchase(params, v.x, v.tx, v.T, horizonWeeks)
}

/**
 * The model for purchase histories: BG/NBD (parameters per week) and, when trained, trees on
 * {@link purchaseFeatures} with their isotonic calibration. It scores customers whose profile holds
 * purchases alone, with their probability of no purchase within `horizon_days`: the trees' when
 * present, else BG/NBD's. The churn trees learn from behaviour (sessions, carts, logins, emails)
 * and rank such customers badly.
 */
export interface PurchaseModel {
  kind: 'bgnbd'
  params: BgNbdParams
  horizon_days: number
  /** Where the parameters were fitted, and what it measured (for people). */
  fitted_on: string
  metrics?: Record<string, number>
  /** Trees on {@link purchaseFeatureNames}, trained on the purchase history's own earlier periods. */
  trees?: GbtModelJson
  calibration?: IsotonicJson
  features?: string[]
}

/** Scores purchase views with a {@link PurchaseModel}: its trees when it has them, else BG/NBD. */
export class PurchaseScorer {
  readonly model: PurchaseModel
  readonly #trees: GbtModel | undefined
  readonly #calibration: IsotonicCalibrator | undefined
  readonly #features = new Float64Array(PURCHASE_FEATURES)

  constructor (model: PurchaseModel) {
    const { params, horizon_days: horizon } = model
    if (!(model.kind === 'bgnbd' && [params?.r, params?.alpha, params?.a, params?.b, horizon].every(v => typeof v === 'number' && v > 0))) {
      throw new Error('its BG/NBD parameters or horizon are missing or not positive')
    }
    this.model = model
    this.#trees = model.trees === undefined ? undefined : GbtModel.fromJSON(model.trees)
    if (this.#trees !== undefined && (this.#trees.features !== PURCHASE_FEATURES || model.features?.join(',') !== purchaseFeatureNames.join(','))) {
      throw new Error(`its trees read other features than this churnflow computes (${purchaseFeatureNames.join(', ')})`)
    }
    this.#calibration = model.calibration === undefined ? undefined : IsotonicCalibrator.fromJSON(model.calibration)
  }

  /** The probability of no purchase within the model's horizon. */
  score (v: PurchaseView): number {
    const weeks = this.model.horizon_days / 7
    if (this.#trees === undefined) return probabilityNoPurchase(this.model.params, v.x, v.tx, v.T, weeks)
    purchaseFeatures(v, this.model.params, weeks, this.#features)
    const raw = this.#trees.predict(this.#features)
    return this.#calibration === undefined ? raw : this.#calibration.apply(raw)
  }
}
