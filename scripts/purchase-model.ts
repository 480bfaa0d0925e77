// Fits the purchase-history model (BG/NBD by maximum likelihood) on CDNOW's calibration period,
// 1997-01-01 to 1997-09-30, with no labels, and writes it into a churn model artifact, where it
// scores the customers whose profile holds purchases alone. Prints its customer-level ROC-AUC at
// the end of the calibration period (churned: no purchase in the holdout) beside recency alone.
//
//   node scripts/purchase-model.ts [--into models/churn-model.json] [--horizon-days N]
// The data is read from ../shared/data/cdnow (or CHURNFLOW_CDNOW_DIR).
import { parseArgs } from 'node:util'
import {
  CDNOW, cdnowDir, ChurnScorer, loadChurnArtifact, noPurchaseLabels, profilesAsOf, purchaseSummariesOf, readCdnow, saveArtifact, shippedChurnModelPath
} from '../src/churn/index.ts'
import { fitBgNbd, rocAuc } from '../src/model/index.ts'
import type { CustomerProfile } from '../src/profile/index.ts'

const { values } = parseArgs({ options: { into: { type: 'string', default: shippedChurnModelPath }, 'horizon-days': { type: 'string' } } })
const artifact = loadChurnArtifact(values.into)
const horizonDays = values['horizon-days'] === undefined ? artifact.horizon_days : Number(values['horizon-days'])
const history = await readCdnow(cdnowDir())
const at = CDNOW.calibrationEnd
const profiles = profilesAsOf(history, at).filter((p): p is CustomerProfile => p !== undefined)
const { params, logLikelihood } = fitBgNbd(purchaseSummariesOf(profiles, at))
const labels = noPurchaseLabels(history, at, CDNOW.holdoutEnd)
const withModel = { ...artifact, purchase_model: { kind: 'bgnbd' as const, params, horizon_days: horizonDays, fitted_on: 'CDNOW (23,570 customers), purchases 1997-01-01 to 1997-09-30', metrics: {} } }
const scorer = new ChurnScorer(withModel)
const auc = rocAuc(profiles.map(p => scorer.scoreOnly(p, at)), labels)
const recency = rocAuc(profiles.map(p => at - p.lastSeen), labels)
withModel.purchase_model.metrics = { cdnow_roc_auc: auc, cdnow_recency_roc_auc: recency, log_likelihood: logLikelihood }
await saveArtifact(values.into, withModel)
process.stdout.write(`BG/NBD r ${params.r.toFixed(3)} alpha ${params.alpha.toFixed(3)} a ${params.a.toFixed(3)} b ${params.b.toFixed(3)}; horizon ${horizonDays} days\n`)
process.stdout.write(`CDNOW at 1997-09-30, ROC-AUC: purchase-history model ${auc.toFixed(4)}, recency alone ${recency.toFixed(4)}\nWrote ${values.into}\n`)
