import { Rng } from '../util/rng.ts'
import { validateDataset, type Dataset } from './dataset.ts'
import { logLossOfMargin, sigmoid } from './math.ts'

/** Training options of {@link trainGbt}. */
export interface GbtOptions {
  /** Boosting rounds (the most trees kept). */
  trees: number
  /** Depth of each tree (depth-wise growth), 1 to {@link gbtMaxDepth}. */
  maxDepth: number
  /** Shrinkage applied to every leaf value. */
  learningRate: number
  /** Fewest training rows (of the tree's subsample) in any leaf. */
  minSamplesLeaf: number
  /** L2 penalty (lambda) on leaf weights. */
  l2: number
  /** Most histogram bins per feature, 2 to 255. */
  bins: number
  /** Fraction of rows drawn (independently per row) for each tree, in (0, 1]. */
  subsample: number
  /** Fraction of features drawn for each tree, in (0, 1]. */
  colsample: number
  /** Seed of the row and feature sampling. */
  seed: number
  /** Stop after this many rounds without a better validation log loss (only with a validation set). */
  earlyStoppingRounds: number
}

/** The default {@link GbtOptions}. */
export const gbtDefaults: Readonly<GbtOptions> = Object.freeze({
  trees: 200,
  maxDepth: 4,
  learningRate: 0.08,
  minSamplesLeaf: 20,
  l2: 1.0,
  bins: 64,
  subsample: 0.8,
  colsample: 1,
  seed: 1,
  earlyStoppingRounds: 20
})

/** Deepest tree allowed: inference stores each tree as a complete binary tree of this depth. */
export const gbtMaxDepth = 12

/**
 * One tree in {@link GbtModelJson}: parallel arrays indexed by node, node 0 the root, children
 * always after their parent (breadth-first order).
 */
export interface GbtTreeJson {
  /** Split feature, or -1 for a leaf. */
  feature: number[]
  /** Split threshold: a row goes left when `x[feature] <= threshold`. 0 for leaves. */
  threshold: number[]
  /** Left child index, or -1 for a leaf. */
  left: number[]
  /** Right child index, or -1 for a leaf. */
  right: number[]
  /**
   * The node's margin contribution `-G / (H + l2) × learningRate` from its training rows. For a
   * leaf this is the tree's output; for a split it is the expected value used by `contributions`.
   */
  value: number[]
  /** Training rows (of the tree's subsample) that reached the node. */
  count: number[]
  /** Loss reduction of the split, 0 for leaves. */
  gain: number[]
}

/**
 * The serialised form of a {@link GbtModel}: plain JSON (finite numbers, arrays, strings).
 * `margin(x) = baseMargin + Σ over trees of the value of the leaf x reaches`.
 */
export interface GbtModelJson {
  kind: 'gbt'
  version: 1
  /** Features per row. */
  features: number
  /** Initial margin: log-odds of the training positive rate. */
  baseMargin: number
  /** Options the model was trained with (for the record; not needed to predict). */
  options: GbtOptions
  trees: GbtTreeJson[]
}

/** Progress callback of {@link trainGbt}: trees built so far, training and validation log loss. */
export type GbtProgress = (tree: number, trainLoss: number, validLoss: number | undefined) => void

/**
 * A trained gradient-boosted tree ensemble for binary classification. Trees are stored flattened
 * as complete binary trees of one depth in typed arrays; predicting allocates nothing.
 * Rows are read as `x[offset + j]` for feature j; a NaN goes right at every split.
 */
export class GbtModel {
  /** Features per row. */
  readonly features: number
  /** Number of trees. */
  readonly trees: number
  readonly #json: GbtModelJson
  readonly #depth: number
  /** Internal nodes per tree: 2^depth − 1. */
  readonly #internal: number
  /** Leaves per tree: 2^depth. */
  readonly #leaves: number
  /** Split feature per internal node (tree t's node n at t × internal + n). */
  readonly #feature: Int32Array
  readonly #threshold: Float64Array
  /** Leaf values (tree t's leaf l at t × leaves + l). */
  readonly #leaf: Float64Array
  /** Values of all nodes (tree t's node n at t × (internal + leaves) + n). */
  readonly #value: Float64Array
  /**
   * Per node, its value minus its parent's (0 at the roots), laid out as #value: what a split
   * credits its feature when a row goes to that node, computed once instead of on every walk.
   */
  readonly #step: Float64Array
  readonly #baseMargin: number
  /** Base margin plus every root's value: the expected margin before any split. */
  readonly #bias: number
  readonly #gain: Float64Array

