// Churn ranking on CDNOW, the public purchase record of the "buy till you die" literature, at the
// end of its calibration period (1997-09-30): a customer churned when they make no purchase in the
// holdout (to 1998-06-30). Every scorer is measured on all 23,570 customers, customer-level:
//   - the gradient-boosted trees on churnflow's own features, 5-fold cross-validated by customer,
//     calibrated by isotonic regression on one of each split's four training folds;
//   - BG/NBD fitted by maximum likelihood (no labels), ranked by minus its expected holdout
//     purchases, its probability of no purchase as the probability;
//   - logistic regression on the same features, 5-fold;
//   - recency alone (days since the last purchase), calibrated isotonically in the same folds;
//   - the purchase-history model as the product trains it (trainPurchaseModel): BG/NBD and trees on
//     the purchase features, trained on the calibration period alone (weekly snapshots, each
//     labelled by a purchase within the shipped horizon, all before the cutoff), no holdout label;
//   - the shipped model (models/churn-model.json), as it ships.
// The data is read from ../shared/data/cdnow (or CHURNFLOW_CDNOW_DIR) and converted in memory.
//
//   npm run bench:cdnow [-- --file CDNOW_sample.txt] [--folds 5] [--trees 400] [--snapshots N] [--bgnbd-features] [--purchase-features]
import { parseArgs } from 'node:util'
import {
  CDNOW, cdnowDir, ChurnScorer, churnGbtDefaults, loadChurnArtifact, noPurchaseLabels, PURCHASE_FEATURES, purchaseFeatures, profilesAsOf, purchaseSummariesOf,
  purchaseSummaryOf, purchaseViewOf, readCdnow, shippedChurnModelPath, trainPurchaseModel
} from '../src/churn/index.ts'
import {
  brierScore, expectedPurchases, fitBgNbd, IsotonicCalibrator, probabilityAlive, largestCalibrationGap, prAuc, probabilityNoPurchase, reliabilityDeciles,
  rocAuc, trainGbt, trainLogistic, type CalibrationBin, type Dataset
} from '../src/model/index.ts'
import { CHURN_FEATURES, churnFeatures, type CustomerProfile } from '../src/profile/index.ts'

const { values } = parseArgs({
  options: {
    file: { type: 'string', default: CDNOW.masterFile },
    folds: { type: 'string', default: '5' },
    trees: { type: 'string', default: '400' },
    snapshots: { type: 'string', default: '0' },
    'bgnbd-features': { type: 'boolean', default: false },
    'purchase-features': { type: 'boolean', default: false }
  }
})
const folds = Number(values.folds)
const at = CDNOW.calibrationEnd
const started = performance.now()
const history = await readCdnow(cdnowDir(), values.file)
const profiles = profilesAsOf(history, at).filter((p): p is CustomerProfile => p !== undefined)
const labels = noPurchaseLabels(history, at, CDNOW.holdoutEnd)
const n = profiles.length
const summary = purchaseSummariesOf(profiles, at)
const bg = fitBgNbd(summary)
const weeks = (CDNOW.holdoutEnd - at) / (7 * 86_400_000)
/** With --bgnbd-features the trees also read BG/NBD's expected purchases, P(alive) and P(no purchase) (fitted without labels). */
const stacked = values['bgnbd-features']
/** With --purchase-features the trees also read the purchase-history model's features (BG/NBD's quantities among them). */
const purchaseColumns = values['purchase-features']
const FEATURES = CHURN_FEATURES + (stacked ? 3 : 0) + (purchaseColumns ? PURCHASE_FEATURES : 0)
function featuresOf (p: CustomerProfile, when: number, out: Float64Array, offset: number): void {
  churnFeatures(p, when, out, offset)
  if (purchaseColumns) purchaseFeatures(purchaseViewOf(p, when), bg.params, weeks, out, offset + FEATURES - PURCHASE_FEATURES)
  if (!stacked) return
  const s = purchaseSummaryOf(p, when)
  out[offset + CHURN_FEATURES] = expectedPurchases(bg.params, s.x, s.tx, s.T, weeks)
  out[offset + CHURN_FEATURES + 1] = probabilityAlive(bg.params, s.x, s.tx, s.T)
  out[offset + CHURN_FEATURES + 2] = probabilityNoPurchase(bg.params, s.x, s.tx, s.T, weeks)
}
const x = new Float64Array(n * FEATURES)
profiles.forEach((p, i) => { featuresOf(p, at, x, i * FEATURES) })
const positives = labels.reduce((a, b) => a + b, 0)
process.stdout.write(`CDNOW ${values.file}: ${n} customers, ${history.size} purchase days; ${(100 * positives / n).toFixed(1)}% churned (no purchase ${new Date(at).toISOString().slice(0, 10)} to ${new Date(CDNOW.holdoutEnd).toISOString().slice(0, 10)})\n\n`)

