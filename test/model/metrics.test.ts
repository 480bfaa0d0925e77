import assert from 'node:assert/strict'
import { test } from 'node:test'
import { brierScore, calibrationTable, logLoss, prAuc, rocAuc } from '../../src/model/index.ts'
import { Rng } from '../../src/util/rng.ts'

const close = (actual: number, expected: number, tolerance = 1e-12): void => {
  assert.ok(Math.abs(actual - expected) <= tolerance, `expected ${expected}, got ${actual}`)
}

/** Random scores with many ties (one decimal) and random labels with both classes. */
function randomCase (rng: Rng, n: number): { scores: number[], labels: number[] } {
  const scores = Array.from({ length: n }, () => Math.round(rng.next() * 10) / 10)
  const labels = Array.from({ length: n }, (_, i) => (i < 2 ? i : rng.chance(0.3) ? 1 : 0))
  return { scores, labels }
}

test('rocAuc of a hand-computed case', () => {
  close(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75)
  close(rocAuc([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1]), 1)
  close(rocAuc([0.4, 0.3, 0.2, 0.1], [0, 0, 1, 1]), 0)
  close(rocAuc(new Float64Array([0.9, 0.1]), new Uint8Array([1, 0])), 1)
})

test('rocAuc gives tied pairs half credit', () => {
  // Pairs (positive, negative): (0.5, 0.2) 1, (0.5, 0.5) ½, (0.9, 0.2) 1, (0.9, 0.5) 1 → 3.5 / 4.
  close(rocAuc([0.2, 0.5, 0.5, 0.9], [0, 0, 1, 1]), 0.875)
  close(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5)
})

test('rocAuc agrees with a brute-force pairwise count on random data with ties', () => {
  const rng = new Rng(7)
  for (let round = 0; round < 20; round++) {
    const { scores, labels } = randomCase(rng, 5 + rng.int(0, 200))
    let credit = 0
    let pairs = 0
    for (let i = 0; i < scores.length; i++) {
      if (labels[i] !== 1) continue
      for (let j = 0; j < scores.length; j++) {
        if (labels[j] !== 0) continue
        pairs++
        const si = scores[i]!
        const sj = scores[j]!
        credit += si > sj ? 1 : si === sj ? 0.5 : 0
      }
    }
    close(rocAuc(scores, labels), credit / pairs, 1e-12)
  }
})

test('rocAuc throws when only one class is present, and on bad input', () => {
  assert.throws(() => rocAuc([0.1, 0.2], [1, 1]), /both classes/)
  assert.throws(() => rocAuc([0.1, 0.2], [0, 0]), /both classes/)
  assert.throws(() => rocAuc([0.1, 0.2], [0, 1, 1]), /2 scores but 3 labels/)
  assert.throws(() => rocAuc([0.1, 0.2], [0, 2]), /labels must be 0 or 1/)
  assert.throws(() => rocAuc([0.1, Number.NaN], [0, 1]), /must be finite/)
  assert.throws(() => rocAuc([], []), /no scores/)
})

test('prAuc is average precision like scikit-learn', () => {
  // scikit-learn's documented example: thresholds 0.8 (P 1, R ½), 0.35 (P ⅔, R 1) → ½ + ½ × ⅔.
  close(prAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 5 / 6)
  close(prAuc([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1]), 1)
  // One tie group: a single threshold with precision = positive rate.
  close(prAuc([0.5, 0.5, 0.5, 0.5], [1, 0, 0, 0]), 0.25)
  // Only positives: precision 1 everywhere.
  close(prAuc([0.3, 0.6], [1, 1]), 1)
  assert.throws(() => prAuc([0.3, 0.6], [0, 0]), /positive/)
})

test('prAuc agrees with the mean precision at each positive\'s threshold on random data with ties', () => {
  const rng = new Rng(11)
  for (let round = 0; round < 20; round++) {
    const { scores, labels } = randomCase(rng, 5 + rng.int(0, 200))
    let sum = 0
    let positives = 0
    for (let i = 0; i < scores.length; i++) {
      if (labels[i] !== 1) continue
      positives++
      let above = 0
      let positiveAbove = 0
      for (let j = 0; j < scores.length; j++) {
        if (scores[j]! >= scores[i]!) {
          above++
          positiveAbove += labels[j]!
        }
      }
      sum += positiveAbove / above
    }
    close(prAuc(scores, labels), sum / positives, 1e-12)
  }
})

test('logLoss matches hand values and clips at eps', () => {
  close(logLoss([0.9, 0.2], [1, 0]), -(Math.log(0.9) + Math.log(0.8)) / 2)
  close(logLoss([0.5], [1]), Math.LN2)
  close(logLoss([0], [1]), -Math.log(1e-15), 1e-12)
  // 1 clips to the float nearest 1 − 1e-15, so the loss is only close to −ln(1e-15).
  close(logLoss([1], [0]), -Math.log(1e-15), 1e-3)
  close(logLoss([0, 1], [1, 0], 1e-3), -Math.log(1e-3), 1e-12)
  close(logLoss([0, 1], [0, 1]), -Math.log(1 - 1e-15), 1e-12)
  assert.throws(() => logLoss([1.2], [1]), /\[0, 1\]/)
})

test('brierScore matches hand values', () => {
  close(brierScore([0.9, 0.2], [1, 0]), (0.01 + 0.04) / 2)
  close(brierScore([1, 0], [1, 0]), 0)
  close(brierScore([0, 1], [1, 0]), 1)
})

test('calibrationTable bins equal-width, omits empty bins, puts 1 in the last bin', () => {
  const table = calibrationTable([0.05, 0.15, 0.12, 0.95, 1.0], [0, 1, 0, 1, 1], 10)
  assert.equal(table.length, 3)
  const [first, second, last] = table
  assert.deepEqual({ lower: first!.lower, upper: first!.upper, count: first!.count, observedRate: first!.observedRate }, { lower: 0, upper: 0.1, count: 1, observedRate: 0 })
  close(first!.meanPredicted, 0.05)
  assert.equal(second!.count, 2)
  close(second!.lower, 0.1)
  close(second!.upper, 0.2)
  close(second!.meanPredicted, 0.135)
  close(second!.observedRate, 0.5)
  assert.equal(last!.count, 2)
  close(last!.lower, 0.9)
  close(last!.upper, 1)
  close(last!.meanPredicted, 0.975)
  close(last!.observedRate, 1)
  assert.equal(calibrationTable([0.2, 0.7], [0, 1], 2).length, 2)
  assert.throws(() => calibrationTable([0.2], [0], 0), /bins/)
})
