import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  GbtModel, gbtDefaults, rocAuc, trainGbt, trainLogistic, type Dataset, type GbtModelJson, type GbtTreeJson
} from '../../src/model/index.ts'
import { Rng } from '../../src/util/rng.ts'

const FEATURES = 6

/**
 * Features uniform in [-1, 1]; y ~ Bernoulli(sigmoid(3·[x0 > 0] − 1.5 − 3·x1·x2 + noise)).
 * x3 … x5 are pure noise. Neither the step nor the product is linear, so a logistic model misses most of it.
 */
function nonLinear (rows: number, seed: number): Dataset & { p: Float64Array } {
  const rng = new Rng(seed)
  const x = new Float64Array(rows * FEATURES)
  const y = new Uint8Array(rows)
  const p = new Float64Array(rows)
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < FEATURES; j++) x[i * FEATURES + j] = rng.uniform(-1, 1)
    const m = 3 * (x[i * FEATURES]! > 0 ? 1 : 0) - 1.5 - 3 * x[i * FEATURES + 1]! * x[i * FEATURES + 2]! + rng.normal(0, 0.3)
    p[i] = 1 / (1 + Math.exp(-m))
    y[i] = rng.chance(p[i]!) ? 1 : 0
  }
  return { x, y, rows, features: FEATURES, p }
}

function scores (model: { predict: (x: ArrayLike<number>, offset?: number) => number }, data: Dataset): Float64Array {
  const out = new Float64Array(data.rows)
  for (let i = 0; i < data.rows; i++) out[i] = model.predict(data.x, i * data.features)
  return out
}

/** Index of the node a row reaches in a JSON tree, and every node on the way. */
function path (tree: GbtTreeJson, x: ArrayLike<number>, offset: number): number[] {
  const nodes = [0]
  let n = 0
  while (tree.feature[n]! >= 0) {
    n = x[offset + tree.feature[n]!]! <= tree.threshold[n]! ? tree.left[n]! : tree.right[n]!
    nodes.push(n)
  }
  return nodes
}

const train = nonLinear(8000, 101)
const test_ = nonLinear(8000, 202)
const model = trainGbt(train)

test('on a non-linear rule the GBT clearly beats logistic regression and nears the true-probability AUC', () => {
  const gbtAuc = rocAuc(scores(model, test_), test_.y)
  const logisticAuc = rocAuc(scores(trainLogistic(train), test_), test_.y)
  const oracleAuc = rocAuc(test_.p, test_.y)
  assert.ok(gbtAuc > logisticAuc + 0.04, `GBT AUC ${gbtAuc} vs logistic ${logisticAuc}`)
  assert.ok(gbtAuc > oracleAuc - 0.03, `GBT AUC ${gbtAuc} vs true-probability AUC ${oracleAuc}`)
  assert.equal(model.trees, gbtDefaults.trees)
  assert.equal(model.features, FEATURES)
})

test('predictions are probabilities of the margin, read at the row offset without copying', () => {
  for (let i = 0; i < 50; i++) {
    const row = Array.from(train.x.subarray(i * FEATURES, (i + 1) * FEATURES))
    const m = model.margin(train.x, i * FEATURES)
    assert.equal(model.margin(row), m)
    assert.equal(model.predict(train.x, i * FEATURES), 1 / (1 + Math.exp(-m)))
  }
  assert.throws(() => model.margin(train.x, train.x.length - FEATURES + 1), /does not fit/)
  assert.throws(() => model.margin(train.x, -1), /does not fit/)
  assert.throws(() => model.margin([1, 2, 3]), /does not fit/)
})

test('the margin is the base margin plus the reached leaf of every tree', () => {
  const json = model.toJSON()
  for (let i = 0; i < 100; i++) {
    let m = json.baseMargin
    for (const tree of json.trees) m += tree.value[path(tree, test_.x, i * FEATURES).at(-1)!]!
    assert.ok(Math.abs(model.margin(test_.x, i * FEATURES) - m) < 1e-9)
  }
})

