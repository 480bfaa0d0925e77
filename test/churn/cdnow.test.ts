import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  CDNOW, cdnowDir, ChurnScorer, evaluateChurnModel, isPurchaseHistory, loadChurnArtifact, noPurchaseLabels, profilesAsOf, readCdnow, shippedChurnModelPath
} from '../../src/churn/index.ts'
import { rocAuc } from '../../src/model/index.ts'
import { applyEvent, emptyProfile, profileEventOf, type CustomerProfile } from '../../src/profile/index.ts'
import { unavailable } from '../helpers/services.ts'

const DAY = 86_400_000

test('the shipped model ranks CDNOW\'s churners at least as well as recency alone (end of the calibration period)', async t => {
  const dir = cdnowDir()
  if (!existsSync(join(dir, CDNOW.masterFile))) return unavailable(t, `the CDNOW data in ${dir} (set CHURNFLOW_CDNOW_DIR)`)
  const history = await readCdnow(dir)
  const at = CDNOW.calibrationEnd
  const profiles = profilesAsOf(history, at).filter((p): p is CustomerProfile => p !== undefined)
  assert.equal(profiles.length, 23_570)
  const labels = noPurchaseLabels(history, at, CDNOW.holdoutEnd)
  const scorer = ChurnScorer.fromFile(shippedChurnModelPath)
  const model = rocAuc(profiles.map(p => scorer.scoreOnly(p, at)), labels)
  const recency = rocAuc(profiles.map(p => at - p.lastPurchase), labels)
  assert.ok(model >= recency, `shipped model ${model.toFixed(4)} vs recency alone ${recency.toFixed(4)}`)

  // evaluate measures the model as it serves: on a purchase history, its purchase-history model.
  const artifact = loadChurnArtifact(shippedChurnModelPath)
  const served = evaluateChurnModel(artifact, history, { horizonDays: 90 })
  const treesOnly = evaluateChurnModel({ ...artifact, purchase_model: undefined }, history, { horizonDays: 90 })
  assert.ok(served.model.roc_auc >= served.recency.roc_auc, `evaluate --horizon 90d: ${served.model.roc_auc.toFixed(4)} vs recency ${served.recency.roc_auc.toFixed(4)}`)
  assert.ok(served.model.roc_auc > treesOnly.model.roc_auc + 0.05, `served ${served.model.roc_auc.toFixed(4)} vs the trees alone ${treesOnly.model.roc_auc.toFixed(4)}`)
})

test('a purchase-only profile is scored by the purchase-history model, a richer one by the trees', () => {
  const artifact = loadChurnArtifact(shippedChurnModelPath)
  assert.ok(artifact.purchase_model !== undefined, 'the shipped artifact carries a purchase-history model')
  const withModel = new ChurnScorer(artifact)
  const treesOnly = new ChurnScorer({ ...artifact, purchase_model: undefined })
  const start = Date.UTC(2025, 0, 1)
  const buyer = emptyProfile()
  for (const day of [0, 20, 45]) applyEvent(buyer, profileEventOf({ event_type: 'order_placed', timestamp: new Date(start + day * DAY).toISOString(), data: { order_value: 30 } }) as NonNullable<ReturnType<typeof profileEventOf>>)
  assert.ok(isPurchaseHistory(buyer))
  const later = start + 120 * DAY
  const s = withModel.score(buyer, later)
  assert.notEqual(s.churn_score, treesOnly.score(buyer, later).churn_score)
  assert.deepEqual(s.reasons.map(r => r.feature), ['days_since_last_purchase'])
  assert.ok(withModel.score(buyer, later).churn_score > withModel.score(buyer, start + 50 * DAY).churn_score, 'silence raises it')

  const browser = { ...buyer }
  applyEvent(browser, profileEventOf({ event_type: 'login', timestamp: new Date(start + 46 * DAY).toISOString() }) as NonNullable<ReturnType<typeof profileEventOf>>)
  assert.ok(!isPurchaseHistory(browser))
  assert.deepEqual(withModel.score(browser, later), treesOnly.score(browser, later))
})
