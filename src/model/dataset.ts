/**
 * A labelled table for binary classification.
 * Row-major feature matrix: row i, feature j at `x[i * features + j]`. All values finite; labels 0 or 1.
 */
export interface Dataset {
  readonly x: Float64Array
  readonly y: Uint8Array
  readonly rows: number
  readonly features: number
}

/**
 * Checks that a dataset is well formed: positive integer `features`, non-negative integer `rows`,
 * `x.length === rows * features`, `y.length === rows`, every value finite, every label 0 or 1.
 * Throws an Error naming `what` and the first problem found.
 */
export function validateDataset (data: Dataset, what = 'dataset'): void {
  const { x, y, rows, features } = data
  if (!(x instanceof Float64Array)) throw new Error(`${what}: x must be a Float64Array`)
  if (!(y instanceof Uint8Array)) throw new Error(`${what}: y must be a Uint8Array`)
  if (!Number.isInteger(features) || features < 1) throw new Error(`${what}: features must be a positive integer, got ${String(features)}`)
  if (!Number.isInteger(rows) || rows < 0) throw new Error(`${what}: rows must be a non-negative integer, got ${String(rows)}`)
  if (x.length !== rows * features) {
    throw new Error(`${what}: x has ${x.length} values but rows × features = ${rows} × ${features} = ${rows * features}`)
  }
  if (y.length !== rows) throw new Error(`${what}: y has ${y.length} labels but there are ${rows} rows`)
  for (let k = 0; k < x.length; k++) {
    const v = x[k] as number
    // v - v is NaN exactly when v is NaN or ±Infinity, which keeps this loop cheap.
    if (v - v !== 0) {
      throw new Error(`${what}: x[${k}] (row ${Math.floor(k / features)}, feature ${k % features}) is ${String(v)}; all values must be finite`)
    }
  }
  for (let i = 0; i < rows; i++) {
    const label = y[i] as number
    if (label > 1) throw new Error(`${what}: y[${i}] is ${label}; labels must be 0 or 1`)
  }
}

/** Builds a dataset from a row-major matrix and its labels, validating it (see {@link validateDataset}). */
export function createDataset (x: Float64Array, y: Uint8Array, features: number): Dataset {
  const rows = features > 0 ? Math.floor(x.length / features) : 0
  const data: Dataset = { x, y, rows, features }
  validateDataset(data)
  return data
}
