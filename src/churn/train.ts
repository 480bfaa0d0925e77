import { createHash } from 'node:crypto'
import {
  brierScore, calibrationTable, fitBgNbd, GbtModel, IsotonicCalibrator, LogisticModel, logLoss, prAuc, probabilityNoPurchase,
  reliabilityDeciles, rocAuc, trainGbt, trainLogistic, type BgNbdParams, type CalibrationBin, type Dataset, type GbtOptions
} from '../model/index.ts'
import { applyEvent, CHURN_FEATURES, churnFeatureNames, churnFeatures, emptyProfile, type CustomerProfile } from '../profile/index.ts'
import { trueChurnProbability, type CustomerTruth } from '../simulator/index.ts'
import { Rng } from '../util/rng.ts'
import { defaultBands, type ChurnArtifact, type ModelMetrics } from './artifact.ts'
import { isPurchaseHistory, PurchaseScorer, purchaseSummaryOf } from './purchases.ts'
import { eventTypeCodes, type History } from './history.ts'

const DAY = 86_400_000
const WEEK = 7 * DAY
/** A customer silent longer than this is no longer in the snapshots (the features call it "never"). */
const ACTIVE_DAYS = 365
/** The shortest training and test windows a time split accepts; shorter, the split is by customers. */
const MIN_WINDOW_DAYS = 14

/**
 * Churn labels are noisy (a quiet month is partly chance) and several features nearly identify a
 * customer, so shallow trees with large leaves generalise to new customers best. Measured on
 * simulator history: depth 3, rate 0.05, leaves >= 200, L2 10 beat the library defaults by 0.03 AUC.
 * At most 220 trees: held-out AUC is flat from there (0.7745 at 220 and 260 trees, 0.7746 at the
 * 313 early stopping picks without a cap), while every tree costs scoring time on each event.
 */
export const churnGbtDefaults: Partial<GbtOptions> = { trees: 220, maxDepth: 3, learningRate: 0.05, minSamplesLeaf: 200, l2: 10, earlyStoppingRounds: 40 }

export interface TrainOptions {
  readonly horizonDays: number
  /**
   * Test rows are at or after the cutoff; training rows' horizons end before it. Default: the last
   * third of the time that has labels, at most max(horizon, a quarter of the history).
   */
  readonly cutoff?: number
  /** Event types that count as staying active (default: order_placed, checkout). */
  readonly qualifying?: readonly string[]
  /** Days at the start of the history whose events are not rows: their profiles have no past yet (default 30, at most a tenth of the history). */
  readonly warmupDays?: number
  /** Days between snapshots of every active customer (default 7; 0 for event rows only). */
  readonly snapshotDays?: number
  /** Most rows to sample for training and for testing. */
  readonly maxTrainRows?: number
  readonly maxTestRows?: number
  /** Share of customers held out for the test, never seen in training (default 0: the split is by time alone). */
  readonly testCustomers?: number
  readonly seed?: number
  /** Every customer is a test customer and every row after the warm-up a test row (for `evaluate`). */
  readonly evaluationOnly?: boolean
  readonly gbt?: Partial<GbtOptions>
  /** The simulator's truth, to report the oracle's AUC on the same test rows. */
  readonly truth?: ReadonlyMap<string, CustomerTruth>
  readonly onProgress?: (message: string) => void
}

export interface Rows {
  data: Dataset
  /** Customer index and time of each row, for the oracle. */
  customer: Int32Array
  time: Float64Array
  /** BG/NBD's purchase summary of each row (weeks): repeat purchases, last purchase, now. */
  x: Float64Array
  tx: Float64Array
  T: Float64Array
  /** 1 where the row's profile holds purchases alone (the purchase-history model scores it). */
  purchasesOnly: Uint8Array
}

/** Where a history's rows come from in time. */
export interface Windows {
  readonly first: number
  readonly last: number
  readonly warmupEnd: number
  /** Training rows at or before this time (their horizon ends by the cutoff). */
  readonly trainEnd: number
  readonly cutoff: number
  /** Test rows at or before this time (their horizon ends by the last event). */
  readonly testEnd: number
  /** How test rows differ from training rows: by time (after the cutoff), or by customer when the history is too short for that. */
  readonly split: 'time' | 'customers'
}