  /** Builds a model from its JSON form (validated; see {@link GbtModel.fromJSON}). Use {@link trainGbt} to train one. */
  constructor (json: GbtModelJson) {
    const model = parseGbtJson(json)
    this.#json = model
    this.features = model.features
    this.trees = model.trees.length
    this.#baseMargin = model.baseMargin

    let depth = 0
    const depths = model.trees.map(tree => nodeDepths(tree))
    for (const d of depths) for (let i = 0; i < d.length; i++) depth = Math.max(depth, d[i] as number)
    this.#depth = depth
    const internal = (1 << depth) - 1
    const leaves = 1 << depth
    const nodes = internal + leaves
    this.#internal = internal
    this.#leaves = leaves
    this.#feature = new Int32Array(this.trees * internal)
    this.#threshold = new Float64Array(this.trees * internal)
    this.#leaf = new Float64Array(this.trees * leaves)
    this.#value = new Float64Array(this.trees * nodes)
    this.#gain = new Float64Array(this.features)

    let bias = model.baseMargin
    for (let t = 0; t < this.trees; t++) {
      const tree = model.trees[t] as GbtTreeJson
      bias += tree.value[0] as number
      for (let i = 0; i < tree.gain.length; i++) {
        const f = tree.feature[i] as number
        if (f >= 0) this.#gain[f] = (this.#gain[f] as number) + (tree.gain[i] as number)
      }
      // Explicit node i sits at complete-tree position pos[i]; a leaf above the bottom level fills
      // its whole subtree with its value and with splits that send every finite value left.
      const pos = new Int32Array(tree.feature.length)
      for (let i = 0; i < tree.feature.length; i++) {
        const p = pos[i] as number
        const f = tree.feature[i] as number
        const v = tree.value[i] as number
        if (f >= 0) {
          this.#feature[t * internal + p] = f
          this.#threshold[t * internal + p] = tree.threshold[i] as number
          this.#value[t * nodes + p] = v
          pos[tree.left[i] as number] = 2 * p + 1
          pos[tree.right[i] as number] = 2 * p + 2
          continue
        }
        for (let lo = p, hi = p; lo < nodes; lo = 2 * lo + 1, hi = 2 * hi + 2) {
          for (let q = lo; q <= hi; q++) {
            this.#value[t * nodes + q] = v
            if (q < internal) {
              this.#feature[t * internal + q] = 0
              this.#threshold[t * internal + q] = Infinity
            } else {
              this.#leaf[t * leaves + q - internal] = v
            }
          }
        }
      }
    }
    this.#bias = bias
    this.#step = new Float64Array(this.trees * nodes)
    for (let t = 0; t < this.trees; t++) {
      for (let c = 1; c < nodes; c++) this.#step[t * nodes + c] = (this.#value[t * nodes + c] as number) - (this.#value[t * nodes + ((c - 1) >> 1)] as number)
    }
  }

  /** Margin (log-odds) of one row: `x[offset] … x[offset + features − 1]`. */
  margin (x: ArrayLike<number>, offset = 0): number {
    this.#checkRow(x, offset)
    return this.#baseMargin + sumLeaves(x, offset, this.#feature, this.#threshold, this.#leaf, this.#depth, this.#internal, this.#leaves, this.trees)
  }

  /** Probability that the row is positive, in (0, 1); it rounds to exactly 0 or 1 only beyond |margin| ≈ 37. */
  predict (x: ArrayLike<number>, offset = 0): number {
    return sigmoid(this.margin(x, offset))
  }

  /**
   * Per-feature contributions to the margin (Saabas path attribution: each split credits its feature
   * with the change in expected value from the node to the child the row goes to). Writes into
   * `out` (length = features) and returns the bias: the base margin plus every tree's root value,
   * the expected margin before any split. `bias + Σ out = margin(x)` up to float rounding.
   */
  contributions (x: ArrayLike<number>, out: Float64Array, offset = 0): number {
    this.#checkRow(x, offset)
    if (out.length !== this.features) throw new Error(`GbtModel.contributions: out has length ${out.length}, expected ${this.features}`)
    out.fill(0)
    const feature = this.#feature
    const threshold = this.#threshold
    const step = this.#step
    const depth = this.#depth
    const internal = this.#internal
    const nodes = internal + this.#leaves
    let t = 0
    // Four trees at a time: their walks are independent, so the CPU overlaps them (as in sumLeaves).
    for (; t + 4 <= this.trees; t += 4) {
      const b0 = t * internal
      const b1 = b0 + internal
      const b2 = b1 + internal
      const b3 = b2 + internal
      const v0 = t * nodes
      const v1 = v0 + nodes
      const v2 = v1 + nodes
      const v3 = v2 + nodes
      let n0 = 0
      let n1 = 0
      let n2 = 0
      let n3 = 0
      for (let d = 0; d < depth; d++) {
        const f0 = feature[b0 + n0] as number
        const f1 = feature[b1 + n1] as number
        const f2 = feature[b2 + n2] as number
        const f3 = feature[b3 + n3] as number
        const c0 = 2 * n0 + 2 - +((x[offset + f0] as number) <= (threshold[b0 + n0] as number))
        const c1 = 2 * n1 + 2 - +((x[offset + f1] as number) <= (threshold[b1 + n1] as number))
        const c2 = 2 * n2 + 2 - +((x[offset + f2] as number) <= (threshold[b2 + n2] as number))
        const c3 = 2 * n3 + 2 - +((x[offset + f3] as number) <= (threshold[b3 + n3] as number))
        out[f0] = (out[f0] as number) + (step[v0 + c0] as number)
        out[f1] = (out[f1] as number) + (step[v1 + c1] as number)
        out[f2] = (out[f2] as number) + (step[v2 + c2] as number)
        out[f3] = (out[f3] as number) + (step[v3 + c3] as number)
        n0 = c0
        n1 = c1
        n2 = c2
        n3 = c3
      }
    }
    for (; t < this.trees; t++) {
      const b = t * internal
      const vb = t * nodes
      let n = 0
      for (let d = 0; d < depth; d++) {
        const k = b + n
        const f = feature[k] as number
        const child = 2 * n + 2 - +((x[offset + f] as number) <= (threshold[k] as number))
        out[f] = (out[f] as number) + (step[vb + child] as number)
        n = child
      }
    }
    return this.#bias
  }

