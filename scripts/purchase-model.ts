// Trains the purchase-history model on CDNOW's calibration period, 1997-01-01 to 1997-09-30, with
// no label from after it (BG/NBD by maximum likelihood; trees on the purchase features, each
// customer every week labelled by a purchase within the horizon, all before 1997-09-30), and
// writes it into a churn model artifact, where it scores the customers whose profile holds
// purchases alone. Prints its customer-level ROC-AUC at the end of the calibration period
// (churned: no purchase in the holdout, to 1998-06-30) beside BG/NBD alone and recency alone.
//
//   node scripts/purchase-model.ts [--into models/churn-model.json] [--horizon-days N] [--bgnbd-only]
// The data is read from ../shared/data/cdnow (or CHURNFLOW_CDNOW_DIR).
import { parseArgs } from 'node:util'
import {
  CDNOW, cdnowDir, ChurnScorer, loadChurnArtifact, noPurchaseLabels, profilesAsOf, readCdnow, saveArtifact, shippedChurnModelPath, trainPurchaseModel,
  type PurchaseModel
} from '../src/churn/index.ts'
import { rocAuc } from '../src/model/index.ts'
import type { CustomerProfile } from '../src/profile/index.ts'

const { values } = parseArgs({ options: { into: { type: 'string', default: shippedChurnModelPath }, 'horizon-days': { type: 'string' }, 'bgnbd-only': { type: 'boolean', default: false } } })
const artifact = loadChurnArtifact(values.into)
const horizonDays = values['horizon-days'] === undefined ? artifact.horizon_days : Number(values['horizon-days'])
const history = await readCdnow(cdnowDir())
const at = CDNOW.calibrationEnd
const started = performance.now()
const trained = trainPurchaseModel(history, { at, horizonDays, fittedOn: 'CDNOW (23,570 customers), purchases 1997-01-01 to 1997-09-30' })
const seconds = (performance.now() - started) / 1000
// BG/NBD alone: the same parameters, without the trees.
const bgnbdOnly = { kind: trained.kind, params: trained.params, horizon_days: trained.horizon_days, fitted_on: trained.fitted_on, metrics: {} }
const model: PurchaseModel = values['bgnbd-only'] ? bgnbdOnly : trained
const profiles = profilesAsOf(history, at).filter((p): p is CustomerProfile => p !== undefined)
const labels = noPurchaseLabels(history, at, CDNOW.holdoutEnd)
const auc = (purchaseModel: PurchaseModel): number => {
  const scorer = new ChurnScorer({ ...artifact, purchase_model: purchaseModel })
  return rocAuc(profiles.map(p => scorer.scoreOnly(p, at)), labels)
}
const modelAuc = auc(model)
const bgnbdAuc = auc(bgnbdOnly)
const recency = rocAuc(profiles.map(p => at - p.lastSeen), labels)
model.metrics = { ...model.metrics, cdnow_roc_auc: modelAuc, cdnow_bgnbd_roc_auc: bgnbdAuc, cdnow_recency_roc_auc: recency }
await saveArtifact(values.into, { ...artifact, purchase_model: model })
const { r, alpha, a, b } = trained.params
process.stdout.write(`BG/NBD r ${r.toFixed(3)} alpha ${alpha.toFixed(3)} a ${a.toFixed(3)} b ${b.toFixed(3)}; horizon ${horizonDays} days\n`)
process.stdout.write(`Trees: ${String(trained.metrics?.trees)} on ${String(trained.metrics?.train_rows)} weekly snapshot rows before 1997-09-30, validation ROC-AUC ${Number(trained.metrics?.validation_roc_auc).toFixed(4)} (${seconds.toFixed(1)} s)\n`)
process.stdout.write(`CDNOW at 1997-09-30, ROC-AUC: purchase-history model${values['bgnbd-only'] ? ' (BG/NBD only)' : ''} ${modelAuc.toFixed(4)}, BG/NBD alone ${bgnbdAuc.toFixed(4)}, recency alone ${recency.toFixed(4)}\nWrote ${values.into}\n`)
