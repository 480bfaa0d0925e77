/** An isotonic calibration map as stored in a model artifact: ascending scores and their probabilities. */
export interface IsotonicJson {
  readonly kind: 'isotonic'
  readonly x: number[]
  readonly y: number[]
}

/** Keeps a calibrated probability off 0 and 1: a validation set never proves certainty. */
const FLOOR = 1e-4

/**
 * Isotonic regression of labels on scores (pool adjacent violators): the non-decreasing map from a
 * raw score to the observed rate that fits the validation rows best in squared error. Applied by
 * linear interpolation between the fitted blocks' mean scores, flat beyond the ends.
 */
export class IsotonicCalibrator {
  readonly #x: Float64Array
  readonly #y: Float64Array

  constructor (x: ArrayLike<number>, y: ArrayLike<number>) {
    if (x.length !== y.length || x.length === 0) throw new Error('isotonic calibration: needs as many ys as xs, at least one')
    this.#x = Float64Array.from(x)
    this.#y = Float64Array.from(y)
    for (let i = 1; i < this.#x.length; i++) {
      if (!((this.#x[i] as number) >= (this.#x[i - 1] as number)) || !((this.#y[i] as number) >= (this.#y[i - 1] as number))) throw new Error('isotonic calibration: points must be ascending')
    }
  }

  /** Fits the map on raw scores and 0/1 labels. */
  static fit (scores: ArrayLike<number>, labels: ArrayLike<number>): IsotonicCalibrator {
    const n = scores.length
    if (n === 0 || labels.length !== n) throw new Error('isotonic calibration: needs scores and as many labels')
    const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number))
    // Blocks of pooled rows: sum of scores, sum of labels, rows. Rows with the same score are one
    // block from the start: a map gives a score one probability, and blocks of equal scores kept
    // apart could get mean scores that round out of order.
    const sx: number[] = []
    const sy: number[] = []
    const w: number[] = []
    let previous = Number.NaN
    for (const i of order) {
      const score = scores[i] as number
      if (score === previous) {
        sx[sx.length - 1] = (sx[sx.length - 1] as number) + score
        sy[sy.length - 1] = (sy[sy.length - 1] as number) + (labels[i] as number)
        w[w.length - 1] = (w[w.length - 1] as number) + 1
      } else {
        sx.push(score)
        sy.push(labels[i] as number)
        w.push(1)
      }
      previous = score
      while (w.length > 1 && (sy[sy.length - 2] as number) / (w[w.length - 2] as number) >= (sy[sy.length - 1] as number) / (w[w.length - 1] as number)) {
        const lx = sx.pop() as number
        const ly = sy.pop() as number
        const lw = w.pop() as number
        sx[sx.length - 1] = (sx[sx.length - 1] as number) + lx
        sy[sy.length - 1] = (sy[sy.length - 1] as number) + ly
        w[w.length - 1] = (w[w.length - 1] as number) + lw
      }
    }
    const x = sx.map((s, k) => s / (w[k] as number))
    // A block's mean score is rounded: never let it fall below the block before.
    for (let k = 1; k < x.length; k++) if ((x[k] as number) < (x[k - 1] as number)) x[k] = x[k - 1] as number
    const y = sy.map((s, k) => Math.min(1 - FLOOR, Math.max(FLOOR, s / (w[k] as number))))
    return new IsotonicCalibrator(x, y)
  }

  static fromJSON (json: unknown): IsotonicCalibrator {
    const j = json as Partial<IsotonicJson> | null
    if (j === null || typeof j !== 'object' || j.kind !== 'isotonic' || !Array.isArray(j.x) || !Array.isArray(j.y)) throw new Error('not an isotonic calibration map')
    return new IsotonicCalibrator(j.x, j.y)
  }

  toJSON (): IsotonicJson {
    return { kind: 'isotonic', x: [...this.#x], y: [...this.#y] }
  }

  /** The calibrated probability of a raw score. */
  apply (score: number): number {
    const x = this.#x
    const y = this.#y
    const n = x.length
    if (score <= (x[0] as number)) return y[0] as number
    if (score >= (x[n - 1] as number)) return y[n - 1] as number
    let lo = 0
    let hi = n - 1
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1
      if ((x[mid] as number) <= score) lo = mid
      else hi = mid
    }
    const x0 = x[lo] as number
    const x1 = x[hi] as number
    const t = x1 > x0 ? (score - x0) / (x1 - x0) : 0
    return (y[lo] as number) + t * ((y[hi] as number) - (y[lo] as number))
  }
}