  /**
   * The margin and its contributions from one walk of the trees: `contributions` into `out`, and
   * their sum plus the bias returned (equal to `margin(x)` up to float rounding). What a scorer
   * that gives reasons with its score calls.
   */
  explain (x: ArrayLike<number>, out: Float64Array, offset = 0): number {
    let margin = this.contributions(x, out, offset)
    for (let j = 0; j < out.length; j++) margin += out[j] as number
    return margin
  }

  /** Total split gain per feature, normalised to sum to 1 (all zeros if no tree splits). */
  importance (): Float64Array {
    const out = new Float64Array(this.#gain)
    let total = 0
    for (let j = 0; j < out.length; j++) total += out[j] as number
    if (total > 0) for (let j = 0; j < out.length; j++) out[j] = (out[j] as number) / total
    return out
  }

  /** The model as a plain, versioned JSON object (a fresh copy). */
  toJSON (): GbtModelJson {
    return structuredClone(this.#json)
  }

  /** Rebuilds a model from {@link GbtModel.toJSON} output; throws an Error naming the first malformed field. */
  static fromJSON (json: unknown): GbtModel {
    // The constructor validates.
    return new GbtModel(json as GbtModelJson)
  }

  #checkRow (x: ArrayLike<number>, offset: number): void {
    // offset >>> 0 is offset exactly when offset is an integer in [0, 2^32).
    if (offset >>> 0 !== offset || offset + this.features > x.length) {
      throw new Error(`GbtModel: a row of ${this.features} features at offset ${offset} does not fit in x of length ${x.length}`)
    }
  }
}

/**
 * Sum of the leaf values one row reaches in every tree (complete-tree layout). Eight trees at a
 * time, branch-free (child = 2n + 1 going left, 2n + 2 going right): the independent walks overlap
 * in the CPU and no branch is mispredicted, several times faster than one tree at a time.
 */
function sumLeaves (x: ArrayLike<number>, offset: number, feature: Int32Array, threshold: Float64Array, leaf: Float64Array, depth: number, internal: number, leaves: number, trees: number): number {
  let sum = 0
  let t = 0
  for (; t + 8 <= trees; t += 8) {
    const b0 = t * internal
    const b1 = b0 + internal
    const b2 = b1 + internal
    const b3 = b2 + internal
    const b4 = b3 + internal
    const b5 = b4 + internal
    const b6 = b5 + internal
    const b7 = b6 + internal
    let n0 = 0
    let n1 = 0
    let n2 = 0
    let n3 = 0
    let n4 = 0
    let n5 = 0
    let n6 = 0
    let n7 = 0
    for (let d = 0; d < depth; d++) {
      const k0 = b0 + n0
      const k1 = b1 + n1
      const k2 = b2 + n2
      const k3 = b3 + n3
      const k4 = b4 + n4
      const k5 = b5 + n5
      const k6 = b6 + n6
      const k7 = b7 + n7
      n0 = 2 * n0 + 2 - +((x[offset + (feature[k0] as number)] as number) <= (threshold[k0] as number))
      n1 = 2 * n1 + 2 - +((x[offset + (feature[k1] as number)] as number) <= (threshold[k1] as number))
      n2 = 2 * n2 + 2 - +((x[offset + (feature[k2] as number)] as number) <= (threshold[k2] as number))
      n3 = 2 * n3 + 2 - +((x[offset + (feature[k3] as number)] as number) <= (threshold[k3] as number))
      n4 = 2 * n4 + 2 - +((x[offset + (feature[k4] as number)] as number) <= (threshold[k4] as number))
      n5 = 2 * n5 + 2 - +((x[offset + (feature[k5] as number)] as number) <= (threshold[k5] as number))
      n6 = 2 * n6 + 2 - +((x[offset + (feature[k6] as number)] as number) <= (threshold[k6] as number))
      n7 = 2 * n7 + 2 - +((x[offset + (feature[k7] as number)] as number) <= (threshold[k7] as number))
    }
    const l0 = t * leaves - internal
    const l4 = l0 + 4 * leaves
    sum += (leaf[l0 + n0] as number) + (leaf[l0 + leaves + n1] as number) + (leaf[l0 + 2 * leaves + n2] as number) + (leaf[l0 + 3 * leaves + n3] as number) +
      (leaf[l4 + n4] as number) + (leaf[l4 + leaves + n5] as number) + (leaf[l4 + 2 * leaves + n6] as number) + (leaf[l4 + 3 * leaves + n7] as number)
  }
  for (; t < trees; t++) {
    const b = t * internal
    let n = 0
    for (let d = 0; d < depth; d++) {
      const k = b + n
      n = 2 * n + 2 - +((x[offset + (feature[k] as number)] as number) <= (threshold[k] as number))
    }
    sum += leaf[t * leaves - internal + n] as number
  }
  return sum
}

/** Depth of every node of an explicit tree (children come after their parent). */
function nodeDepths (tree: GbtTreeJson): Int32Array {
  const depth = new Int32Array(tree.feature.length)
  for (let i = 0; i < depth.length; i++) {
    if ((tree.feature[i] as number) < 0) continue
    depth[tree.left[i] as number] = (depth[i] as number) + 1
    depth[tree.right[i] as number] = (depth[i] as number) + 1
  }
  return depth
}

// ---------------------------------------------------------------------------------------------
// Options and JSON validation

const optionRules: Record<keyof GbtOptions, { integer: boolean, min: number, max: number, minExclusive?: boolean }> = {
  trees: { integer: true, min: 1, max: Infinity },
  maxDepth: { integer: true, min: 1, max: gbtMaxDepth },
  learningRate: { integer: false, min: 0, max: Infinity, minExclusive: true },
  minSamplesLeaf: { integer: true, min: 1, max: Infinity },
  l2: { integer: false, min: 0, max: Infinity },
  bins: { integer: true, min: 2, max: 255 },
  subsample: { integer: false, min: 0, max: 1, minExclusive: true },
  colsample: { integer: false, min: 0, max: 1, minExclusive: true },
  seed: { integer: true, min: -Infinity, max: Infinity },
  earlyStoppingRounds: { integer: true, min: 1, max: Infinity }
}

function resolveOptions (options: Partial<GbtOptions>, where: string): GbtOptions {
  const resolved: GbtOptions = { ...gbtDefaults }
  for (const [key, value] of Object.entries(options)) {
    if (!Object.hasOwn(optionRules, key)) throw new Error(`${where}: unknown option "${key}"`)
    if (value === undefined) continue
    const rule = optionRules[key as keyof GbtOptions]
    const ok = typeof value === 'number' && Number.isFinite(value) && (!rule.integer || Number.isInteger(value)) &&
      (rule.minExclusive === true ? value > rule.min : value >= rule.min) && value <= rule.max
    if (!ok) {
      const range = `${rule.minExclusive === true ? '(' : '['}${rule.min}, ${rule.max}${rule.max === Infinity ? ')' : ']'}`
      throw new Error(`${where}: option ${key} must be ${rule.integer ? 'an integer' : 'a number'} in ${range}, got ${JSON.stringify(value) ?? String(value)}`)
    }
    resolved[key as keyof GbtOptions] = value
  }
  return resolved
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function finiteArray (value: unknown, name: string): number[] {
  if (!Array.isArray(value)) throw new Error(`GbtModel.fromJSON: ${name} must be an array`)
  const out = new Array<number>(value.length)
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i]
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`GbtModel.fromJSON: ${name}[${i}] must be a finite number, got ${JSON.stringify(v) ?? String(v)}`)
    out[i] = v
  }
  return out
}