/** A stable share in [0, 1) of a customer id, to hold customers out. */
export function hashShare (id: string): number {
  return createHash('md5').update(id).digest().readUInt32BE(0) / 2 ** 32
}

/** How a row's time windows are laid out, from the history's span and the options. */
export function windowsOf (first: number, last: number, options: TrainOptions): Windows {
  const horizon = options.horizonDays * DAY
  const span = last - first
  const warmupEnd = first + Math.min(options.warmupDays ?? 30, span / DAY / 10) * DAY
  const testEnd = last - horizon
  if (options.evaluationOnly === true) {
    if (testEnd <= warmupEnd) throw new Error(`the history (${(span / DAY).toFixed(0)} days) is too short to evaluate a ${options.horizonDays}-day horizon: it needs a warm-up and the horizon after it`)
    return { first, last, warmupEnd, trainEnd: warmupEnd, cutoff: warmupEnd, testEnd, split: 'time' }
  }
  if (options.cutoff !== undefined) {
    const trainEnd = options.cutoff - horizon
    if (trainEnd <= warmupEnd || testEnd <= options.cutoff) {
      throw new Error(`the cutoff ${new Date(options.cutoff).toISOString().slice(0, 10)} leaves no room: training rows need a horizon (${options.horizonDays} days) before it, after a warm-up, and test rows a horizon after it before the history ends`)
    }
    return { first, last, warmupEnd, trainEnd, cutoff: options.cutoff, testEnd, split: 'time' }
  }
  // Time with labels, once the gap of one horizon between the training and the test rows is taken out.
  const labelled = testEnd - warmupEnd - horizon
  if (labelled >= 2 * MIN_WINDOW_DAYS * DAY) {
    const testWindow = Math.min(Math.max(horizon, span / 4), labelled / 3)
    const cutoff = testEnd - testWindow
    return { first, last, warmupEnd, trainEnd: cutoff - horizon, cutoff, testEnd, split: 'time' }
  }
  if (testEnd - warmupEnd < MIN_WINDOW_DAYS * DAY) {
    throw new Error(`the history (${(span / DAY).toFixed(0)} days) is too short for a ${options.horizonDays}-day horizon: it needs at least the horizon and ${MIN_WINDOW_DAYS} days after a warm-up`)
  }
  // Too short for a split in time: the same period, other customers.
  return { first, last, warmupEnd, trainEnd: testEnd, cutoff: warmupEnd, testEnd, split: 'customers' }
}

/** Each customer's qualifying times, in order, to label any moment with a binary search: true when none follows `t` within the horizon. */
export function labeller (history: History, order: Uint32Array, qualifyingTypes: readonly string[], horizon: number): (c: number, t: number) => boolean {
  const qualifying = new Set(qualifyingTypes.map(t => eventTypeCodes.indexOf(t as typeof eventTypeCodes[number])))
  if (qualifying.has(-1)) throw new Error(`unknown qualifying event type in ${qualifyingTypes.join(',')}`)
  const customers = history.customers.length
  const counts = new Int32Array(customers + 1)
  for (const i of order) {
    if (qualifying.has(history.type[i] as number)) {
      const c = (history.customer[i] as number) + 1
      counts[c] = (counts[c] as number) + 1
    }
  }
  for (let c = 0; c < customers; c++) counts[c + 1] = (counts[c + 1] as number) + (counts[c] as number)
  const times = new Float64Array(counts[customers] as number)
  const fill = counts.slice(0, customers)
  for (const i of order) {
    if (qualifying.has(history.type[i] as number)) {
      const c = history.customer[i] as number
      times[fill[c] as number] = history.time[i] as number
      fill[c] = (fill[c] as number) + 1
    }
  }
  return (c, t) => {
    let lo = counts[c] as number
    let hi = counts[c + 1] as number
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((times[mid] as number) <= t) lo = mid + 1
      else hi = mid
    }
    return !(lo < (counts[c + 1] as number) && (times[lo] as number) <= t + horizon)
  }
}

/** A growing set of rows with a fixed capacity (rows beyond it are dropped). */
class RowSink {
  readonly x: Float64Array
  readonly y: Uint8Array
  readonly customer: Int32Array
  readonly time: Float64Array
  readonly sx: Float64Array
  readonly stx: Float64Array
  readonly sT: Float64Array
  readonly purchasesOnly: Uint8Array
  rows = 0