test('contributions add up to the margin and follow the Saabas path attribution', () => {
  const out = new Float64Array(FEATURES)
  const json = model.toJSON()
  let expectedBias = json.baseMargin
  for (const tree of json.trees) expectedBias += tree.value[0]!
  for (let i = 0; i < 1000; i++) {
    const bias = model.contributions(test_.x, out, i * FEATURES)
    assert.ok(Math.abs(bias - expectedBias) < 1e-9, 'the bias is the base margin plus the root values')
    const total = bias + out.reduce((a, b) => a + b, 0)
    assert.ok(Math.abs(total - model.margin(test_.x, i * FEATURES)) < 1e-9, `row ${i}: ${total} vs ${model.margin(test_.x, i * FEATURES)}`)
  }
  // One row by hand from the JSON trees.
  const expected = new Float64Array(FEATURES)
  for (const tree of json.trees) {
    const nodes = path(tree, test_.x, 0)
    for (let k = 0; k + 1 < nodes.length; k++) {
      const f = tree.feature[nodes[k]!]!
      expected[f] = expected[f]! + tree.value[nodes[k + 1]!]! - tree.value[nodes[k]!]!
    }
  }
  model.contributions(test_.x, out, 0)
  for (let j = 0; j < FEATURES; j++) assert.ok(Math.abs(out[j]! - expected[j]!) < 1e-9)
  assert.throws(() => model.contributions(test_.x, new Float64Array(FEATURES - 1)), /out has length/)
})

test('pure-noise features get low importance', () => {
  const importance = model.importance()
  assert.equal(importance.length, FEATURES)
  assert.ok(Math.abs(importance.reduce((a, b) => a + b, 0) - 1) < 1e-12)
  const weakestSignal = Math.min(importance[0]!, importance[1]!, importance[2]!)
  for (const noise of [3, 4, 5]) {
    assert.ok(importance[noise]! < 0.5 * weakestSignal, `noise feature ${noise}: ${importance[noise]} vs signal ${weakestSignal}`)
  }
  assert.ok(importance[0]! > 0.3, 'the step on x0 is the strongest effect')
})

test('toJSON → JSON text → fromJSON predicts identically', () => {
  const json = model.toJSON()
  assert.equal(json.kind, 'gbt')
  assert.equal(json.version, 1)
  const text = JSON.stringify(model)
  const copy = GbtModel.fromJSON(JSON.parse(text))
  assert.equal(copy.trees, model.trees)
  assert.equal(copy.features, model.features)
  const a = new Float64Array(FEATURES)
  const b = new Float64Array(FEATURES)
  for (let i = 0; i < test_.rows; i++) {
    assert.equal(copy.margin(test_.x, i * FEATURES), model.margin(test_.x, i * FEATURES))
    if (i < 200) {
      assert.equal(copy.contributions(test_.x, a, i * FEATURES), model.contributions(test_.x, b, i * FEATURES))
      assert.deepEqual(a, b)
    }
  }
  assert.deepEqual(copy.importance(), model.importance())
  assert.equal(JSON.stringify(copy), text)
})

test('fromJSON rejects malformed input with a clear error', () => {
  const good = model.toJSON()
  const mutate = (change: (json: GbtModelJson) => void): unknown => {
    const json = structuredClone(good)
    change(json)
    return JSON.parse(JSON.stringify(json))
  }
  const cases: [unknown, RegExp][] = [
    [null, /expected an object/],
    [[1, 2], /expected an object/],
    [{ ...good, kind: 'logistic' }, /kind must be "gbt"/],
    [{ ...good, version: 2 }, /unsupported version 2/],
    [{ ...good, features: 0 }, /features must be a positive integer/],
    [{ ...good, baseMargin: 'x' }, /baseMargin must be a finite number/],
    [{ ...good, options: undefined }, /options must be an object/],
    [{ ...good, options: { ...good.options, maxDepth: -1 } }, /option maxDepth/],
    [{ ...good, trees: {} }, /trees must be an array/],
    [mutate(j => { j.trees[0]!.value[1] = Number.NaN }), /trees\[0\]\.value\[1\] must be a finite number, got null/],
    [mutate(j => { j.trees[3]!.threshold.pop() }), /trees\[3\]\.threshold has \d+ entries/],
    [mutate(j => { j.trees[1]!.feature[0] = FEATURES }), /trees\[1\]\.feature\[0\] is 6/],
    [mutate(j => { j.trees[0]!.left[0] = 0 }), /children must be integers/],
    [mutate(j => { j.trees[0]!.right[0] = j.trees[0]!.left[0]! }), /same left and right child/],
    [mutate(j => { j.trees[0]!.feature[0] = -1 }), /is a leaf .* but has children/],
    [mutate(j => { (j.trees[0] as unknown as Record<string, unknown>).gain = undefined }), /trees\[0\]\.gain must be an array/],
    [mutate(j => { j.trees[2] = { feature: [], threshold: [], left: [], right: [], value: [], count: [], gain: [] } }), /trees\[2\] has no nodes/]
  ]
  for (const [json, message] of cases) assert.throws(() => GbtModel.fromJSON(json), message)
  // A node reached twice (a DAG, not a tree) is refused.
  const dag: GbtTreeJson = { feature: [0, 1, -1, -1], threshold: [0, 0, 0, 0], left: [1, 2, -1, -1], right: [2, 3, -1, -1], value: [0, 0, 0, 0], count: [0, 0, 0, 0], gain: [0, 0, 0, 0] }
  assert.throws(() => GbtModel.fromJSON({ ...good, trees: [dag] }), /node 2 has 2 parents/)
})