function parseTree (value: unknown, features: number, name: string): GbtTreeJson {
  if (!isRecord(value)) throw new Error(`GbtModel.fromJSON: ${name} must be an object`)
  const tree: GbtTreeJson = {
    feature: finiteArray(value.feature, `${name}.feature`),
    threshold: finiteArray(value.threshold, `${name}.threshold`),
    left: finiteArray(value.left, `${name}.left`),
    right: finiteArray(value.right, `${name}.right`),
    value: finiteArray(value.value, `${name}.value`),
    count: finiteArray(value.count, `${name}.count`),
    gain: finiteArray(value.gain, `${name}.gain`)
  }
  const n = tree.feature.length
  if (n === 0) throw new Error(`GbtModel.fromJSON: ${name} has no nodes`)
  for (const key of ['threshold', 'left', 'right', 'value', 'count', 'gain'] as const) {
    if (tree[key].length !== n) throw new Error(`GbtModel.fromJSON: ${name}.${key} has ${tree[key].length} entries but ${name}.feature has ${n}`)
  }
  const parents = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const f = tree.feature[i] as number
    const l = tree.left[i] as number
    const r = tree.right[i] as number
    if ((tree.count[i] as number) < 0 || (tree.gain[i] as number) < 0) throw new Error(`GbtModel.fromJSON: ${name} node ${i} has a negative count or gain`)
    if (f === -1) {
      if (l !== -1 || r !== -1) throw new Error(`GbtModel.fromJSON: ${name} node ${i} is a leaf (feature -1) but has children`)
      continue
    }
    if (!Number.isInteger(f) || f < 0 || f >= features) throw new Error(`GbtModel.fromJSON: ${name}.feature[${i}] is ${f}; must be -1 or an integer in [0, ${features})`)
    for (const child of [l, r]) {
      // Children after their parent, each with one parent, is what makes the nodes one tree.
      if (!Number.isInteger(child) || child <= i || child >= n) throw new Error(`GbtModel.fromJSON: ${name} node ${i} has child ${child}; children must be integers in (${i}, ${n})`)
      parents[child] = (parents[child] as number) + 1
    }
    if (l === r) throw new Error(`GbtModel.fromJSON: ${name} node ${i} has the same left and right child`)
  }
  for (let i = 1; i < n; i++) {
    if (parents[i] !== 1) throw new Error(`GbtModel.fromJSON: ${name} node ${i} has ${parents[i] as number} parents; every node but the root needs exactly one`)
  }
  const depths = nodeDepths(tree)
  for (let i = 0; i < n; i++) {
    if ((depths[i] as number) > gbtMaxDepth) throw new Error(`GbtModel.fromJSON: ${name} is deeper than ${gbtMaxDepth}`)
  }
  return tree
}