  constructor (capacity: number) {
    this.x = new Float64Array(capacity * CHURN_FEATURES)
    this.y = new Uint8Array(capacity)
    this.customer = new Int32Array(capacity)
    this.time = new Float64Array(capacity)
    this.sx = new Float64Array(capacity)
    this.stx = new Float64Array(capacity)
    this.sT = new Float64Array(capacity)
    this.purchasesOnly = new Uint8Array(capacity)
  }

  add (p: CustomerProfile, c: number, t: number, churned: boolean): void {
    const r = this.rows
    if (r === this.y.length) return
    churnFeatures(p, t, this.x, r * CHURN_FEATURES)
    this.y[r] = churned ? 1 : 0
    this.customer[r] = c
    this.time[r] = t
    const s = purchaseSummaryOf(p, t)
    this.sx[r] = s.x
    this.stx[r] = s.tx
    this.sT[r] = s.T
    this.purchasesOnly[r] = isPurchaseHistory(p) ? 1 : 0
    this.rows++
  }

  /** The rows `keep` accepts, as a dataset with their customers, times and summaries. */
  pick (keep: (r: number) => boolean): Rows {
    const rows: number[] = []
    for (let r = 0; r < this.rows; r++) if (keep(r)) rows.push(r)
    const out: Rows = {
      data: { x: new Float64Array(rows.length * CHURN_FEATURES), y: new Uint8Array(rows.length), rows: rows.length, features: CHURN_FEATURES },
      customer: new Int32Array(rows.length), time: new Float64Array(rows.length),
      x: new Float64Array(rows.length), tx: new Float64Array(rows.length), T: new Float64Array(rows.length), purchasesOnly: new Uint8Array(rows.length)
    }
    rows.forEach((r, j) => {
      out.data.x.set(this.x.subarray(r * CHURN_FEATURES, (r + 1) * CHURN_FEATURES), j * CHURN_FEATURES)
      out.data.y[j] = this.y[r] as number
      out.customer[j] = this.customer[r] as number
      out.time[j] = this.time[r] as number
      out.x[j] = this.sx[r] as number
      out.tx[j] = this.stx[r] as number
      out.T[j] = this.sT[r] as number
      out.purchasesOnly[j] = this.purchasesOnly[r] as number
    })
    return out
  }
}

/** The rows of a history, split, and BG/NBD's view of the training customers at the end of training. */
export interface BuiltRows {
  train: Rows
  /** Validation customers' rows in the latest half of the training window: early stopping and calibration. */
  valid: Rows
  test: Rows
  windows: Windows
  cutoff: number
  span: [number, number]
  /** Purchase summaries (weeks) of the training customers as of the end of the training window, for BG/NBD. */
  summaries: { x: Float64Array, tx: Float64Array, T: Float64Array }
}

/**
 * Builds the labelled rows of a history. Rows are customers at moments: right after each of their
 * events (as the processor scores it) and, every `snapshotDays`, every active customer whether or
 * not they did anything (as `score --at` and the silence sweeps score them), so the model learns
 * what silence means. A row is labelled 1 when no qualifying event of the customer follows within
 * the horizon. The split is by time: training rows' horizons end by the cutoff, test rows start at it.
 */
