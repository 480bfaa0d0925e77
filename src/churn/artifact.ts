import { readFileSync } from 'node:fs'
import { rename, writeFile } from 'node:fs/promises'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import { GbtModel, IsotonicCalibrator, LogisticModel, sigmoid, type CalibrationBin, type GbtModelJson, type IsotonicJson } from '../model/index.ts'
import { CHURN_FEATURES, churnFeatureNames, churnFeatures, type CustomerProfile } from '../profile/index.ts'
import { isPurchaseHistory, PurchaseScorer, purchaseViewOf, type PurchaseModel } from './purchases.ts'

export type { PurchaseModel }

/** Risk bands: a score at or above `from` is in the band (the last matching one wins). */
export interface RiskBand { readonly name: string, readonly from: number }
export const defaultBands: readonly RiskBand[] = [
  { name: 'low', from: 0 }, { name: 'medium', from: 0.3 }, { name: 'high', from: 0.6 }, { name: 'critical', from: 0.8 }
]

/** The band a score falls in: the last whose `from` it reaches; `none` when there are no bands. */
export function bandOf (bands: readonly RiskBand[], score: number, none = ''): string {
  let name = bands[0]?.name ?? none
  for (const b of bands) if (score >= b.from) name = b.name
  return name
}

/** A band's scores: from `from` (included) to the next band's start (excluded; Infinity for the last). Undefined for a band not among them. */
export function bandRange (bands: readonly RiskBand[], name: string): { from: number, to: number } | undefined {
  const i = bands.findIndex(b => b.name === name)
  if (i < 0) return undefined
  return { from: (bands[i] as RiskBand).from, to: bands[i + 1]?.from ?? Number.POSITIVE_INFINITY }
}

export interface ModelMetrics { roc_auc: number, pr_auc: number, log_loss: number, brier?: number, calibration?: CalibrationBin[], deciles?: CalibrationBin[] }

/** A trained churn model as written to disk: versioned, with its features, training summary and metrics. */
export interface ChurnArtifact {
  format: 'churnflow-model'
  format_version: 1
  kind: 'churn'
  model_version: string
  created_at: string
  features: string[]
  horizon_days: number
  qualifying: string[]
  bands: readonly RiskBand[]
  model: GbtModelJson
  /** Maps the trees' raw probability to a calibrated one (fitted on a validation period); absent in older models. */
  calibration?: IsotonicJson
  baseline: unknown
  /** Scores purchase-only profiles instead of the trees, when present. */
  purchase_model?: PurchaseModel
  training: Record<string, number | string>
  metrics: {
    /**
     * On the test rows: the model as it scores (calibrated), the logistic-regression baseline, and
     * (models trained since they were added) recency alone, BG/NBD, and the trees before calibration.
     */
    test: { model: ModelMetrics, baseline: ModelMetrics, oracle?: ModelMetrics, recency?: ModelMetrics, bgnbd?: ModelMetrics, uncalibrated?: ModelMetrics }
    importance: { feature: string, importance: number }[]
    /** The baseline's coefficients on standardised features, largest magnitude first. */
    baseline_coefficients?: { feature: string, coefficient: number }[]
  }
}

/** Writes an artifact atomically (a reader, or a file watcher, never sees half a file). */
export async function saveArtifact (path: string, artifact: object): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(artifact))
  await rename(tmp, path)
}

/** Reads a model artifact's JSON; a missing or unparseable file is a `CHURNFLOW_MODEL_INVALID` error. */
export function readArtifactJson (path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw new ChurnflowError(ErrorCodes.MODEL_INVALID, `cannot read the model ${path}: ${(error as Error).message}`, { cause: error })
  }
}

export function loadChurnArtifact (path: string): ChurnArtifact {
  const json = readArtifactJson(path)
  const a = json as Partial<ChurnArtifact>
  if (a.format !== 'churnflow-model' || a.kind !== 'churn' || a.format_version !== 1) {
    throw new ChurnflowError(ErrorCodes.MODEL_INVALID, `${path} is not a churnflow churn model (format ${String(a.format)}, kind ${String(a.kind)})`)
  }
  if (!Array.isArray(a.features) || a.features.join(',') !== churnFeatureNames.join(',')) {
    throw new ChurnflowError(ErrorCodes.MODEL_INVALID, `${path} was trained on other features than this churnflow computes; retrain it with churnflow train`)
  }
  return json as ChurnArtifact
}

export interface Reason { readonly feature: string, readonly value: number, readonly impact: number }
export interface ChurnScore {
  readonly churn_score: number
  readonly risk_band: string
  readonly model_version: string
  readonly reasons: readonly Reason[]
}

