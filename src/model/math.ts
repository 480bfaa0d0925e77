/** The logistic function: probability from a margin (log-odds). */
export function sigmoid (margin: number): number {
  return 1 / (1 + Math.exp(-margin))
}

/** Log loss of a 0/1 label under margin m, without overflow for large |m|. */
export function logLossOfMargin (m: number, y: number): number {
  return Math.max(m, 0) - m * y + Math.log1p(Math.exp(-Math.abs(m)))
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7
] as const

/** ln Γ(x) for x > 0 (Lanczos, g = 7; about 15 significant digits). */
export function lnGamma (x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x)
  const z = x - 1
  let s = LANCZOS[0]
  for (let i = 1; i < LANCZOS.length; i++) s += (LANCZOS[i] as number) / (z + i)
  const t = z + 7.5
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s)
}

/**
 * Minimises `f` from `start` by the Nelder–Mead simplex (standard coefficients), until the values
 * at the simplex's corners agree to `tolerance` or `iterations` run out. For a few parameters.
 */
export function nelderMead (f: (x: readonly number[]) => number, start: readonly number[], options: { step?: number, tolerance?: number, iterations?: number } = {}): { x: number[], value: number } {
  const n = start.length
  const step = options.step ?? 0.5
  const simplex: { x: number[], v: number }[] = [{ x: [...start], v: f(start) }]
  for (let i = 0; i < n; i++) {
    const x = [...start]
    x[i] = (x[i] as number) + step
    simplex.push({ x, v: f(x) })
  }
  const combine = (a: readonly number[], b: readonly number[], t: number): number[] => a.map((ai, i) => ai + t * ((b[i] as number) - ai))
  for (let it = 0; it < (options.iterations ?? 5000); it++) {
    simplex.sort((p, q) => p.v - q.v)
    const best = simplex[0] as { x: number[], v: number }
    const worst = simplex[n] as { x: number[], v: number }
    if (Math.abs(worst.v - best.v) <= (options.tolerance ?? 1e-10) * (1 + Math.abs(best.v))) break
    const centroid = new Array<number>(n).fill(0)
    for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) centroid[i] = (centroid[i] as number) + ((simplex[k] as { x: number[] }).x[i] as number) / n
    const reflected = combine(centroid, worst.x, -1)
    const rv = f(reflected)
    if (rv < best.v) {
      const expanded = combine(centroid, worst.x, -2)
      const ev = f(expanded)
      simplex[n] = ev < rv ? { x: expanded, v: ev } : { x: reflected, v: rv }
      continue
    }
    if (rv < (simplex[n - 1] as { v: number }).v) {
      simplex[n] = { x: reflected, v: rv }
      continue
    }
    const contracted = combine(centroid, worst.x, rv < worst.v ? -0.5 : 0.5)
    const cv = f(contracted)
    if (cv < Math.min(rv, worst.v)) {
      simplex[n] = { x: contracted, v: cv }
      continue
    }
    // Shrink every corner towards the best one.
    for (let k = 1; k <= n; k++) {
      const x = combine(best.x, (simplex[k] as { x: number[] }).x, 0.5)
      simplex[k] = { x, v: f(x) }
    }
  }
  simplex.sort((p, q) => p.v - q.v)
  const best = simplex[0] as { x: number[], v: number }
  return { x: best.x, value: best.v }
}