export function buildRows (history: History, options: TrainOptions): BuiltRows {
  const order = history.order()
  const n = order.length
  if (n === 0) throw new Error('the history holds no usable events')
  const w = windowsOf(history.time[order[0] as number] as number, history.time[order[n - 1] as number] as number, options)
  const horizon = options.horizonDays * DAY
  const churnedAfter = labeller(history, order, options.qualifying ?? ['order_placed', 'checkout'], horizon)
  const customers = history.customers.length
  const evaluationOnly = options.evaluationOnly === true
  // 1: test customers; 2: validation customers (early stopping and calibration must see customers
  // training did not, or they reward memorising them); 0: training customers.
  const testShare = evaluationOnly ? 1 : w.split === 'customers' ? Math.max(0.25, options.testCustomers ?? 0) : options.testCustomers ?? 0
  const heldOut = new Uint8Array(customers)
  history.customers.forEach((id, c) => {
    const h = hashShare(id)
    heldOut[c] = h < testShare ? 1 : h < testShare + (evaluationOnly ? 0 : 0.15) ? 2 : 0
  })
  /** 1: a training row, 2: a test row, 0: neither. */
  const role = (c: number, t: number): number => {
    if (t < w.warmupEnd) return 0
    if (heldOut[c] !== 1 && !evaluationOnly && t <= w.trainEnd) return 1
    if (t >= w.cutoff && t <= w.testEnd && (testShare === 0 || heldOut[c] === 1)) return 2
    return 0
  }
  const step = (options.snapshotDays ?? 7) * DAY
  const snapshots: number[] = []
  if (step > 0) for (let s = w.warmupEnd; s <= w.testEnd; s += step) snapshots.push(s)

  // Rows each role could get, to sample down to the most asked for.
  const firstSeen = new Float64Array(customers).fill(Number.POSITIVE_INFINITY)
  const eligible = new Float64Array(3)
  for (const i of order) {
    const c = history.customer[i] as number
    const t = history.time[i] as number
    if (t < (firstSeen[c] as number)) firstSeen[c] = t
    eligible[role(c, t)] = (eligible[role(c, t)] as number) + 1
  }
  for (const s of snapshots) for (let c = 0; c < customers; c++) if ((firstSeen[c] as number) <= s) eligible[role(c, s)] = (eligible[role(c, s)] as number) + 1
  const trainRate = Math.min(1, (options.maxTrainRows ?? 300_000) / Math.max(1, eligible[1] as number))
  const testRate = Math.min(1, (options.maxTestRows ?? 100_000) / Math.max(1, eligible[2] as number))
  const train = new RowSink(Math.ceil((eligible[1] as number) * trainRate * 1.1) + 16)
  const test = new RowSink(Math.ceil((eligible[2] as number) * testRate * 1.1) + 16)
  const rng = new Rng(options.seed ?? 1)
  const profiles: (CustomerProfile | undefined)[] = new Array(customers)
  const row = (p: CustomerProfile, c: number, t: number): void => {
    const r = role(c, t)
    if (r === 1 && rng.next() < trainRate) train.add(p, c, t, churnedAfter(c, t))
    else if (r === 2 && rng.next() < testRate) test.add(p, c, t, churnedAfter(c, t))
  }
  const snapshot = (s: number): void => {
    for (let c = 0; c < customers; c++) {
      const p = profiles[c]
      if (p !== undefined && s - p.lastSeen <= ACTIVE_DAYS * DAY) row(p, c, s)
    }
  }
  let summaries: BuiltRows['summaries'] | undefined
  const summarise = (): BuiltRows['summaries'] => trainingSummaries(profiles, heldOut, w.trainEnd)

  let next = 0
  for (let k = 0; k < n; k++) {
    const i = order[k] as number
    const t = history.time[i] as number
    while (next < snapshots.length && (snapshots[next] as number) < t) snapshot(snapshots[next++] as number)
    if (summaries === undefined && t > w.trainEnd) summaries = summarise()
    const c = history.customer[i] as number
    const p = profiles[c] ??= emptyProfile()
    applyEvent(p, history.event(i))
    row(p, c, t)
    if (options.onProgress !== undefined && k > 0 && k % 2_000_000 === 0) options.onProgress(`replayed ${k} of ${n} events`)
  }
  while (next < snapshots.length) snapshot(snapshots[next++] as number)

  const validFrom = w.trainEnd - (w.trainEnd - w.warmupEnd) / 2
  return {
    train: train.pick(r => heldOut[train.customer[r] as number] === 0),
    valid: train.pick(r => heldOut[train.customer[r] as number] === 2 && (train.time[r] as number) >= validFrom),
    test: test.pick(() => true),
    windows: w,
    cutoff: w.cutoff,
    span: [w.first, w.last],
    summaries: summaries ?? summarise()
  }
}

/** Customers BG/NBD is fitted on, at most: its four parameters are settled long before, and the fit is per customer. */
const BGNBD_CUSTOMERS = 5000

