/** Evaluation metrics for binary classifiers. Labels are 0/1; scores are probabilities or any monotone score. */

function checkPairs (name: string, scores: ArrayLike<number>, labels: ArrayLike<number>): { positives: number, negatives: number } {
  if (scores.length !== labels.length) throw new Error(`${name}: ${scores.length} scores but ${labels.length} labels`)
  if (scores.length === 0) throw new Error(`${name}: no scores`)
  let positives = 0
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]
    if (label === 1) positives++
    else if (label !== 0) throw new Error(`${name}: labels[${i}] is ${String(label)}; labels must be 0 or 1`)
    const score = scores[i] as number
    if (!Number.isFinite(score)) throw new Error(`${name}: scores[${i}] is ${String(score)}; scores must be finite`)
  }
  return { positives, negatives: labels.length - positives }
}

function checkProbabilities (name: string, scores: ArrayLike<number>): void {
  for (let i = 0; i < scores.length; i++) {
    const p = scores[i] as number
    if (p < 0 || p > 1) throw new Error(`${name}: scores[${i}] is ${p}; probabilities must be in [0, 1]`)
  }
}

/** Indices of `scores` in ascending score order. */
function ascending (scores: ArrayLike<number>): Uint32Array {
  const order = new Uint32Array(scores.length)
  for (let i = 0; i < order.length; i++) order[i] = i
  order.sort((a, b) => (scores[a] as number) - (scores[b] as number))
  return order
}

/**
 * Area under the ROC curve: the probability that a random positive outranks a random negative,
 * ties counting half (Mann–Whitney rank method). Throws if only one class is present.
 */
export function rocAuc (scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const { positives, negatives } = checkPairs('rocAuc', scores, labels)
  if (positives === 0 || negatives === 0) throw new Error('rocAuc: needs both classes in labels')
  const order = ascending(scores)
  let positiveRankSum = 0
  for (let i = 0; i < order.length;) {
    const s = scores[order[i] as number] as number
    let j = i
    let groupPositives = 0
    while (j < order.length && scores[order[j] as number] === s) {
      groupPositives += labels[order[j] as number] as number
      j++
    }
    // Tied scores share the mean of ranks i+1 … j.
    positiveRankSum += groupPositives * (i + 1 + j) / 2
    i = j
  }
  return (positiveRankSum - positives * (positives + 1) / 2) / (positives * negatives)
}

/**
 * Area under the precision–recall curve as average precision, step-wise like scikit-learn's
 * `average_precision_score`: the sum over score thresholds of (recall gain) × precision.
 * Tied scores form one threshold. Throws if there is no positive label.
 */
export function prAuc (scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const { positives } = checkPairs('prAuc', scores, labels)
  if (positives === 0) throw new Error('prAuc: needs at least one positive label')
  const order = ascending(scores)
  let truePositives = 0
  let predicted = 0
  let ap = 0
  for (let i = order.length - 1; i >= 0;) {
    const s = scores[order[i] as number] as number
    let groupPositives = 0
    let j = i
    while (j >= 0 && scores[order[j] as number] === s) {
      groupPositives += labels[order[j] as number] as number
      j--
    }
    predicted += i - j
    truePositives += groupPositives
    ap += (groupPositives / positives) * (truePositives / predicted)
    i = j
  }
  return ap
}

/** Mean negative log-likelihood of 0/1 labels under probabilities `scores`, clipped to [eps, 1 − eps]. */
export function logLoss (scores: ArrayLike<number>, labels: ArrayLike<number>, eps = 1e-15): number {
  checkPairs('logLoss', scores, labels)
  checkProbabilities('logLoss', scores)
  if (!(eps >= 0 && eps < 0.5)) throw new Error(`logLoss: eps must be in [0, 0.5), got ${eps}`)
  let sum = 0
  for (let i = 0; i < scores.length; i++) {
    const p = Math.min(Math.max(scores[i] as number, eps), 1 - eps)
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p)
  }
  return sum / scores.length
}

/** Mean squared difference between probabilities and 0/1 labels. */
export function brierScore (scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPairs('brierScore', scores, labels)
  checkProbabilities('brierScore', scores)
  let sum = 0
  for (let i = 0; i < scores.length; i++) {
    const d = (scores[i] as number) - (labels[i] as number)
    sum += d * d
  }
  return sum / scores.length
}

/** One bin of a reliability diagram. */
export interface CalibrationBin {
  /** Lower edge of the bin (included). */
  lower: number
  /** Upper edge of the bin (excluded, except 1 in the last bin). */
  upper: number
  /** Predictions falling in the bin. */
  count: number
  /** Mean predicted probability in the bin. */
  meanPredicted: number
  /** Share of positive labels in the bin. */
  observedRate: number
}

/**
 * Reliability table: `bins` equal-width bins over [0, 1] (a probability of exactly 1 goes in the
 * last bin), each with its mean prediction and observed positive rate. Empty bins are omitted.
 */
export function calibrationTable (scores: ArrayLike<number>, labels: ArrayLike<number>, bins = 10): CalibrationBin[] {
  checkPairs('calibrationTable', scores, labels)
  checkProbabilities('calibrationTable', scores)
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`calibrationTable: bins must be a positive integer, got ${bins}`)
  const count = new Float64Array(bins)
  const predicted = new Float64Array(bins)
  const observed = new Float64Array(bins)
  for (let i = 0; i < scores.length; i++) {
    const p = scores[i] as number
    const b = Math.min(Math.floor(p * bins), bins - 1)
    count[b] = (count[b] as number) + 1
    predicted[b] = (predicted[b] as number) + p
    observed[b] = (observed[b] as number) + (labels[i] as number)
  }
  const table: CalibrationBin[] = []
  for (let b = 0; b < bins; b++) {
    const n = count[b] as number
    if (n === 0) continue
    table.push({ lower: b / bins, upper: (b + 1) / bins, count: n, meanPredicted: (predicted[b] as number) / n, observedRate: (observed[b] as number) / n })
  }
  return table
}

/**
 * Reliability by deciles: the rows sorted by prediction and cut into `groups` groups of (nearly)
 * equal size, each with its mean prediction and observed rate. `lower`/`upper` are the group's
 * smallest and largest prediction.
 */
export function reliabilityDeciles (scores: ArrayLike<number>, labels: ArrayLike<number>, groups = 10): CalibrationBin[] {
  checkPairs('reliabilityDeciles', scores, labels)
  checkProbabilities('reliabilityDeciles', scores)
  const order = ascending(scores)
  const n = order.length
  const table: CalibrationBin[] = []
  for (let g = 0; g < groups; g++) {
    const from = Math.floor((g * n) / groups)
    const to = Math.floor(((g + 1) * n) / groups)
    if (to <= from) continue
    let predicted = 0
    let observed = 0
    for (let k = from; k < to; k++) {
      predicted += scores[order[k] as number] as number
      observed += labels[order[k] as number] as number
    }
    table.push({ lower: scores[order[from] as number] as number, upper: scores[order[to - 1] as number] as number, count: to - from, meanPredicted: predicted / (to - from), observedRate: observed / (to - from) })
  }
  return table
}

/** The largest |mean predicted − observed| over a reliability table's bins. */
export function largestCalibrationGap (table: readonly CalibrationBin[]): number {
  return table.reduce((m, b) => Math.max(m, Math.abs(b.meanPredicted - b.observedRate)), 0)
}