/** Checks an unknown value against {@link GbtModelJson} and returns a deep copy of it. */
function parseGbtJson (json: unknown): GbtModelJson {
  if (!isRecord(json)) throw new Error('GbtModel.fromJSON: expected an object')
  if (json.kind !== 'gbt') throw new Error(`GbtModel.fromJSON: kind must be "gbt", got ${JSON.stringify(json.kind) ?? String(json.kind)}`)
  if (json.version !== 1) throw new Error(`GbtModel.fromJSON: unsupported version ${JSON.stringify(json.version) ?? String(json.version)} (this build reads version 1)`)
  const features = json.features
  if (typeof features !== 'number' || !Number.isInteger(features) || features < 1) throw new Error('GbtModel.fromJSON: features must be a positive integer')
  const baseMargin = json.baseMargin
  if (typeof baseMargin !== 'number' || !Number.isFinite(baseMargin)) throw new Error('GbtModel.fromJSON: baseMargin must be a finite number')
  if (!isRecord(json.options)) throw new Error('GbtModel.fromJSON: options must be an object')
  const options = resolveOptions(json.options as Partial<GbtOptions>, 'GbtModel.fromJSON')
  if (!Array.isArray(json.trees)) throw new Error('GbtModel.fromJSON: trees must be an array')
  const trees = json.trees.map((tree: unknown, t) => parseTree(tree, features, `trees[${t}]`))
  return { kind: 'gbt', version: 1, features, baseMargin, options, trees }
}

// ---------------------------------------------------------------------------------------------
// Training

/** Rows sampled to place the bin edges when the training set is larger. */
const binSampleRows = 200_000
/** Smallest hessian used, so that a saturated prediction never divides by zero. */
const minHessian = 1e-16

/** A threshold strictly between a < b that keeps a on the left. */
function midpoint (a: number, b: number): number {
  const m = a / 2 + b / 2
  return m >= a && m < b ? m : a
}

/**
 * Bin edges of one feature from its sorted values: one bin per distinct value when there are few,
 * else about equal counts per bin, cut greedily so that a heavy value is never split.
 */
function cutPoints (sorted: Float64Array, maxBins: number): Float64Array {
  const values: number[] = []
  const counts: number[] = []
  for (let i = 0; i < sorted.length;) {
    const v = sorted[i] as number
    let j = i + 1
    while (j < sorted.length && sorted[j] === v) j++
    values.push(v)
    counts.push(j - i)
    i = j
  }
  const edges: number[] = []
  if (values.length <= maxBins) {
    for (let k = 0; k + 1 < values.length; k++) edges.push(midpoint(values[k] as number, values[k + 1] as number))
    return Float64Array.from(edges)
  }
  let remaining = sorted.length
  let binsLeft = maxBins
  let acc = 0
  for (let k = 0; k + 1 < values.length && binsLeft > 1; k++) {
    acc += counts[k] as number
    const target = remaining / binsLeft
    const next = counts[k + 1] as number
    // Cut here when the bin is full, or when taking the next value would overshoot by more than stopping short.
    if (acc >= target || acc + next - target > target - acc) {
      edges.push(midpoint(values[k] as number, values[k + 1] as number))
      remaining -= acc
      binsLeft--
      acc = 0
    }
  }
  return Float64Array.from(edges)
}