test('a hand-written JSON model predicts by its thresholds (x <= threshold goes left)', () => {
  const stump: GbtTreeJson = { feature: [1, -1, -1], threshold: [0.5, 0, 0], left: [1, -1, -1], right: [2, -1, -1], value: [0, -1, 2], count: [2, 1, 1], gain: [3, 0, 0] }
  const leaf: GbtTreeJson = { feature: [-1], threshold: [0], left: [-1], right: [-1], value: [0.25], count: [2], gain: [0] }
  const deep: GbtTreeJson = {
    feature: [0, -1, 0, -1, -1], threshold: [0, 0, 1, 0, 0], left: [1, -1, 3, -1, -1], right: [2, -1, 4, -1, -1], value: [0, 10, 0, 20, 30], count: [0, 0, 0, 0, 0], gain: [1, 0, 1, 0, 0]
  }
  const m = GbtModel.fromJSON({ kind: 'gbt', version: 1, features: 2, baseMargin: 0.5, options: gbtDefaults, trees: [stump, leaf, deep, stump, leaf] })
  assert.equal(m.trees, 5)
  assert.equal(m.margin([-1, 0.5]), 0.5 + (-1) + 0.25 + 10 + (-1) + 0.25)
  assert.equal(m.margin([0.5, 0.6]), 0.5 + 2 + 0.25 + 20 + 2 + 0.25)
  assert.equal(m.margin([1, 0.6]), 0.5 + 2 + 0.25 + 20 + 2 + 0.25)
  assert.equal(m.margin([1.5, 0.6]), 0.5 + 2 + 0.25 + 30 + 2 + 0.25)
  const out = new Float64Array(2)
  const bias = m.contributions([1.5, 0.6], out)
  assert.equal(bias, 0.5 + 0.25 + 0.25)
  assert.deepEqual(Array.from(out), [30, 4])
  assert.deepEqual(Array.from(m.importance()), [2 / 8, 6 / 8])
})

test('the same seed gives an identical model; another seed a different one', () => {
  const small = nonLinear(2000, 5)
  const options = { trees: 30, subsample: 0.7, colsample: 0.5, seed: 42 }
  const a = trainGbt(small, options).toJSON()
  const b = trainGbt(small, options).toJSON()
  assert.deepEqual(a, b)
  const c = trainGbt(small, { ...options, seed: 43 }).toJSON()
  assert.notDeepEqual(a.trees, c.trees)
})

test('early stopping keeps the best number of trees when validation loss rises', () => {
  const tiny = nonLinear(300, 8)
  const valid = nonLinear(300, 9)
  const losses: number[] = []
  const trainLosses: number[] = []
  const m = trainGbt(tiny, { trees: 500, learningRate: 0.3, minSamplesLeaf: 2, maxDepth: 6, earlyStoppingRounds: 10 }, valid, (tree, trainLoss, validLoss) => {
    assert.equal(tree, losses.length + 1)
    assert.ok(validLoss !== undefined)
    losses.push(validLoss)
    trainLosses.push(trainLoss)
  })
  assert.ok(m.trees < 500, `stopped at ${m.trees} trees`)
  const best = losses.indexOf(Math.min(...losses))
  assert.equal(m.trees, best + 1)
  assert.equal(losses.length, best + 1 + 10, 'stops exactly earlyStoppingRounds trees after the best')
  assert.ok(trainLosses.at(-1)! < trainLosses[0]!, 'training loss keeps falling while validation loss rises')
  // The reported validation loss of the kept trees is the model's own.
  let loss = 0
  for (let i = 0; i < valid.rows; i++) {
    const p = m.predict(valid.x, i * FEATURES)
    loss -= valid.y[i] === 1 ? Math.log(p) : Math.log(1 - p)
  }
  assert.ok(Math.abs(loss / valid.rows - losses[best]!) < 1e-9)
  // Without a validation set all trees are kept and validLoss is undefined.
  const all = trainGbt(tiny, { trees: 15 }, undefined, (_tree, _trainLoss, validLoss) => assert.equal(validLoss, undefined))
  assert.equal(all.trees, 15)
})

