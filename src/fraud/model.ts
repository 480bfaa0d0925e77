import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { readArtifactJson, topReasons, type ModelMetrics, type Reason } from '../churn/index.ts'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import {
  calibrationTable, GbtModel, LogisticModel, logLoss, prAuc, rocAuc, sigmoid, trainGbt, trainLogistic,
  type GbtModelJson, type GbtOptions
} from '../model/index.ts'
import {
  applyTransaction, emptyAccount, factsOf, FRAUD_FEATURES, fraudFeatureNames, fraudFeatures,
  type AccountProfile, type TransactionFacts
} from './account.ts'

export const shippedFraudModelPath = fileURLToPath(new URL('../../models/fraud-model.json', import.meta.url))

export interface FraudArtifact {
  format: 'churnflow-model'
  format_version: 1
  kind: 'fraud'
  model_version: string
  created_at: string
  features: string[]
  /** Scores at or above it are labelled fraud: the F1-best threshold on the validation rows. */
  threshold: number
  model: GbtModelJson
  baseline: unknown
  training: Record<string, number | string>
  metrics: { test: { model: ModelMetrics, baseline: ModelMetrics, fraud_rate: number, precision_at_threshold: number, recall_at_threshold: number }, importance: { feature: string, importance: number }[] }
}

/** One transaction as training reads it: its facts, its account, its id (for the truth). */
export interface TrainingTransaction { facts: TransactionFacts, account: string, id: string }

/** Reads transactions (JSON lines) and, when given, the truth file's labels by transaction id. */
export async function readTransactions (path: string): Promise<{ rows: TrainingTransaction[], skipped: number }> {
  if (!existsSync(path)) throw new ChurnflowError(ErrorCodes.USAGE, `${path} does not exist`, { exitCode: 2 })
  const rows: TrainingTransaction[] = []
  let skipped = 0
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (line.trim() === '') continue
    try {
      const tx = JSON.parse(line) as Record<string, unknown>
      const facts = typeof tx.timestamp === 'string' && typeof tx.amount === 'number'
        ? factsOf({ timestamp: tx.timestamp, amount: tx.amount, country: String(tx.country ?? ''), merchant_category: String(tx.merchant_category ?? ''), channel: String(tx.channel ?? '') })
        : undefined
      if (facts === undefined || typeof tx.account_id !== 'string' || typeof tx.transaction_id !== 'string') {
        skipped++
        continue
      }
      rows.push({ facts, account: tx.account_id, id: tx.transaction_id })
    } catch {
      skipped++
    }
  }
  rows.sort((a, b) => a.facts.time - b.facts.time)
  return { rows, skipped }
}

export async function readFraudTruth (path: string): Promise<Map<string, boolean>> {
  if (!existsSync(path)) throw new ChurnflowError(ErrorCodes.USAGE, `${path} does not exist`, { exitCode: 2 })
  const truth = new Map<string, boolean>()
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (line.trim() === '') continue
    const t = JSON.parse(line) as { transaction_id?: unknown, is_fraud?: unknown }
    if (typeof t.transaction_id === 'string' && typeof t.is_fraud === 'boolean') truth.set(t.transaction_id, t.is_fraud)
  }
  return truth
}

function bestThreshold (scores: Float64Array, labels: Uint8Array): { threshold: number, precision: number, recall: number } {
  const order = [...scores.keys()].sort((a, b) => (scores[b] as number) - (scores[a] as number))
  const positives = labels.reduce((s, v) => s + v, 0)
  let tp = 0
  let best = { threshold: 0.5, precision: 0, recall: 0, f1: -1 }
  order.forEach((i, k) => {
    tp += labels[i] as number
    const precision = tp / (k + 1)
    const recall = positives > 0 ? tp / positives : 0
    const f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
    if (f1 > best.f1) best = { threshold: scores[i] as number, precision, recall, f1 }
  })
  return best
}

/**
 * The training path's features: each transaction against its account as it was just before it,
 * rows in the order given (time order), `FRAUD_FEATURES` values a row. The fraud pipeline must
 * compute the same for the same stream (a test holds it to that).
 */
export function trainingFeatures (rows: readonly TrainingTransaction[]): { x: Float64Array, accounts: Map<string, AccountProfile> } {
  const x = new Float64Array(rows.length * FRAUD_FEATURES)
  const accounts = new Map<string, AccountProfile>()
  rows.forEach((row, r) => {
    const account = accounts.get(row.account) ?? emptyAccount()
    accounts.set(row.account, account)
    fraudFeatures(account, row.facts, x, r * FRAUD_FEATURES)
    applyTransaction(account, row.facts)
  })
  return { x, accounts }
}

