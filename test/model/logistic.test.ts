import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LogisticModel, rocAuc, trainLogistic, type Dataset, type LogisticModelJson } from '../../src/model/index.ts'
import { Rng } from '../../src/util/rng.ts'

/** Raw-scale truth: margin = intercept + Σ beta_j x_j with x_j ~ Normal(means_j, sds_j). */
const beta = [1.5, -2, 0, 0.5, 0]
const means = [0, 10, -3, 100, 5]
const sds = [1, 0.5, 2, 4, 0]
const intercept = -0.5

function linear (rows: number, seed: number): Dataset {
  const rng = new Rng(seed)
  const features = beta.length
  const x = new Float64Array(rows * features)
  const y = new Uint8Array(rows)
  for (let i = 0; i < rows; i++) {
    let m = intercept
    for (let j = 0; j < features; j++) {
      const v = rng.normal(means[j]!, sds[j]!)
      x[i * features + j] = v
      m += beta[j]! * (v - means[j]!)
    }
    y[i] = rng.chance(1 / (1 + Math.exp(-m))) ? 1 : 0
  }
  return { x, y, rows, features }
}

const data = linear(20000, 1)
const model = trainLogistic(data)

test('recovers known coefficients on linear-logistic data (on the standardised scale)', () => {
  const coefficients = model.coefficients()
  assert.equal(coefficients.length, beta.length)
  for (let j = 0; j < beta.length; j++) {
    // A standardised coefficient is the raw one times the feature's standard deviation.
    const expected = beta[j]! * sds[j]!
    assert.ok(Math.abs(coefficients[j]! - expected) < 0.1 + 0.1 * Math.abs(expected), `feature ${j}: ${coefficients[j]} vs ${expected}`)
    if (expected !== 0) assert.equal(Math.sign(coefficients[j]!), Math.sign(expected))
  }
  assert.equal(coefficients[4], 0, 'a constant feature is ignored')
  const json = model.toJSON()
  assert.equal(json.scale[4], 0)
  for (let j = 0; j < 4; j++) assert.ok(Math.abs(json.scale[j]! - sds[j]!) < 0.05 * sds[j]!)
  assert.ok(Math.abs(json.intercept - intercept) < 0.1, `intercept ${json.intercept}`)
})

test('contributions add up to the margin and are coefficient × standardised value', () => {
  const out = new Float64Array(beta.length)
  const json = model.toJSON()
  for (let i = 0; i < 500; i++) {
    const offset = i * data.features
    const bias = model.contributions(data.x, out, offset)
    assert.equal(bias, json.intercept)
    const total = bias + out.reduce((a, b) => a + b, 0)
    assert.ok(Math.abs(total - model.margin(data.x, offset)) < 1e-9)
    const j = i % 4
    const expected = json.coefficients[j]! * (data.x[offset + j]! - json.mean[j]!) / json.scale[j]!
    assert.ok(Math.abs(out[j]! - expected) < 1e-9)
    assert.equal(out[4], 0)
    assert.equal(model.predict(data.x, offset), 1 / (1 + Math.exp(-model.margin(data.x, offset))))
  }
  assert.throws(() => model.contributions(data.x, new Float64Array(2)), /out has length/)
  assert.throws(() => model.margin(data.x, data.x.length), /does not fit/)
})

test('toJSON → JSON text → fromJSON predicts identically; malformed JSON is rejected', () => {
  const text = JSON.stringify(model)
  const copy = LogisticModel.fromJSON(JSON.parse(text))
  assert.equal(copy.features, model.features)
  for (let i = 0; i < 2000; i++) assert.equal(copy.margin(data.x, i * data.features), model.margin(data.x, i * data.features))
  assert.deepEqual(copy.coefficients(), model.coefficients())
  assert.equal(JSON.stringify(copy), text)

  const good: LogisticModelJson = model.toJSON()
  const cases: [unknown, RegExp][] = [
    ['model', /expected an object/],
    [{ ...good, kind: 'gbt' }, /kind must be "logistic"/],
    [{ ...good, version: 0 }, /unsupported version 0/],
    [{ ...good, features: 2.5 }, /features must be a positive integer/],
    [{ ...good, mean: good.mean.slice(1) }, /mean has 4 entries, expected 5/],
    [{ ...good, coefficients: [1, 2, null, 4, 5] }, /coefficients\[2\] must be a finite number, got null/],
    [{ ...good, scale: [1, -1, 1, 1, 0] }, /scale\[1\] is negative/],
    [{ ...good, intercept: Number.NaN }, /intercept must be a finite number/],
    [{ ...good, options: { l2: -1 } }, /option l2 must be >= 0/]
  ]
  for (const [json, message] of cases) assert.throws(() => LogisticModel.fromJSON(json), message)
})

test('converges on separable data thanks to L2, with finite, ordered predictions', () => {
  const rng = new Rng(4)
  const rows = 2000
  const x = new Float64Array(rows * 2)
  const y = new Uint8Array(rows)
  for (let i = 0; i < rows; i++) {
    x[i * 2] = rng.normal(0, 1)
    x[i * 2 + 1] = rng.normal(0, 1)
    y[i] = x[i * 2]! > 0 ? 1 : 0
  }
  const separable = trainLogistic({ x, y, rows, features: 2 })
  const coefficients = separable.coefficients()
  assert.ok(Number.isFinite(coefficients[0]) && coefficients[0]! > 5, `coefficient ${coefficients[0]}`)
  assert.ok(Math.abs(coefficients[1]!) < 0.5 * coefficients[0]!)
  const scores = Float64Array.from({ length: rows }, (_, i) => separable.predict(x, i * 2))
  assert.ok(scores.every(Number.isFinite))
  assert.ok(rocAuc(scores, y) > 0.999)
  // A stronger penalty shrinks the coefficient.
  const shrunk = trainLogistic({ x, y, rows, features: 2 }, { l2: 0.1 }).coefficients()
  assert.ok(shrunk[0]! < coefficients[0]!)
})

test('trainLogistic rejects bad options and single-class data', () => {
  assert.throws(() => trainLogistic(data, { iterations: 0 }), /option iterations must be a positive integer/)
  assert.throws(() => trainLogistic(data, { tolerance: 0 }), /option tolerance must be > 0/)
  assert.throws(() => trainLogistic(data, { steps: 3 } as never), /unknown option "steps"/)
  assert.throws(() => trainLogistic({ ...data, y: new Uint8Array(data.rows) }), /both classes/)
})