/** Rows of `x`/`labels` by index. */
function subset (rows: readonly number[]): Dataset {
  const sx = new Float64Array(rows.length * FEATURES)
  const sy = new Uint8Array(rows.length)
  rows.forEach((r, k) => {
    sx.set(x.subarray(r * FEATURES, (r + 1) * FEATURES), k * FEATURES)
    sy[k] = labels[r] as number
  })
  return { x: sx, y: sy, rows: rows.length, features: FEATURES }
}

/** Folds by a fixed shuffle of customers: fold of customer i. */
const fold = new Uint8Array(n)
{
  let s = 12_345
  for (let i = 0; i < n; i++) {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31
    fold[i] = Math.floor((s / 2 ** 31) * folds)
  }
}

/**
 * Out-of-fold probabilities of a scorer: for each fold, `fit` sees four fifths of the other folds'
 * rows and returns a raw scorer; the last fifth calibrates it isotonically.
 */
function crossValidated (fit: (train: Dataset, valid: Dataset) => (row: number) => number): Float64Array {
  const out = new Float64Array(n)
  for (let f = 0; f < folds; f++) {
    const fitRows: number[] = []
    const calRows: number[] = []
    const testRows: number[] = []
    for (let i = 0; i < n; i++) {
      if (fold[i] === f) testRows.push(i)
      else if (fold[i] === (f + 1) % folds) calRows.push(i)
      else fitRows.push(i)
    }
    const raw = fit(withSnapshots(fitRows), subset(calRows))
    const calibrator = IsotonicCalibrator.fit(calRows.map(raw), calRows.map(r => labels[r] as number))
    for (const r of testRows) out[r] = calibrator.apply(raw(r))
  }
  return out
}

/**
 * Extra training rows: each customer at earlier times (every two weeks back from the cutoff),
 * labelled by a purchase within the same 39 weeks after that time. Only training folds use them.
 */
interface Snapshot { x: Float64Array, y: Uint8Array, customer: Int32Array }
function snapshots (count: number): Snapshot {
  const xs: number[] = []
  const ys: number[] = []
  const cs: number[] = []
  const horizon = CDNOW.holdoutEnd - at
  const order = profilesAsOf(history, at).map((p, c) => (p === undefined ? -1 : c)).filter(c => c >= 0)
  const position = new Int32Array(history.customers.length).fill(-1)
  order.forEach((c, i) => { position[c] = i })
  const row = new Float64Array(FEATURES)
  for (let k = 1; k <= count; k++) {
    const when = at - k * 14 * 86_400_000
    const past = profilesAsOf(history, when)
    const churned = noPurchaseLabels(history, when, when + horizon)
    past.forEach((p, c) => {
      if (p === undefined || (position[c] as number) < 0) return
      featuresOf(p, when, row, 0)
      xs.push(...row)
      ys.push(churned[c] as number)
      cs.push(position[c] as number)
    })
  }
  return { x: Float64Array.from(xs), y: Uint8Array.from(ys), customer: Int32Array.from(cs) }
}
const extra = snapshots(Number(values.snapshots))

/** A training set plus the snapshot rows of its customers. */
function withSnapshots (train: readonly number[]): Dataset {
  const base = subset(train)
  if (extra.y.length === 0) return base
  const keep = new Uint8Array(n)
  for (const r of train) keep[r] = 1
  const rows: number[] = []
  for (let k = 0; k < extra.y.length; k++) if (keep[extra.customer[k] as number] === 1) rows.push(k)
  const sx = new Float64Array((base.rows + rows.length) * FEATURES)
  const sy = new Uint8Array(base.rows + rows.length)
  sx.set(base.x)
  sy.set(base.y)
  rows.forEach((k, j) => {
    sx.set(extra.x.subarray(k * FEATURES, (k + 1) * FEATURES), (base.rows + j) * FEATURES)
    sy[base.rows + j] = extra.y[k] as number
  })
  return { x: sx, y: sy, rows: sy.length, features: FEATURES }
}

interface Line { name: string, rank: ArrayLike<number>, probability?: ArrayLike<number> }
const lines: Line[] = []

lines.push({
  name: 'BG/NBD',
  rank: profiles.map((_, i) => -expectedPurchases(bg.params, summary.x[i] as number, summary.tx[i] as number, summary.T[i] as number, weeks)),
  probability: profiles.map((_, i) => probabilityNoPurchase(bg.params, summary.x[i] as number, summary.tx[i] as number, summary.T[i] as number, weeks))
})