/** Trains the fraud model: per-account features before each transaction, labels from the truth, split in time. */
export function trainFraudModel (rows: readonly TrainingTransaction[], truth: ReadonlyMap<string, boolean>, options: { gbt?: Partial<GbtOptions>, trainShare?: number, onProgress?: (m: string) => void } = {}): FraudArtifact {
  const started = Date.now()
  const n = rows.length
  const { x, accounts } = trainingFeatures(rows)
  const y = new Uint8Array(n)
  let unlabelled = 0
  rows.forEach((row, r) => {
    const label = truth.get(row.id)
    if (label === undefined) unlabelled++
    y[r] = label === true ? 1 : 0
  })
  if (unlabelled > n / 2) throw new Error(`${unlabelled} of ${n} transactions have no label in the truth file`)
  const trainEnd = Math.floor(n * (options.trainShare ?? 0.7))
  const validFrom = Math.floor(trainEnd * 0.85)
  const slice = (from: number, to: number): { x: Float64Array, y: Uint8Array, rows: number, features: number } =>
    ({ x: x.subarray(from * FRAUD_FEATURES, to * FRAUD_FEATURES), y: y.subarray(from, to), rows: to - from, features: FRAUD_FEATURES })
  const train = slice(0, validFrom)
  const valid = slice(validFrom, trainEnd)
  const test = slice(trainEnd, n)
  if (train.y.reduce((s, v) => s + v, 0) < 10 || test.y.reduce((s, v) => s + v, 0) < 5) throw new Error('too few fraudulent transactions to train and test on: simulate more (--days, --accounts)')
  options.onProgress?.(`rows: ${train.rows} train, ${valid.rows} validation, ${test.rows} test (later in time)`)
  const gbt = trainGbt(train, { ...options.gbt }, valid)
  const baseline = trainLogistic(train)
  const score = (data: typeof test, predict: (x: Float64Array, o: number) => number): Float64Array => {
    const out = new Float64Array(data.rows)
    for (let r = 0; r < data.rows; r++) out[r] = predict(data.x, r * FRAUD_FEATURES)
    return out
  }
  const metrics = (s: Float64Array, labels: Uint8Array): ModelMetrics => ({ roc_auc: rocAuc(s, labels), pr_auc: prAuc(s, labels), log_loss: logLoss(s, labels), calibration: calibrationTable(s, labels, 10) })
  const { threshold } = bestThreshold(score(valid, (a, o) => gbt.predict(a, o)), valid.y)
  const testScores = score(test, (a, o) => gbt.predict(a, o))
  let tp = 0
  let flagged = 0
  const positives = test.y.reduce((s, v) => s + v, 0)
  testScores.forEach((s, i) => { if (s >= threshold) { flagged++; tp += test.y[i] as number } })
  const importance = gbt.importance()
  const created = new Date()
  return {
    format: 'churnflow-model',
    format_version: 1,
    kind: 'fraud',
    model_version: `fraud-${created.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}-${createHash('sha256').update(JSON.stringify(gbt.toJSON())).digest('hex').slice(0, 8)}`,
    created_at: created.toISOString(),
    features: [...fraudFeatureNames],
    threshold,
    model: gbt.toJSON(),
    baseline: baseline.toJSON(),
    training: { transactions: n, accounts: accounts.size, train_rows: train.rows, validation_rows: valid.rows, test_rows: test.rows, trees: gbt.trees, seconds: (Date.now() - started) / 1000 },
    metrics: {
      test: {
        model: metrics(testScores, test.y),
        baseline: metrics(score(test, (a, o) => baseline.predict(a, o)), test.y),
        fraud_rate: positives / test.rows,
        precision_at_threshold: flagged > 0 ? tp / flagged : 0,
        recall_at_threshold: positives > 0 ? tp / positives : 0
      },
      importance: fraudFeatureNames.map((f, j) => ({ feature: f, importance: importance[j] as number })).sort((a, b) => b.importance - a.importance)
    }
  }
}

export interface FraudScore { fraud_score: number, prediction: 'fraud' | 'legit', model_version: string, reasons: Reason[] }

export class FraudScorer {
  readonly artifact: FraudArtifact
  readonly #model: GbtModel
  readonly #x = new Float64Array(FRAUD_FEATURES)
  readonly #c = new Float64Array(FRAUD_FEATURES)

  constructor (artifact: FraudArtifact) {
    if (artifact.kind !== 'fraud' || artifact.features.join(',') !== fraudFeatureNames.join(',')) {
      throw new ChurnflowError(ErrorCodes.MODEL_INVALID, 'not a fraud model for the features this churnflow computes; retrain it with churnflow train --kind fraud')
    }
    this.artifact = artifact
    this.#model = GbtModel.fromJSON(artifact.model)
    LogisticModel.fromJSON(artifact.baseline)
  }

  static fromFile (path: string): FraudScorer {
    return new FraudScorer(readArtifactJson(path) as FraudArtifact)
  }

  score (account: AccountProfile, tx: TransactionFacts): FraudScore {
    fraudFeatures(account, tx, this.#x)
    return this.scoreFeatures(this.#x)
  }

  /** Scores features computed elsewhere (a pipeline sends them to the API): `FRAUD_FEATURES` values from `offset`. */
  scoreFeatures (x: Float64Array, offset = 0): FraudScore {
    const row = offset === 0 && x.length === FRAUD_FEATURES ? x : x.subarray(offset, offset + FRAUD_FEATURES)
    const p = sigmoid(this.#model.explain(row, this.#c))
    return { fraud_score: round(p), prediction: p >= this.artifact.threshold ? 'fraud' : 'legit', model_version: this.artifact.model_version, reasons: topReasons(fraudFeatureNames, row, this.#c) }
  }
}

/** Features as the API receives them: `{ feature name: value }`. */
export function featureRecord (x: Float64Array, offset = 0): Record<string, number> {
  const out: Record<string, number> = {}
  fraudFeatureNames.forEach((name, j) => { out[name] = x[offset + j] as number })
  return out
}

/** The other way: a `{ feature name: value }` object to the model's vector, or the first feature it lacks. */
export function featureVector (record: Readonly<Record<string, unknown>>): Float64Array | string {
  const x = new Float64Array(FRAUD_FEATURES)
  for (let j = 0; j < FRAUD_FEATURES; j++) {
    const name = fraudFeatureNames[j] as string
    const v = record[name]
    if (typeof v !== 'number' || !Number.isFinite(v)) return name
    x[j] = v
  }
  return x
}

const round = (v: number): number => Math.round(v * 1e4) / 1e4