/** BG/NBD's purchase summaries of (at most 5,000 of) the customers not held out for the test, as of `at`. */
function trainingSummaries (profiles: readonly (CustomerProfile | undefined)[], heldOut: Uint8Array, at: number): BuiltRows['summaries'] {
  const x: number[] = []
  const tx: number[] = []
  const T: number[] = []
  let eligible = 0
  for (let c = 0; c < profiles.length; c++) if (profiles[c] !== undefined && heldOut[c] !== 1) eligible++
  const every = Math.max(1, Math.ceil(eligible / BGNBD_CUSTOMERS))
  let k = 0
  profiles.forEach((p, c) => {
    if (p === undefined || heldOut[c] === 1 || k++ % every !== 0) return
    const s = purchaseSummaryOf(p, at)
    x.push(s.x)
    tx.push(s.tx)
    T.push(s.T)
  })
  return { x: Float64Array.from(x), tx: Float64Array.from(tx), T: Float64Array.from(T) }
}

/**
 * True when a history holds purchase events alone: its trees are then its purchase-history model,
 * and no BG/NBD goes beside them. A richer history's artifact carries its BG/NBD fit for the
 * customers whose profile holds purchases alone.
 */
function purchaseOnly (history: History): boolean {
  const purchases = new Set(['order_placed', 'checkout', 'order_cancelled', 'refund_requested'].map(t => eventTypeCodes.indexOf(t as typeof eventTypeCodes[number])))
  for (let i = 0; i < history.size; i++) if (!purchases.has(history.type[i] as number)) return false
  return true
}

type Measured = ModelMetrics & { brier: number, calibration: CalibrationBin[], deciles: CalibrationBin[] }

function evaluate (scores: Float64Array, labels: Uint8Array): Measured {
  return {
    roc_auc: rocAuc(scores, labels),
    pr_auc: prAuc(scores, labels),
    log_loss: logLoss(scores, labels),
    brier: brierScore(scores, labels),
    calibration: calibrationTable(scores, labels, 10),
    deciles: reliabilityDeciles(scores, labels, 10)
  }
}

/** Scores every row of `rows` with `predict`. */
function scoreRows (rows: Rows, predict: (x: Float64Array, offset: number) => number): Float64Array {
  const out = new Float64Array(rows.data.rows)
  for (let r = 0; r < rows.data.rows; r++) out[r] = predict(rows.data.x, r * CHURN_FEATURES)
  return out
}

/** The oracle's metrics on the same rows, when the truth knows every customer in them. */
function oracleMetrics (history: History, rows: Rows, truth: ReadonlyMap<string, CustomerTruth> | undefined, horizonDays: number): Measured | undefined {
  if (truth === undefined) return undefined
  const scores = new Float64Array(rows.data.rows)
  for (let r = 0; r < rows.data.rows; r++) {
    const t = truth.get(history.customers[rows.customer[r] as number] as string)
    if (t === undefined) return undefined
    scores[r] = trueChurnProbability(t, rows.time[r] as number, horizonDays)
  }
  return evaluate(scores, rows.data.y)
}

const bothClasses = (rows: Rows): boolean => {
  const p = rows.data.y.reduce((a, b) => a + b, 0)
  return p > 0 && p < rows.data.rows
}

/** Fits isotonic calibration of `raw` on the validation rows, when they are enough to. */
function calibrationOn (valid: Rows, raw: (x: Float64Array, offset: number) => number): IsotonicCalibrator | undefined {
  if (valid.data.rows < 200 || !bothClasses(valid)) return undefined
  return IsotonicCalibrator.fit(scoreRows(valid, raw), valid.data.y)
}

const RECENCY = churnFeatureNames.indexOf('days_since_last_purchase')
const recency = (x: Float64Array, o: number): number => x[o + RECENCY] as number

/**
 * The baselines on the test rows: recency alone (days since the last purchase, calibrated on the
 * validation rows), and BG/NBD fitted by maximum likelihood on the training customers' purchase
 * summaries, its probability of no purchase within the horizon (never P(alive), which calls every
 * customer without a repeat purchase safe).
 */
function baselines (built: BuiltRows, horizonDays: number): { recency: Measured, bgnbd?: Measured, params?: BgNbdParams } {
  const { test, valid, summaries } = built
  const recencyMap = calibrationOn(valid, recency) ?? IsotonicCalibrator.fit(scoreRows(built.train, recency), built.train.data.y)
  const out: { recency: Measured, bgnbd?: Measured, params?: BgNbdParams } = { recency: evaluate(scoreRows(test, (x, o) => recencyMap.apply(recency(x, o))), test.data.y) }
  let repeat = 0
  for (const x of summaries.x) if (x > 0) repeat++
  if (repeat < 20) return out
  const { params } = fitBgNbd(summaries)
  const weeks = (horizonDays * DAY) / WEEK
  const none = new Float64Array(test.data.rows)
  for (let r = 0; r < none.length; r++) none[r] = probabilityNoPurchase(params, test.x[r] as number, test.tx[r] as number, test.T[r] as number, weeks)
  return { ...out, bgnbd: evaluate(none, test.data.y), params }
}