/** Index of the bin of v: the first edge with v <= edge, or edges.length. */
function binOf (edges: Float64Array, v: number): number {
  let lo = 0
  let hi = edges.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (v <= (edges[mid] as number)) hi = mid
    else lo = mid + 1
  }
  return lo
}

interface Quantised {
  /** Bin edges per feature; a feature has edges.length + 1 bins. */
  edges: Float64Array[]
  /** Row-major bin indices, like Dataset.x. */
  binned: Uint8Array
}

function quantise (data: Dataset, maxBins: number, rng: Rng): Quantised {
  const { x, rows, features } = data
  const sampleRows = Math.min(rows, binSampleRows)
  const sample: Int32Array | undefined = rows > binSampleRows ? new Int32Array(sampleRows) : undefined
  if (sample !== undefined) for (let s = 0; s < sampleRows; s++) sample[s] = rng.int(0, rows - 1)
  const column = new Float64Array(sampleRows)
  const edges: Float64Array[] = []
  for (let j = 0; j < features; j++) {
    for (let s = 0; s < sampleRows; s++) column[s] = x[(sample === undefined ? s : sample[s] as number) * features + j] as number
    column.sort()
    edges.push(cutPoints(column, maxBins))
  }
  const binned = new Uint8Array(rows * features)
  for (let j = 0; j < features; j++) {
    const e = edges[j] as Float64Array
    for (let i = 0; i < rows; i++) binned[i * features + j] = binOf(e, x[i * features + j] as number)
  }
  return { edges, binned }
}

/** Grows one tree at a time on the quantised training set, into complete-tree scratch arrays. */
class TreeGrower {
  readonly #features: number
  readonly #maxBins: number
  readonly #binned: Uint8Array
  readonly #edges: Float64Array[]
  readonly #options: GbtOptions
  readonly #g: Float64Array
  readonly #h: Float64Array
  /** Row indices of the current tree's subsample, partitioned in place node by node. */
  readonly idx: Uint32Array
  /** Features the current tree may split on, ascending. */
  readonly active: Int32Array
  activeCount = 0
  readonly #pool: Float64Array[] = []

  /** Complete-tree layout of the tree being grown: split feature (-1: leaf), bin, threshold, value, count, gain. */
  readonly feature: Int32Array
  readonly bin: Int32Array
  readonly threshold: Float64Array
  readonly value: Float64Array
  readonly count: Float64Array
  readonly gain: Float64Array

  // The best split of the last findSplit call.
  #bestFeature = -1
  #bestBin = -1
  #bestGain = 0
  #bestGL = 0
  #bestHL = 0

  constructor (data: Dataset, quantised: Quantised, options: GbtOptions, g: Float64Array, h: Float64Array) {
    this.#features = data.features
    this.#maxBins = options.bins
    this.#binned = quantised.binned
    this.#edges = quantised.edges
    this.#options = options
    this.#g = g
    this.#h = h
    this.idx = new Uint32Array(data.rows)
    this.active = new Int32Array(data.features)
    const nodes = 2 ** (options.maxDepth + 1) - 1
    this.feature = new Int32Array(nodes)
    this.bin = new Int32Array(nodes)
    this.threshold = new Float64Array(nodes)
    this.value = new Float64Array(nodes)
    this.count = new Float64Array(nodes)
    this.gain = new Float64Array(nodes)
  }

  /** Grows the tree on the first `rows` entries of idx, with the active features set. */
  grow (rows: number): void {
    this.feature.fill(-1)
    this.gain.fill(0)
    const g = this.#g
    const h = this.#h
    const idx = this.idx
    let G = 0
    let H = 0
    for (let r = 0; r < rows; r++) {
      const i = idx[r] as number
      G += g[i] as number
      H += h[i] as number
    }
    const hist = this.#take()
    this.#build(hist, 0, rows)
    this.#grow(0, 0, rows, hist, G, H, 0)
    this.#pool.push(hist)
  }

