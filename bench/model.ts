// The churn model core on synthetic data: trains a GBT (200 trees, depth 4) and the logistic
// baseline on 100k rows × 30 features, then times single-row inference in one thread over a
// 1M-row matrix read in place (the offset argument; no copying). Prints training time, held-out
// AUC, predictions/s and contributions/s (target: GBT predict >= 500,000/s per core).
//
//   node bench/model.ts [--rows=100000] [--predict-rows=1000000] [--trees=200]
import { parseArgs } from 'node:util'
import { rocAuc, trainGbt, trainLogistic, type Dataset } from '../src/model/index.ts'
import { Rng } from '../src/util/rng.ts'

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    'predict-rows': { type: 'string', default: '1000000' },
    trees: { type: 'string', default: '200' }
  }
})
const trainRows = Number(values.rows)
const predictRows = Number(values['predict-rows'])
const trees = Number(values.trees)
const FEATURES = 30

/** Mixed feature kinds (normal, uniform, counts, binary) and a non-linear churn-like rule on ten of them. */
function synthetic (rows: number, seed: number): Dataset {
  const rng = new Rng(seed)
  const x = new Float64Array(rows * FEATURES)
  const y = new Uint8Array(rows)
  for (let i = 0; i < rows; i++) {
    const o = i * FEATURES
    for (let j = 0; j < FEATURES; j++) {
      const kind = j % 4
      x[o + j] = kind === 0 ? rng.normal(0, 1) : kind === 1 ? rng.next() : kind === 2 ? Math.floor(rng.exponential(0.2)) : rng.chance(0.3) ? 1 : 0
    }
    const v = (j: number): number => x[o + j] as number
    const m = -1 + 1.2 * v(0) + 2 * (v(1) > 0.7 ? 1 : 0) - 0.15 * Math.min(v(2), 15) + 0.8 * v(3) - 1.5 * v(4) * v(5) +
      (v(6) > 3 ? 0.7 : 0) + Math.sin(3 * v(8)) + 0.5 * v(9) * v(7) + rng.normal(0, 0.5)
    y[i] = rng.chance(1 / (1 + Math.exp(-m))) ? 1 : 0
  }
  return { x, y, rows, features: FEATURES }
}

interface Scorer {
  predict: (x: ArrayLike<number>, offset?: number) => number
  contributions: (x: ArrayLike<number>, out: Float64Array, offset?: number) => number
}

function auc (model: Scorer, data: Dataset): number {
  const scores = new Float64Array(data.rows)
  for (let i = 0; i < data.rows; i++) scores[i] = model.predict(data.x, i * FEATURES)
  return rocAuc(scores, data.y)
}

/** Rows per second of predict over the whole matrix, one row at a time, after a warm-up. */
function predictRate (model: Scorer, x: Float64Array, rows: number): { rate: number, checksum: number } {
  let checksum = 0
  for (let i = 0; i < Math.min(rows, 20_000); i++) checksum += model.predict(x, i * FEATURES)
  const start = performance.now()
  for (let i = 0; i < rows; i++) checksum += model.predict(x, i * FEATURES)
  return { rate: rows / ((performance.now() - start) / 1000), checksum }
}

function contributionsRate (model: Scorer, x: Float64Array, rows: number): { rate: number, checksum: number } {
  const out = new Float64Array(FEATURES)
  let checksum = 0
  for (let i = 0; i < Math.min(rows, 20_000); i++) checksum += model.contributions(x, out, i * FEATURES) + (out[0] as number)
  const start = performance.now()
  for (let i = 0; i < rows; i++) checksum += model.contributions(x, out, i * FEATURES) + (out[0] as number)
  return { rate: rows / ((performance.now() - start) / 1000), checksum }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')

const train = synthetic(trainRows, 1)
const holdout = synthetic(50_000, 2)
const matrix = synthetic(predictRows, 3).x
process.stdout.write(`data: ${fmt(trainRows)} training rows × ${FEATURES} features; ${fmt(predictRows)} rows to score (node ${process.version})\n\n`)

let start = performance.now()
const gbt = trainGbt(train, { trees, maxDepth: 4 })
const gbtTrain = (performance.now() - start) / 1000
const gbtPredict = predictRate(gbt, matrix, predictRows)
const gbtContrib = contributionsRate(gbt, matrix, predictRows)
process.stdout.write(`GBT (${gbt.trees} trees, depth 4, 64 bins)\n`)
process.stdout.write(`  training:        ${gbtTrain.toFixed(2)} s\n`)
process.stdout.write(`  held-out AUC:    ${auc(gbt, holdout).toFixed(4)}\n`)
process.stdout.write(`  predict:         ${fmt(gbtPredict.rate)} rows/s (${(1e9 / gbtPredict.rate).toFixed(0)} ns/row)\n`)
process.stdout.write(`  contributions:   ${fmt(gbtContrib.rate)} rows/s (${(1e9 / gbtContrib.rate).toFixed(0)} ns/row)\n\n`)

start = performance.now()
const logistic = trainLogistic(train)
const logisticTrain = (performance.now() - start) / 1000
const logisticPredict = predictRate(logistic, matrix, predictRows)
const logisticContrib = contributionsRate(logistic, matrix, predictRows)
process.stdout.write('logistic regression (L2, Newton)\n')
process.stdout.write(`  training:        ${logisticTrain.toFixed(2)} s\n`)
process.stdout.write(`  held-out AUC:    ${auc(logistic, holdout).toFixed(4)}\n`)
process.stdout.write(`  predict:         ${fmt(logisticPredict.rate)} rows/s (${(1e9 / logisticPredict.rate).toFixed(0)} ns/row)\n`)
process.stdout.write(`  contributions:   ${fmt(logisticContrib.rate)} rows/s (${(1e9 / logisticContrib.rate).toFixed(0)} ns/row)\n`)
// Printed so that no engine can drop the timed loops as dead code.
process.stdout.write(`\n(checksums ${gbtPredict.checksum.toFixed(3)} ${gbtContrib.checksum.toFixed(3)} ${logisticPredict.checksum.toFixed(3)} ${logisticContrib.checksum.toFixed(3)})\n`)