/** The features that pushed a score up most (positive contributions to the margin), strongest first. */
export function topReasons (names: readonly string[], values: Float64Array, contributions: Float64Array, count = 3): Reason[] {
  // A selection of the few largest, not a sort of all: this runs for every scored event.
  const best: number[] = []
  for (let j = 0; j < names.length; j++) {
    const impact = contributions[j] as number
    if (!(impact > 0)) continue
    if (best.length === count && impact <= (contributions[best[count - 1] as number] as number)) continue
    let i = best.length < count ? best.length : count - 1
    while (i > 0 && (contributions[best[i - 1] as number] as number) < impact) {
      best[i] = best[i - 1] as number
      i--
    }
    best[i] = j
  }
  return best.map(j => ({ feature: names[j] as string, value: round(values[j] as number), impact: round(contributions[j] as number) }))
}

/** Scores profiles with a loaded artifact: probability, band, and the three features that pushed it up most. */
export class ChurnScorer {
  readonly artifact: ChurnArtifact
  readonly #model: GbtModel
  readonly #calibration: IsotonicCalibrator | undefined
  readonly #purchases: PurchaseScorer | undefined
  readonly #features = new Float64Array(CHURN_FEATURES)
  readonly #contributions = new Float64Array(CHURN_FEATURES)

  constructor (artifact: ChurnArtifact) {
    this.artifact = artifact
    try {
      this.#model = GbtModel.fromJSON(artifact.model)
    } catch (error) {
      throw new ChurnflowError(ErrorCodes.MODEL_INVALID, `the model in artifact ${artifact.model_version} is malformed: ${(error as Error).message}`, { cause: error })
    }
    try {
      this.#calibration = artifact.calibration === undefined ? undefined : IsotonicCalibrator.fromJSON(artifact.calibration)
    } catch (error) {
      throw new ChurnflowError(ErrorCodes.MODEL_INVALID, `the calibration in artifact ${artifact.model_version} is malformed: ${(error as Error).message}`, { cause: error })
    }
    try {
      this.#purchases = artifact.purchase_model === undefined ? undefined : new PurchaseScorer(artifact.purchase_model)
    } catch (error) {
      throw new ChurnflowError(ErrorCodes.MODEL_INVALID, `the purchase-history model in artifact ${artifact.model_version} is malformed: ${(error as Error).message}`, { cause: error })
    }
    if (this.#model.features !== CHURN_FEATURES) throw new ChurnflowError(ErrorCodes.MODEL_INVALID, `the model expects ${this.#model.features} features, churnflow computes ${CHURN_FEATURES}`)
    LogisticModel.fromJSON(artifact.baseline)
  }

  static fromFile (path: string): ChurnScorer {
    return new ChurnScorer(loadChurnArtifact(path))
  }

  get version (): string {
    return this.artifact.model_version
  }

  band (score: number): string {
    return bandOf(this.artifact.bands, score, 'low')
  }

  /** The purchase-history model's probability of no purchase within its horizon, for a purchase-only profile. */
  #purchaseScore (profile: CustomerProfile, at: number): number | undefined {
    if (this.#purchases === undefined || !isPurchaseHistory(profile)) return undefined
    return this.#purchases.score(purchaseViewOf(profile, at))
  }

  /** The score alone, for hot loops (no reasons). */
  scoreOnly (profile: CustomerProfile, at: number): number {
    const purchases = this.#purchaseScore(profile, at)
    if (purchases !== undefined) return purchases
    churnFeatures(profile, at, this.#features)
    return this.calibrate(this.#model.predict(this.#features))
  }

  /** The trees' raw probability as the artifact's calibration map reads it (unchanged without one). */
  calibrate (raw: number): number {
    return this.#calibration === undefined ? raw : this.#calibration.apply(raw)
  }

  score (profile: CustomerProfile, at: number): ChurnScore {
    const purchases = this.#purchaseScore(profile, at)
    if (purchases !== undefined) return this.#purchaseResult(profile, at, purchases)
    churnFeatures(profile, at, this.#features)
    // One walk of the trees gives the score and its reasons.
    const churnScore = this.calibrate(sigmoid(this.#model.explain(this.#features, this.#contributions)))
    return { churn_score: round(churnScore), risk_band: this.band(churnScore), model_version: this.version, reasons: topReasons(churnFeatureNames, this.#features, this.#contributions) }
  }

  #purchaseResult (profile: CustomerProfile, at: number, score: number): ChurnScore {
    return { churn_score: round(score), risk_band: this.band(score), model_version: this.version, reasons: purchaseReasons(this.#purchases as PurchaseScorer, profile, at, score) }
  }
}

/** The reason a purchase-history score gives: how much the silence since the last purchase adds. */
function purchaseReasons (scorer: PurchaseScorer, profile: CustomerProfile, at: number, score: number): Reason[] {
  const v = purchaseViewOf(profile, at)
  const justBought = scorer.score({ ...v, tx: v.T })
  const silentDays = (at - (profile.lastPurchase === 0 ? profile.firstSeen : profile.lastPurchase)) / 86_400_000
  return score - justBought > 0 ? [{ feature: 'days_since_last_purchase', value: round(silentDays), impact: round(score - justBought) }] : []
}

const round = (v: number): number => Math.round(v * 1e4) / 1e4