/** Trains the churn model on a history, calibrates it on a validation period, and measures it beside its baselines. */
export function trainChurnModel (history: History, options: TrainOptions): ChurnArtifact {
  const started = Date.now()
  const built = buildRows(history, options)
  const { train, valid, test, windows } = built
  const positives = (rows: Rows): number => rows.data.y.reduce((a, b) => a + b, 0)
  options.onProgress?.(`rows: ${train.data.rows} train (${positives(train)} churned), ${valid.data.rows} validation, ${test.data.rows} test (${windows.split === 'time' ? 'at or after the cutoff' : 'held-out customers: the history is too short to split in time'})`)
  if (train.data.rows < 100 || test.data.rows < 50 || !bothClasses(train) || !bothClasses(test)) {
    throw new Error(`too few rows, or only one class, to train and test on (${train.data.rows} training rows, ${positives(train)} churned; ${test.data.rows} test rows, ${positives(test)} churned): give a longer history, more customers, or another --cutoff`)
  }
  const early = valid.data.rows >= 50 && bothClasses(valid) ? valid.data : undefined
  const gbt = trainGbt(train.data, { ...churnGbtDefaults, ...options.gbt }, early, (tree, trainLoss, validLoss) => {
    if (tree % 50 === 0) options.onProgress?.(`tree ${tree}: train log loss ${trainLoss.toFixed(4)}${validLoss === undefined ? '' : `, validation ${validLoss.toFixed(4)}`}`)
  })
  const raw = (x: Float64Array, o: number): number => gbt.predict(x, o)
  const calibrator = calibrationOn(valid, raw)
  const logistic = trainLogistic(train.data)
  const model = evaluate(scoreRows(test, (x, o) => (calibrator === undefined ? raw(x, o) : calibrator.apply(raw(x, o)))), test.data.y)
  const uncalibrated = evaluate(scoreRows(test, raw), test.data.y)
  const base = evaluate(scoreRows(test, (x, o) => logistic.predict(x, o)), test.data.y)
  const others = baselines(built, options.horizonDays)
  const oracle = oracleMetrics(history, test, options.truth, options.horizonDays)
  const importance = gbt.importance()
  const created = new Date()
  const version = `churn-${created.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}-${createHash('sha256').update(JSON.stringify(gbt.toJSON())).digest('hex').slice(0, 8)}`
  return {
    format: 'churnflow-model',
    format_version: 1,
    kind: 'churn',
    model_version: version,
    created_at: created.toISOString(),
    features: [...churnFeatureNames],
    horizon_days: options.horizonDays,
    qualifying: [...(options.qualifying ?? ['order_placed', 'checkout'])],
    bands: defaultBands,
    model: gbt.toJSON(),
    ...(calibrator === undefined ? {} : { calibration: calibrator.toJSON() }),
    baseline: logistic.toJSON(),
    ...(others.params === undefined || purchaseOnly(history)
      ? {}
      : { purchase_model: { kind: 'bgnbd' as const, params: others.params, horizon_days: options.horizonDays, fitted_on: `the training customers of this history as of ${new Date(windows.trainEnd).toISOString().slice(0, 10)}`, metrics: { test_roc_auc: others.bgnbd?.roc_auc ?? Number.NaN } } }),
    training: {
      events: history.size,
      customers: history.customers.length,
      skipped_records: history.skipped,
      history_from: new Date(windows.first).toISOString(),
      history_to: new Date(windows.last).toISOString(),
      cutoff: new Date(windows.cutoff).toISOString(),
      split: windows.split,
      snapshot_days: options.snapshotDays ?? 7,
      train_rows: train.data.rows,
      validation_rows: valid.data.rows,
      test_rows: test.data.rows,
      test_churn_rate: positives(test) / test.data.rows,
      trees: gbt.trees,
      calibration: calibrator === undefined ? 'none (too few validation rows)' : 'isotonic, on the validation period',
      ...(others.params === undefined ? {} : { bgnbd_r: others.params.r, bgnbd_alpha: others.params.alpha, bgnbd_a: others.params.a, bgnbd_b: others.params.b }),
      seconds: (Date.now() - started) / 1000
    },
    metrics: {
      test: {
        model, baseline: base, recency: others.recency, uncalibrated,
        ...(others.bgnbd === undefined ? {} : { bgnbd: others.bgnbd }),
        ...(oracle === undefined ? {} : { oracle })
      },
      importance: churnFeatureNames.map((name, j) => ({ feature: name, importance: importance[j] as number })).sort((a, b) => b.importance - a.importance),
      baseline_coefficients: [...logistic.coefficients()].map((c, j) => ({ feature: churnFeatureNames[j] as string, coefficient: c }))
        .sort((a, b) => Math.abs(b.coefficient) - Math.abs(a.coefficient))
    }
  }
}

