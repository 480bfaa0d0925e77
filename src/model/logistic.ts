import { validateDataset, type Dataset } from './dataset.ts'
import { logLossOfMargin, sigmoid } from './math.ts'

/** Training options of {@link trainLogistic}. */
export interface LogisticOptions {
  /** L2 penalty on the standardised coefficients (not the intercept), added to the mean log loss as (l2 / 2) × Σ w². */
  l2: number
  /** Most Newton iterations. */
  iterations: number
  /** Converged when no coefficient moves by more than this in an iteration. */
  tolerance: number
}

/** The default {@link LogisticOptions}. */
export const logisticDefaults: Readonly<LogisticOptions> = Object.freeze({ l2: 1e-3, iterations: 200, tolerance: 1e-7 })

/**
 * The serialised form of a {@link LogisticModel}. Feature j is standardised as
 * `(x_j − mean[j]) / scale[j]`; a feature with scale 0 was constant in training and is ignored.
 * `margin(x) = intercept + Σ coefficients[j] × standardised x_j`.
 */
export interface LogisticModelJson {
  kind: 'logistic'
  version: 1
  features: number
  mean: number[]
  scale: number[]
  coefficients: number[]
  intercept: number
  options: LogisticOptions
}

/** A trained L2-regularised logistic regression on standardised features. Predicting allocates nothing. */
export class LogisticModel {
  /** Features per row. */
  readonly features: number
  readonly #json: LogisticModelJson
  readonly #mean: Float64Array
  /** 1 / scale, or 0 for ignored features. */
  readonly #inverseScale: Float64Array
  readonly #coefficients: Float64Array
  readonly #intercept: number

  /** Builds a model from its JSON form (validated; see {@link LogisticModel.fromJSON}). Use {@link trainLogistic} to train one. */
  constructor (json: LogisticModelJson) {
    const model = parseLogisticJson(json)
    this.#json = model
    this.features = model.features
    this.#mean = Float64Array.from(model.mean)
    this.#inverseScale = Float64Array.from(model.scale, s => s > 0 ? 1 / s : 0)
    this.#coefficients = Float64Array.from(model.coefficients, (c, j) => model.scale[j] === 0 ? 0 : c)
    this.#intercept = model.intercept
  }

  /** Margin (log-odds) of one row: `x[offset] … x[offset + features − 1]`. */
  margin (x: ArrayLike<number>, offset = 0): number {
    this.#checkRow(x, offset)
    const mean = this.#mean
    const inverseScale = this.#inverseScale
    const coefficients = this.#coefficients
    let sum = this.#intercept
    for (let j = 0; j < this.features; j++) {
      sum += (coefficients[j] as number) * (((x[offset + j] as number) - (mean[j] as number)) * (inverseScale[j] as number))
    }
    return sum
  }

  /** Probability that the row is positive, in (0, 1); it rounds to exactly 0 or 1 only beyond |margin| ≈ 37. */
  predict (x: ArrayLike<number>, offset = 0): number {
    return sigmoid(this.margin(x, offset))
  }

  /**
   * Per-feature contributions to the margin, `coefficient_j × standardised x_j`, written into `out`
   * (length = features). Returns the bias (the intercept): `bias + Σ out = margin(x)`.
   */
  contributions (x: ArrayLike<number>, out: Float64Array, offset = 0): number {
    this.#checkRow(x, offset)
    if (out.length !== this.features) throw new Error(`LogisticModel.contributions: out has length ${out.length}, expected ${this.features}`)
    const mean = this.#mean
    const inverseScale = this.#inverseScale
    const coefficients = this.#coefficients
    for (let j = 0; j < this.features; j++) {
      out[j] = (coefficients[j] as number) * (((x[offset + j] as number) - (mean[j] as number)) * (inverseScale[j] as number))
    }
    return this.#intercept
  }