test('minSamplesLeaf is respected and node counts are the rows that reach each node', () => {
  const data = nonLinear(3000, 12)
  const countLeaves = (minSamplesLeaf: number): { smallest: number, json: GbtModelJson } => {
    const json = trainGbt(data, { trees: 20, maxDepth: 6, subsample: 1, minSamplesLeaf }).toJSON()
    let smallest = Infinity
    for (const tree of json.trees) {
      const reached = new Array<number>(tree.feature.length).fill(0)
      for (let i = 0; i < data.rows; i++) for (const n of path(tree, data.x, i * FEATURES)) reached[n]!++
      assert.deepEqual(reached, tree.count)
      tree.feature.forEach((f, n) => { if (f === -1) smallest = Math.min(smallest, tree.count[n]!) })
    }
    return { smallest, json }
  }
  assert.ok(countLeaves(150).smallest >= 150)
  // The constraint binds: without it leaves get much smaller.
  assert.ok(countLeaves(1).smallest < 150)
})

test('maxDepth bounds every tree', () => {
  const json = trainGbt(train, { trees: 10, maxDepth: 2 }).toJSON()
  for (const tree of json.trees) {
    assert.ok(tree.feature.length <= 7)
    const depth = new Array<number>(tree.feature.length).fill(0)
    tree.feature.forEach((f, n) => {
      if (f < 0) return
      depth[tree.left[n]!] = depth[n]! + 1
      depth[tree.right[n]!] = depth[n]! + 1
    })
    assert.ok(Math.max(...depth) <= 2)
  }
})

test('a discrete, non-monotone feature is learned exactly (few distinct values get their own bins)', () => {
  const rng = new Rng(3)
  const rows = 3000
  const x = new Float64Array(rows * 2)
  const y = new Uint8Array(rows)
  for (let i = 0; i < rows; i++) {
    x[i * 2] = rng.int(0, 2)
    x[i * 2 + 1] = rng.next()
    y[i] = x[i * 2] === 1 ? 1 : 0
  }
  const m = trainGbt({ x, y, rows, features: 2 }, { trees: 50, maxDepth: 2 })
  assert.ok(m.predict([1, 0.5]) > 0.9)
  assert.ok(m.predict([0, 0.5]) < 0.1)
  assert.ok(m.predict([2, 0.5]) < 0.1)
  assert.ok(m.importance()[0]! > 0.99)
})

test('trainGbt rejects bad options and bad data with clear errors', () => {
  const small = nonLinear(100, 1)
  assert.throws(() => trainGbt(small, { maxDepth: 0 }), /option maxDepth must be an integer in \[1, 12\]/)
  assert.throws(() => trainGbt(small, { bins: 256 }), /option bins/)
  assert.throws(() => trainGbt(small, { subsample: 0 }), /option subsample/)
  assert.throws(() => trainGbt(small, { learningRate: Number.NaN }), /option learningRate/)
  assert.throws(() => trainGbt(small, { depth: 3 } as never), /unknown option "depth"/)
  assert.throws(() => trainGbt({ ...small, rows: 99 }), /x has 600 values but rows × features = 99 × 6/)
  assert.throws(() => trainGbt({ ...small, y: small.y.subarray(1) }), /y has 99 labels/)
  const x = new Float64Array(small.x)
  x[13] = Number.POSITIVE_INFINITY
  assert.throws(() => trainGbt({ ...small, x }), /x\[13\] \(row 2, feature 1\) is Infinity/)
  assert.throws(() => trainGbt({ ...small, y: new Uint8Array(100) }), /both classes/)
  assert.throws(() => trainGbt(small, {}, { ...small, features: 3, x: new Float64Array(300) }), /validation set has 3 features/)
})
