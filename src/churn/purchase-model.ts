import { fitBgNbd, IsotonicCalibrator, rocAuc, trainGbt, type Dataset, type GbtOptions } from '../model/index.ts'
import { applyEvent, emptyProfile, type CustomerProfile } from '../profile/index.ts'
import type { History } from './history.ts'
import {
  isPurchaseHistory, PURCHASE_FEATURES, purchaseFeatureNames, purchaseFeatures, purchaseSummaryOf, purchaseViewOf, type PurchaseModel, type PurchaseView
} from './purchases.ts'
import { churnGbtDefaults, hashShare, labeller } from './train.ts'

const DAY = 86_400_000

export interface PurchaseModelOptions {
  /** The end of the history the model may see: rows are earlier, and their horizons end by it. */
  readonly at: number
  readonly horizonDays: number
  /** Days between snapshots of every customer (default 7). */
  readonly stepDays?: number
  /** Share of customers kept for early stopping and calibration (default 0.15). */
  readonly validation?: number
  readonly gbt?: Partial<GbtOptions>
  /** What the artifact says the model was fitted on. */
  readonly fittedOn?: string
}

/**
 * Trains the purchase-history model on a history's purchases up to `at`, with no label from after
 * it: BG/NBD fitted by maximum likelihood on every customer's summary as of `at`, and trees on
 * {@link purchaseFeatures} whose rows are each customer every `stepDays`, labelled churned when no
 * purchase follows within the horizon (all before `at`). A share of customers is held out to stop
 * the boosting and to fit its isotonic calibration.
 */
export function trainPurchaseModel (history: History, options: PurchaseModelOptions): PurchaseModel {
  const { at } = options
  const horizon = options.horizonDays * DAY
  const order = history.order()
  const churnedAfter = labeller(history, order, ['order_placed', 'checkout'], horizon)
  const customers = history.customers.length
  const validShare = options.validation ?? 0.15
  const inValidation = Uint8Array.from(history.customers, id => (hashShare(id) < validShare ? 1 : 0))
  const profiles: (CustomerProfile | undefined)[] = new Array(customers)
  const rows: { view: PurchaseView, churned: boolean, valid: boolean }[] = []
  const snapshot = (s: number): void => {
    profiles.forEach((p, c) => {
      if (p !== undefined && isPurchaseHistory(p)) rows.push({ view: purchaseViewOf(p, s), churned: churnedAfter(c, s), valid: inValidation[c] === 1 })
    })
  }
  const step = (options.stepDays ?? 7) * DAY
  let next = order.length === 0 ? Number.POSITIVE_INFINITY : (history.time[order[0] as number] as number) + step
  for (const i of order) {
    const t = history.time[i] as number
    if (t > at) break
    for (; next < t && next + horizon <= at; next += step) snapshot(next)
    applyEvent(profiles[history.customer[i] as number] ??= emptyProfile(), history.event(i))
  }
  for (; next + horizon <= at; next += step) snapshot(next)

  const buyers = profiles.filter((p): p is CustomerProfile => p !== undefined && isPurchaseHistory(p) && p.orders + p.checkouts > 0).map(p => purchaseSummaryOf(p, at))
  const { params } = fitBgNbd({ x: Float64Array.from(buyers, s => s.x), tx: Float64Array.from(buyers, s => s.tx), T: Float64Array.from(buyers, s => s.T) })
  const weeks = options.horizonDays / 7
  const dataset = (valid: boolean): Dataset => {
    const picked = rows.filter(r => r.valid === valid)
    const x = new Float64Array(picked.length * PURCHASE_FEATURES)
    picked.forEach((r, k) => { purchaseFeatures(r.view, params, weeks, x, k * PURCHASE_FEATURES) })
    return { x, y: Uint8Array.from(picked, r => (r.churned ? 1 : 0)), rows: picked.length, features: PURCHASE_FEATURES }
  }
  const train = dataset(false)
  const valid = dataset(true)
  if (train.rows < 100 || valid.rows < 50) throw new Error(`too few snapshot rows before ${new Date(at).toISOString().slice(0, 10)} to train a purchase-history model with a ${options.horizonDays}-day horizon (${train.rows} training, ${valid.rows} validation)`)
  const trees = trainGbt(train, { ...churnGbtDefaults, ...options.gbt }, valid)
  const raw = Array.from({ length: valid.rows }, (_, r) => trees.predict(valid.x, r * PURCHASE_FEATURES))
  const calibration = IsotonicCalibrator.fit(raw, valid.y)
  return {
    kind: 'bgnbd',
    params,
    horizon_days: options.horizonDays,
    fitted_on: options.fittedOn ?? `purchases to ${new Date(at).toISOString().slice(0, 10)}`,
    metrics: { train_rows: train.rows, validation_rows: valid.rows, trees: trees.trees, validation_roc_auc: rocAuc(raw, valid.y) },
    trees: trees.toJSON(),
    calibration: calibration.toJSON(),
    features: [...purchaseFeatureNames]
  }
}