  #take (): Float64Array {
    return this.#pool.pop() ?? new Float64Array(this.#features * this.#maxBins * 3)
  }

  /** Histogram of (Σg, Σh, count) per active feature and bin over idx[start, end). */
  #build (hist: Float64Array, start: number, end: number): void {
    hist.fill(0)
    const idx = this.idx
    const g = this.#g
    const h = this.#h
    const binned = this.#binned
    const features = this.#features
    const stride = this.#maxBins * 3
    const active = this.active
    const activeCount = this.activeCount
    for (let r = start; r < end; r++) {
      const i = idx[r] as number
      const gi = g[i] as number
      const hi = h[i] as number
      const rowBase = i * features
      for (let a = 0; a < activeCount; a++) {
        const f = active[a] as number
        const k = f * stride + 3 * (binned[rowBase + f] as number)
        hist[k] = (hist[k] as number) + gi
        hist[k + 1] = (hist[k + 1] as number) + hi
        hist[k + 2] = (hist[k + 2] as number) + 1
      }
    }
  }

  /** Finds the best split of a node's histogram into the #best fields; false if none is allowed or useful. */
  #findSplit (hist: Float64Array, G: number, H: number, count: number): boolean {
    const lambda = this.#options.l2
    const minLeaf = this.#options.minSamplesLeaf
    const stride = this.#maxBins * 3
    const parentScore = G * G / (H + lambda)
    let found = false
    let bestGain = 0
    for (let a = 0; a < this.activeCount; a++) {
      const f = this.active[a] as number
      const bins = (this.#edges[f] as Float64Array).length + 1
      let GL = 0
      let HL = 0
      let CL = 0
      for (let b = 0; b + 1 < bins; b++) {
        const k = f * stride + 3 * b
        GL += hist[k] as number
        HL += hist[k + 1] as number
        CL += hist[k + 2] as number
        if (CL < minLeaf) continue
        if (count - CL < minLeaf) break
        const GR = G - GL
        const gain = GL * GL / (HL + lambda) + GR * GR / (H - HL + lambda) - parentScore
        if (gain > bestGain) {
          found = true
          bestGain = gain
          this.#bestFeature = f
          this.#bestBin = b
          this.#bestGL = GL
          this.#bestHL = HL
        }
      }
    }
    this.#bestGain = bestGain
    return found
  }

  #grow (pos: number, start: number, end: number, hist: Float64Array, G: number, H: number, depth: number): void {
    const { l2, learningRate, maxDepth, minSamplesLeaf } = this.#options
    const count = end - start
    this.value[pos] = -G / (H + l2) * learningRate
    this.count[pos] = count
    if (depth >= maxDepth || count < 2 * minSamplesLeaf || !this.#findSplit(hist, G, H, count)) return
    const f = this.#bestFeature
    const b = this.#bestBin
    const GL = this.#bestGL
    const HL = this.#bestHL
    const GR = G - GL
    const HR = H - HL
    this.feature[pos] = f
    this.bin[pos] = b
    this.threshold[pos] = (this.#edges[f] as Float64Array)[b] as number
    this.gain[pos] = this.#bestGain

    const idx = this.idx
    const binned = this.#binned
    const features = this.#features
    let i = start
    let j = end - 1
    while (i <= j) {
      const row = idx[i] as number
      if ((binned[row * features + f] as number) <= b) {
        i++
      } else {
        idx[i] = idx[j] as number
        idx[j] = row
        j--
      }
    }
    const mid = i
    const left = 2 * pos + 1
    const right = 2 * pos + 2
    if (depth + 1 >= maxDepth) {
      this.value[left] = -GL / (HL + l2) * learningRate
      this.count[left] = mid - start
      this.value[right] = -GR / (HR + l2) * learningRate
      this.count[right] = end - mid
      return
    }
    // Histogram subtraction: build the smaller child's histogram, derive the larger one from the parent's.
    const small = this.#take()
    const leftSmaller = mid - start <= end - mid
    if (leftSmaller) this.#build(small, start, mid)
    else this.#build(small, mid, end)
    const stride = this.#maxBins * 3
    for (let a = 0; a < this.activeCount; a++) {
      const from = (this.active[a] as number) * stride
      for (let k = from; k < from + stride; k++) hist[k] = (hist[k] as number) - (small[k] as number)
    }
    this.#grow(left, start, mid, leftSmaller ? small : hist, GL, HL, depth + 1)
    this.#grow(right, mid, end, leftSmaller ? hist : small, GR, HR, depth + 1)
    this.#pool.push(small)
  }

  /** The grown tree in explicit, breadth-first JSON form. */
  toJson (): GbtTreeJson {
    const tree: GbtTreeJson = { feature: [], threshold: [], left: [], right: [], value: [], count: [], gain: [] }
    const queue = [0]
    for (let q = 0; q < queue.length; q++) {
      const pos = queue[q] as number
      const f = this.feature[pos] as number
      tree.feature.push(f)
      tree.value.push(this.value[pos] as number)
      tree.count.push(this.count[pos] as number)
      if (f >= 0) {
        tree.threshold.push(this.threshold[pos] as number)
        tree.gain.push(this.gain[pos] as number)
        tree.left.push(queue.length)
        tree.right.push(queue.length + 1)
        queue.push(2 * pos + 1, 2 * pos + 2)
      } else {
        tree.threshold.push(0)
        tree.gain.push(0)
        tree.left.push(-1)
        tree.right.push(-1)
      }
    }
    return tree
  }
}