const AVG_ORDER_VALUE = churnFeatureNames.indexOf('avg_order_value')
const PURCHASES_7D = churnFeatureNames.indexOf('purchases_7d')
const PURCHASES_30D = churnFeatureNames.indexOf('purchases_30d')

/** Scores rows as the artifact's scorer does: its purchase-history model where a row's profile holds purchases alone, else `trees`. */
function asServed (artifact: ChurnArtifact, rows: Rows, trees: (row: { x: Float64Array, o: number }) => number): Float64Array {
  const purchases = artifact.purchase_model === undefined ? undefined : new PurchaseScorer(artifact.purchase_model)
  const out = new Float64Array(rows.data.rows)
  const x = rows.data.x
  for (let r = 0; r < out.length; r++) {
    const o = r * CHURN_FEATURES
    out[r] = purchases !== undefined && rows.purchasesOnly[r] === 1
      ? purchases.score({ x: rows.x[r] as number, tx: rows.tx[r] as number, T: rows.T[r] as number, meanValue: x[o + AVG_ORDER_VALUE] as number, recent7: x[o + PURCHASES_7D] as number, recent30: x[o + PURCHASES_30D] as number })
      : trees({ x, o })
  }
  return out
}

export interface EvaluationReport {
  readonly rows: number
  readonly churnRate: number
  readonly model: Measured
  readonly baseline: Measured
  readonly recency: Measured
  readonly oracle?: Measured
}

/**
 * Measures a trained artifact on another history as it scores: calibrated, and with its
 * purchase-history model on the rows whose profile holds purchases alone. Every row after the
 * warm-up is a test row.
 */
export function evaluateChurnModel (artifact: ChurnArtifact, history: History, options: Omit<TrainOptions, 'horizonDays'> & { horizonDays?: number }): EvaluationReport {
  const horizonDays = options.horizonDays ?? artifact.horizon_days
  const { test } = buildRows(history, { ...options, horizonDays, qualifying: options.qualifying ?? artifact.qualifying, evaluationOnly: true })
  if (test.data.rows === 0) throw new Error('the history leaves no rows to evaluate on: it needs a warm-up and the horizon after it')
  const gbt = GbtModel.fromJSON(artifact.model)
  const calibrator = artifact.calibration === undefined ? undefined : IsotonicCalibrator.fromJSON(artifact.calibration)
  const baseline = LogisticModel.fromJSON(artifact.baseline)
  const oracle = oracleMetrics(history, test, options.truth, horizonDays)
  // Recency has no fitted map here: its ranking is what counts, so it is scaled to [0, 1] by the feature's cap.
  const recencyScores = scoreRows(test, (x, o) => Math.min(1, recency(x, o) / 365))
  return {
    rows: test.data.rows,
    churnRate: test.data.y.reduce((a, b) => a + b, 0) / test.data.rows,
    model: evaluate(asServed(artifact, test, x => (calibrator === undefined ? gbt.predict(x.x, x.o) : calibrator.apply(gbt.predict(x.x, x.o)))), test.data.y),
    baseline: evaluate(scoreRows(test, (x, o) => baseline.predict(x, o)), test.data.y),
    recency: evaluate(recencyScores, test.data.y),
    ...(oracle === undefined ? {} : { oracle })
  }
}