const recencyColumn = 1 // days_since_last_purchase
const recency = crossValidated(() => row => x[row * FEATURES + recencyColumn] as number)
lines.push({ name: 'recency alone', rank: profiles.map((_, i) => x[i * FEATURES + recencyColumn] as number), probability: recency })

const logistic = crossValidated(train => {
  const model = trainLogistic(train)
  return row => model.predict(x, row * FEATURES)
})
lines.push({ name: 'logistic regression', rank: logistic, probability: logistic })

const gbtStarted = performance.now()
const gbt = crossValidated((train, valid) => {
  const model = trainGbt(train, { ...churnGbtDefaults, minSamplesLeaf: 100, trees: Number(values.trees), earlyStoppingRounds: 60 }, valid)
  return row => model.predict(x, row * FEATURES)
})
const gbtSeconds = (performance.now() - gbtStarted) / 1000
lines.push({ name: 'gradient-boosted trees', rank: gbt, probability: gbt })

// The purchase-history model as the product trains it: the calibration period alone, no holdout label.
const shipped = ChurnScorer.fromFile(shippedChurnModelPath)
const purchaseStarted = performance.now()
const purchaseModel = trainPurchaseModel(history, { at, horizonDays: shipped.artifact.horizon_days })
const purchaseSeconds = (performance.now() - purchaseStarted) / 1000
const purchaseScorer = new ChurnScorer({ ...loadChurnArtifact(shippedChurnModelPath), purchase_model: purchaseModel })
lines.push({ name: `purchase-history model (${purchaseModel.horizon_days}d)`, rank: profiles.map(p => purchaseScorer.scoreOnly(p, at)) })

lines.push({ name: `shipped model (${shipped.artifact.horizon_days}d)`, rank: profiles.map(p => shipped.scoreOnly(p, at)) })

const f = (v: number | undefined): string => (v === undefined ? '-'.padStart(8) : v.toFixed(4).padStart(8))
process.stdout.write(`${'scorer'.padEnd(28)} ${'ROC-AUC'.padStart(8)} ${'PR-AUC'.padStart(8)} ${'Brier'.padStart(8)} ${'max gap'.padStart(8)}\n`)
const deciles = new Map<string, CalibrationBin[]>()
for (const line of lines) {
  const table = line.probability === undefined ? undefined : reliabilityDeciles(line.probability, labels)
  if (table !== undefined) deciles.set(line.name, table)
  process.stdout.write(`${line.name.padEnd(28)} ${f(rocAuc(line.rank, labels))} ${f(prAuc(line.rank, labels))} ${f(line.probability === undefined ? undefined : brierScore(line.probability, labels))} ${f(table === undefined ? undefined : largestCalibrationGap(table))}\n`)
}
process.stdout.write(`\nBG/NBD fitted: r ${bg.params.r.toFixed(3)}, alpha ${bg.params.alpha.toFixed(3)}, a ${bg.params.a.toFixed(3)}, b ${bg.params.b.toFixed(3)}, log-likelihood ${bg.logLikelihood.toFixed(1)}\n`)
process.stdout.write(`Gradient-boosted trees: ${folds} folds in ${gbtSeconds.toFixed(1)} s. Reliability by deciles (out of fold):\n`)
for (const b of deciles.get('gradient-boosted trees') ?? []) process.stdout.write(`  rows ${String(b.count).padStart(6)}  predicted ${b.meanPredicted.toFixed(3)}  observed ${b.observedRate.toFixed(3)}\n`)
// The purchase-history model predicts no purchase within its own horizon: its calibration is checked against that.
const ownHorizon = noPurchaseLabels(history, at, at + purchaseModel.horizon_days * 86_400_000)
const ownDeciles = reliabilityDeciles(profiles.map(p => purchaseScorer.scoreOnly(p, at)), ownHorizon)
process.stdout.write(`Purchase-history model: ${String(purchaseModel.metrics?.trees)} trees on ${String(purchaseModel.metrics?.train_rows)} snapshot rows before the cutoff in ${purchaseSeconds.toFixed(1)} s; against no purchase within its ${purchaseModel.horizon_days} days after the cutoff, largest decile gap ${largestCalibrationGap(ownDeciles).toFixed(3)}:\n`)
for (const b of ownDeciles) process.stdout.write(`  rows ${String(b.count).padStart(6)}  predicted ${b.meanPredicted.toFixed(3)}  observed ${b.observedRate.toFixed(3)}\n`)
process.stdout.write(`\n(${((performance.now() - started) / 1000).toFixed(1)} s in all, node ${process.version})\n`)