/**
 * Trains gradient-boosted trees for binary classification (log loss, second-order boosting on
 * quantile histograms, depth-wise trees). With a `validation` set, training stops once the
 * validation log loss has not improved for `earlyStoppingRounds` trees and keeps the best number
 * of trees. `onProgress` is called after every tree with the trees so far and the training (and
 * validation) log loss. The same data, options and seed give the same model.
 */
export function trainGbt (train: Dataset, options: Partial<GbtOptions> = {}, validation?: Dataset, onProgress?: GbtProgress): GbtModel {
  const opts = resolveOptions(options, 'trainGbt')
  validateDataset(train, 'trainGbt: training set')
  const { y, rows, features } = train
  if (validation !== undefined) {
    validateDataset(validation, 'trainGbt: validation set')
    if (validation.features !== features) throw new Error(`trainGbt: the validation set has ${validation.features} features, the training set ${features}`)
    if (validation.rows === 0) throw new Error('trainGbt: the validation set is empty')
  }
  let positives = 0
  for (let i = 0; i < rows; i++) positives += y[i] as number
  if (positives === 0 || positives === rows) throw new Error('trainGbt: the training labels must contain both classes')
  const rate = positives / rows
  const baseMargin = Math.log(rate / (1 - rate))

  const rng = new Rng(opts.seed)
  const quantised = quantise(train, opts.bins, rng)
  const g = new Float64Array(rows)
  const h = new Float64Array(rows)
  const margin = new Float64Array(rows).fill(baseMargin)
  const grower = new TreeGrower(train, quantised, opts, g, h)
  const { idx, active } = grower
  const internal = 2 ** opts.maxDepth - 1
  const binned = quantised.binned
  const permutation = Int32Array.from({ length: features }, (_, j) => j)
  const activeCount = Math.max(1, Math.round(opts.colsample * features))

  const validMargin = validation === undefined ? undefined : new Float64Array(validation.rows).fill(baseMargin)
  let bestLoss = Infinity
  let bestTrees = 0
  const trees: GbtTreeJson[] = []

  for (let t = 0; t < opts.trees; t++) {
    for (let i = 0; i < rows; i++) {
      const p = sigmoid(margin[i] as number)
      g[i] = p - (y[i] as number)
      h[i] = Math.max(p * (1 - p), minHessian)
    }
    let sampled = 0
    if (opts.subsample >= 1) {
      for (let i = 0; i < rows; i++) idx[sampled++] = i
    } else {
      for (let i = 0; i < rows; i++) if (rng.next() < opts.subsample) idx[sampled++] = i
      if (sampled === 0) idx[sampled++] = rng.int(0, rows - 1)
    }
    if (activeCount < features) {
      for (let a = 0; a < activeCount; a++) {
        const b = rng.int(a, features - 1)
        const swap = permutation[a] as number
        permutation[a] = permutation[b] as number
        permutation[b] = swap
      }
      active.set(permutation.subarray(0, activeCount))
      active.subarray(0, activeCount).sort()
    } else {
      active.set(permutation)
      active.sort()
    }
    grower.activeCount = activeCount
    grower.grow(sampled)
    trees.push(grower.toJson())

    const { feature, bin, threshold, value } = grower
    let trainLoss = 0
    for (let i = 0; i < rows; i++) {
      let n = 0
      while (n < internal && (feature[n] as number) >= 0) {
        n = (binned[i * features + (feature[n] as number)] as number) <= (bin[n] as number) ? 2 * n + 1 : 2 * n + 2
      }
      const m = (margin[i] as number) + (value[n] as number)
      margin[i] = m
      if (onProgress !== undefined) trainLoss += logLossOfMargin(m, y[i] as number)
    }
    let validLoss: number | undefined
    if (validation !== undefined && validMargin !== undefined) {
      const vx = validation.x
      const vy = validation.y
      let loss = 0
      for (let i = 0; i < validation.rows; i++) {
        const offset = i * features
        let n = 0
        while (n < internal && (feature[n] as number) >= 0) {
          n = (vx[offset + (feature[n] as number)] as number) <= (threshold[n] as number) ? 2 * n + 1 : 2 * n + 2
        }
        const m = (validMargin[i] as number) + (value[n] as number)
        validMargin[i] = m
        loss += logLossOfMargin(m, vy[i] as number)
      }
      validLoss = loss / validation.rows
    }
    onProgress?.(t + 1, trainLoss / rows, validLoss)
    if (validLoss !== undefined) {
      if (validLoss < bestLoss) {
        bestLoss = validLoss
        bestTrees = t + 1
      } else if (t + 1 - bestTrees >= opts.earlyStoppingRounds) {
        break
      }
    }
  }
  if (validation !== undefined) trees.length = bestTrees
  return new GbtModel({ kind: 'gbt', version: 1, features, baseMargin, options: opts, trees })
}