  /** Coefficients on the standardised features (0 for ignored, constant features); a fresh copy. */
  coefficients (): Float64Array {
    return new Float64Array(this.#coefficients)
  }

  /** The model as a plain, versioned JSON object (a fresh copy). */
  toJSON (): LogisticModelJson {
    return structuredClone(this.#json)
  }

  /** Rebuilds a model from {@link LogisticModel.toJSON} output; throws an Error naming the first malformed field. */
  static fromJSON (json: unknown): LogisticModel {
    // The constructor validates.
    return new LogisticModel(json as LogisticModelJson)
  }

  #checkRow (x: ArrayLike<number>, offset: number): void {
    // offset >>> 0 is offset exactly when offset is an integer in [0, 2^32).
    if (offset >>> 0 !== offset || offset + this.features > x.length) {
      throw new Error(`LogisticModel: a row of ${this.features} features at offset ${offset} does not fit in x of length ${x.length}`)
    }
  }
}

function resolveOptions (options: Partial<LogisticOptions>, where: string): LogisticOptions {
  const resolved: LogisticOptions = { ...logisticDefaults }
  for (const [key, value] of Object.entries(options)) {
    if (!Object.hasOwn(logisticDefaults, key)) throw new Error(`${where}: unknown option "${key}"`)
    if (value === undefined) continue
    const shown = JSON.stringify(value) ?? String(value)
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${where}: option ${key} must be a finite number, got ${shown}`)
    if (key === 'l2' && value < 0) throw new Error(`${where}: option l2 must be >= 0, got ${shown}`)
    if (key === 'iterations' && !(Number.isInteger(value) && value >= 1)) throw new Error(`${where}: option iterations must be a positive integer, got ${shown}`)
    if (key === 'tolerance' && !(value > 0)) throw new Error(`${where}: option tolerance must be > 0, got ${shown}`)
    resolved[key as keyof LogisticOptions] = value
  }
  return resolved
}

function finiteArray (value: unknown, name: string, length: number): number[] {
  if (!Array.isArray(value)) throw new Error(`LogisticModel.fromJSON: ${name} must be an array`)
  if (value.length !== length) throw new Error(`LogisticModel.fromJSON: ${name} has ${value.length} entries, expected ${length}`)
  return value.map((v: unknown, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`LogisticModel.fromJSON: ${name}[${i}] must be a finite number, got ${JSON.stringify(v) ?? String(v)}`)
    return v
  })
}

/** Checks an unknown value against {@link LogisticModelJson} and returns a deep copy of it. */
function parseLogisticJson (json: unknown): LogisticModelJson {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('LogisticModel.fromJSON: expected an object')
  const o = json as Record<string, unknown>
  if (o.kind !== 'logistic') throw new Error(`LogisticModel.fromJSON: kind must be "logistic", got ${JSON.stringify(o.kind) ?? String(o.kind)}`)
  if (o.version !== 1) throw new Error(`LogisticModel.fromJSON: unsupported version ${JSON.stringify(o.version) ?? String(o.version)} (this build reads version 1)`)
  const features = o.features
  if (typeof features !== 'number' || !Number.isInteger(features) || features < 1) throw new Error('LogisticModel.fromJSON: features must be a positive integer')
  const mean = finiteArray(o.mean, 'mean', features)
  const scale = finiteArray(o.scale, 'scale', features)
  scale.forEach((s, j) => { if (s < 0) throw new Error(`LogisticModel.fromJSON: scale[${j}] is negative`) })
  const coefficients = finiteArray(o.coefficients, 'coefficients', features)
  const intercept = o.intercept
  if (typeof intercept !== 'number' || !Number.isFinite(intercept)) throw new Error('LogisticModel.fromJSON: intercept must be a finite number')
  if (typeof o.options !== 'object' || o.options === null || Array.isArray(o.options)) throw new Error('LogisticModel.fromJSON: options must be an object')
  const options = resolveOptions(o.options as Partial<LogisticOptions>, 'LogisticModel.fromJSON')
  return { kind: 'logistic', version: 1, features, mean, scale, coefficients, intercept, options }
}

/**
 * Cholesky solve of the symmetric positive definite system a·s = b (a is n×n row-major, only its
 * lower triangle read; a is overwritten). Returns false if a is not positive definite.
 */
function choleskySolve (a: Float64Array, b: Float64Array, n: number, s: Float64Array): boolean {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j] as number
    for (let k = 0; k < j; k++) d -= (a[j * n + k] as number) ** 2
    if (!(d > 0)) return false
    const l = Math.sqrt(d)
    a[j * n + j] = l
    for (let i = j + 1; i < n; i++) {
      let v = a[i * n + j] as number
      for (let k = 0; k < j; k++) v -= (a[i * n + k] as number) * (a[j * n + k] as number)
      a[i * n + j] = v / l
    }
  }
  for (let i = 0; i < n; i++) {
    let v = b[i] as number
    for (let k = 0; k < i; k++) v -= (a[i * n + k] as number) * (s[k] as number)
    s[i] = v / (a[i * n + i] as number)
  }
  for (let i = n - 1; i >= 0; i--) {
    let v = s[i] as number
    for (let k = i + 1; k < n; k++) v -= (a[k * n + i] as number) * (s[k] as number)
    s[i] = v / (a[i * n + i] as number)
  }
  return true
}

/**
 * Trains an L2-regularised logistic regression by Newton's method with a backtracking line search,
 * on features standardised with the training mean and standard deviation (constant features are
 * ignored). Minimises mean log loss + (l2 / 2) × Σ w² over the standardised coefficients w.
 */
export function trainLogistic (train: Dataset, options: Partial<LogisticOptions> = {}): LogisticModel {
  const opts = resolveOptions(options, 'trainLogistic')
  validateDataset(train, 'trainLogistic: training set')
  const { x, y, rows, features } = train
  let positives = 0
  for (let i = 0; i < rows; i++) positives += y[i] as number
  if (positives === 0 || positives === rows) throw new Error('trainLogistic: the training labels must contain both classes')

  const mean = new Float64Array(features)
  const scale = new Float64Array(features)
  for (let i = 0; i < rows; i++) for (let j = 0; j < features; j++) mean[j] = (mean[j] as number) + (x[i * features + j] as number)
  for (let j = 0; j < features; j++) mean[j] = (mean[j] as number) / rows
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < features; j++) {
      const d = (x[i * features + j] as number) - (mean[j] as number)
      scale[j] = (scale[j] as number) + d * d
    }
  }
  const used: number[] = []
  for (let j = 0; j < features; j++) {
    const sd = Math.sqrt((scale[j] as number) / rows)
    // A constant column can leave a rounding-sized spread behind; treat that as constant too.
    const constant = !(sd > 1e-12 * Math.max(1, Math.abs(mean[j] as number)))
    scale[j] = constant ? 0 : sd
    if (!constant) used.push(j)
  }

  // Parameters: w[0 … p−2] for the used features, w[p−1] the intercept.
  const p = used.length + 1
  const usedIdx = Int32Array.from(used)
  const w = new Float64Array(p)
  w[p - 1] = Math.log(positives / (rows - positives))
  const z = new Float64Array(p)
  z[p - 1] = 1
  const grad = new Float64Array(p)
  const hess = new Float64Array(p * p)
  const step = new Float64Array(p)
  const trial = new Float64Array(p)
  const lambda = opts.l2

  const standardise = (i: number): void => {
    for (let a = 0; a < p - 1; a++) {
      const j = usedIdx[a] as number
      z[a] = ((x[i * features + j] as number) - (mean[j] as number)) / (scale[j] as number)
    }
  }
  const penalty = (v: Float64Array): number => {
    let s = 0
    for (let a = 0; a < p - 1; a++) s += (v[a] as number) ** 2
    return lambda / 2 * s
  }
  const objective = (v: Float64Array): number => {
    let loss = 0
    for (let i = 0; i < rows; i++) {
      standardise(i)
      let m = 0
      for (let a = 0; a < p; a++) m += (v[a] as number) * (z[a] as number)
      loss += logLossOfMargin(m, y[i] as number)
    }
    return loss / rows + penalty(v)
  }

  let current = objective(w)
  for (let iteration = 0; iteration < opts.iterations; iteration++) {
    grad.fill(0)
    hess.fill(0)
    for (let i = 0; i < rows; i++) {
      standardise(i)
      let m = 0
      for (let a = 0; a < p; a++) m += (w[a] as number) * (z[a] as number)
      const q = sigmoid(m)
      const r = q - (y[i] as number)
      const weight = q * (1 - q)
      for (let a = 0; a < p; a++) {
        const za = z[a] as number
        grad[a] = (grad[a] as number) + r * za
        const wa = weight * za
        const row = a * p
        for (let b = 0; b <= a; b++) hess[row + b] = (hess[row + b] as number) + wa * (z[b] as number)
      }
    }
    let slope = 0
    for (let a = 0; a < p; a++) {
      grad[a] = (grad[a] as number) / rows + (a < p - 1 ? lambda * (w[a] as number) : 0)
      for (let b = 0; b <= a; b++) hess[a * p + b] = (hess[a * p + b] as number) / rows
      // A tiny ridge keeps the intercept's curvature positive once the data is (nearly) separated.
      hess[a * p + a] = (hess[a * p + a] as number) + (a < p - 1 ? lambda : 0) + 1e-12
    }
    for (let a = 0; a < p; a++) grad[a] = -(grad[a] as number)
    let jitter = 1e-10
    const saved = new Float64Array(hess)
    while (!choleskySolve(hess, grad, p, step)) {
      hess.set(saved)
      for (let a = 0; a < p; a++) hess[a * p + a] = (hess[a * p + a] as number) + jitter
      jitter *= 10
      if (jitter > 1e6) throw new Error('trainLogistic: the Hessian is not positive definite')
    }
    for (let a = 0; a < p; a++) slope -= (step[a] as number) * (grad[a] as number)
    let t = 1
    let next: number
    for (;;) {
      for (let a = 0; a < p; a++) trial[a] = (w[a] as number) + t * (step[a] as number)
      next = objective(trial)
      if (next <= current + 1e-4 * t * slope || t < 1e-10) break
      t /= 2
    }
    let moved = 0
    for (let a = 0; a < p; a++) moved = Math.max(moved, Math.abs((trial[a] as number) - (w[a] as number)))
    w.set(trial)
    current = next
    if (moved < opts.tolerance) break
  }

  const coefficients = new Array<number>(features).fill(0)
  used.forEach((j, a) => { coefficients[j] = w[a] as number })
  return new LogisticModel({
    kind: 'logistic',
    version: 1,
    features,
    mean: Array.from(mean),
    scale: Array.from(scale),
    coefficients,
    intercept: w[p - 1] as number,
    options: opts
  })
}
