import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { CDNOW, cdnowDir, noPurchaseLabels, profilesAsOf, purchaseSummariesOf, readCdnow } from '../../src/churn/index.ts'
import {
  bgnbdLogLikelihoodOne, expectedPurchases, fitBgNbd, IsotonicCalibrator, lnGamma, probabilityAlive, probabilityNoPurchase, rocAuc
} from '../../src/model/index.ts'
import type { CustomerProfile } from '../../src/profile/index.ts'
import { unavailable } from '../helpers/services.ts'

const published = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 }

test('lnGamma matches known values', () => {
  assert.ok(Math.abs(lnGamma(1)) < 1e-12 && Math.abs(lnGamma(2)) < 1e-12)
  assert.ok(Math.abs(lnGamma(0.5) - Math.log(Math.sqrt(Math.PI))) < 1e-12)
  assert.ok(Math.abs(lnGamma(10) - Math.log(362_880)) < 1e-10)
})

test('BG/NBD formulas agree with the paper\'s special cases', () => {
  const p = published
  // Without a repeat purchase a customer is alive for sure; P(none) is then the NBD's zero term.
  assert.equal(probabilityAlive(p, 0, 0, 30), 1)
  assert.ok(Math.abs(probabilityNoPurchase(p, 0, 0, 30, 39) - Math.pow((p.alpha + 30) / (p.alpha + 69), p.r)) < 1e-12)
  // A frequent buyer long silent is likely gone: P(alive) falls with the silence.
  assert.ok(probabilityAlive(p, 10, 35, 38) > probabilityAlive(p, 10, 5, 38))
  // Expected purchases grow with the horizon and fall with silence.
  assert.ok(expectedPurchases(p, 3, 30, 38, 52) > expectedPurchases(p, 3, 30, 38, 26))
  assert.ok(expectedPurchases(p, 3, 30, 38, 39) > expectedPurchases(p, 3, 5, 38, 39))
  // x = 0: the likelihood is B(a, b)/B(a, b) · Γ(r)α^r/(Γ(r)(α+T)^r) = (α/(α+T))^r.
  assert.ok(Math.abs(bgnbdLogLikelihoodOne(p, 0, 0, 20) - p.r * Math.log(p.alpha / (p.alpha + 20))) < 1e-12)
})

test('BG/NBD fitted on the CDNOW sample reproduces the published parameters (Fader, Hardie & Lee 2005)', async t => {
  const dir = cdnowDir()
  if (!existsSync(join(dir, CDNOW.sampleFile))) return unavailable(t, `the CDNOW data in ${dir} (set CHURNFLOW_CDNOW_DIR)`)
  const history = await readCdnow(dir, CDNOW.sampleFile)
  assert.equal(history.customers.length, 2357)
  const profiles = profilesAsOf(history, CDNOW.calibrationEnd).filter((p): p is CustomerProfile => p !== undefined)
  assert.equal(profiles.length, 2357, 'every sample customer bought in the first quarter of 1997')
  const summary = purchaseSummariesOf(profiles, CDNOW.calibrationEnd)
  const { params, logLikelihood } = fitBgNbd(summary)
  for (const k of ['r', 'alpha', 'a', 'b'] as const) assert.ok(Math.abs(params[k] - published[k]) < 0.01, `${k} ${params[k]} vs ${published[k]}`)
  assert.ok(Math.abs(logLikelihood - -9582.4) < 0.1, `log-likelihood ${logLikelihood}`)

  // Ranked by expected holdout purchases it is a churn ranking; ranked by P(alive) it is worse than chance.
  const labels = noPurchaseLabels(history, CDNOW.calibrationEnd, CDNOW.holdoutEnd)
  const weeks = (CDNOW.holdoutEnd - CDNOW.calibrationEnd) / (7 * 86_400_000)
  const expected = profiles.map((_, i) => -expectedPurchases(params, summary.x[i] as number, summary.tx[i] as number, summary.T[i] as number, weeks))
  const dead = profiles.map((_, i) => 1 - probabilityAlive(params, summary.x[i] as number, summary.tx[i] as number, summary.T[i] as number))
  assert.ok(Math.abs(rocAuc(expected, labels) - 0.773) < 0.005, `expected purchases: ROC-AUC ${rocAuc(expected, labels)}`)
  assert.ok(rocAuc(dead, labels) < 0.4, `1 - P(alive): ROC-AUC ${rocAuc(dead, labels)}`)
})

test('isotonic calibration is monotone and maps a biased score onto the observed rate', () => {
  const scores: number[] = []
  const labels: number[] = []
  let seed = 7
  const next = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31)
  for (let i = 0; i < 20_000; i++) {
    const truth = next()
    scores.push(truth * truth)
    labels.push(next() < truth ? 1 : 0)
  }
  const calibrator = IsotonicCalibrator.fit(scores, labels)
  for (const [raw, want] of [[0.04, 0.2], [0.25, 0.5], [0.64, 0.8]] as const) assert.ok(Math.abs(calibrator.apply(raw) - want) < 0.05, `${raw} → ${calibrator.apply(raw)}, want ${want}`)
  let previous = 0
  for (let s = 0; s <= 1; s += 0.01) {
    assert.ok(calibrator.apply(s) >= previous)
    previous = calibrator.apply(s)
  }
  assert.deepEqual(IsotonicCalibrator.fromJSON(JSON.parse(JSON.stringify(calibrator.toJSON()))).apply(0.3), calibrator.apply(0.3))
})

test('isotonic calibration pools rows with equal scores (whose rounded means once came out of order and threw)', () => {
  // 0.1 + 0.1 + 0.1 is 0.30000000000000004: three tied rows apart from the fourth averaged above it.
  const calibrator = IsotonicCalibrator.fit([0.1, 0.1, 0.1, 0.1, 0.3], [0, 0, 0, 1, 1])
  assert.equal(calibrator.apply(0.1), 0.25)
  assert.equal(calibrator.apply(0.3), 1 - 1e-4)
})
