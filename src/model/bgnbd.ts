import { lnGamma, nelderMead } from './math.ts'

/**
 * BG/NBD (Fader, Hardie & Lee, "Counting your customers the easy way", Marketing Science 2005):
 * while alive a customer buys as a Poisson process of rate λ ~ Gamma(r, α); after each purchase
 * they drop out with probability p ~ Beta(a, b). Time is in any unit (the literature uses weeks).
 */
export interface BgNbdParams { readonly r: number, readonly alpha: number, readonly a: number, readonly b: number }

/**
 * One customer's purchase summary as of a time: `x` repeat purchases (purchases after the first),
 * `tx` the time of the last purchase and `T` the time now, both measured from the first purchase.
 */
export interface PurchaseSummary { readonly x: number, readonly tx: number, readonly T: number }

/** Summaries of many customers, column by column. */
export interface PurchaseSummaries { readonly x: Float64Array, readonly tx: Float64Array, readonly T: Float64Array }

const lnBeta = (p: number, q: number): number => lnGamma(p) + lnGamma(q) - lnGamma(p + q)

/** ln L of one customer's (x, tx, T) under BG/NBD (the paper's equation 6). */
export function bgnbdLogLikelihoodOne ({ r, alpha, a, b }: BgNbdParams, x: number, tx: number, T: number): number {
  const common = lnGamma(r + x) - lnGamma(r) + r * Math.log(alpha) + lnBeta(a, b + x) - lnBeta(a, b)
  const alive = -(r + x) * Math.log(alpha + T)
  if (x === 0) return common + alive
  const dropped = Math.log(a / (b + x - 1)) - (r + x) * Math.log(alpha + tx)
  const m = Math.max(alive, dropped)
  return common + m + Math.log(Math.exp(alive - m) + Math.exp(dropped - m))
}

/** Sum of ln L over customers. */
export function bgnbdLogLikelihood (params: BgNbdParams, data: PurchaseSummaries): number {
  let sum = 0
  for (let i = 0; i < data.x.length; i++) sum += bgnbdLogLikelihoodOne(params, data.x[i] as number, data.tx[i] as number, data.T[i] as number)
  return sum
}

/**
 * Fits BG/NBD by maximum likelihood (Nelder–Mead on the logarithms of the four parameters, so they
 * stay positive). Customers with identical summaries are counted once with a weight.
 */
export function fitBgNbd (data: PurchaseSummaries): { params: BgNbdParams, logLikelihood: number } {
  const groups = new Map<string, { x: number, tx: number, T: number, n: number }>()
  for (let i = 0; i < data.x.length; i++) {
    const key = `${data.x[i]}:${data.tx[i]}:${data.T[i]}`
    const g = groups.get(key)
    if (g === undefined) groups.set(key, { x: data.x[i] as number, tx: data.tx[i] as number, T: data.T[i] as number, n: 1 })
    else g.n++
  }
  const rows = [...groups.values()]
  const of = (v: readonly number[]): BgNbdParams => ({ r: Math.exp(v[0] as number), alpha: Math.exp(v[1] as number), a: Math.exp(v[2] as number), b: Math.exp(v[3] as number) })
  const negLl = (v: readonly number[]): number => {
    const { r, alpha, a, b } = of(v)
    // The terms that depend on the parameters alone, once per evaluation.
    const constant = -lnGamma(r) + r * Math.log(alpha) - lnBeta(a, b)
    let sum = 0
    for (const g of rows) {
      const common = lnGamma(r + g.x) + lnGamma(a) + lnGamma(b + g.x) - lnGamma(a + b + g.x) + constant
      const alive = -(r + g.x) * Math.log(alpha + g.T)
      let ll = common + alive
      if (g.x > 0) {
        const dropped = Math.log(a / (b + g.x - 1)) - (r + g.x) * Math.log(alpha + g.tx)
        const m = Math.max(alive, dropped)
        ll = common + m + Math.log(Math.exp(alive - m) + Math.exp(dropped - m))
      }
      sum += g.n * ll
    }
    return Number.isFinite(sum) ? -sum : Number.POSITIVE_INFINITY
  }
  // Restarted from its own optimum: one simplex run can stall on this likelihood's long valleys.
  let best = nelderMead(negLl, [0, 0, 0, 0], { tolerance: 1e-11, iterations: 3000 })
  for (let k = 0; k < 2; k++) best = nelderMead(negLl, best.x, { tolerance: 1e-11, step: 0.1, iterations: 3000 })
  return { params: of(best.x), logLikelihood: -best.value }
}

/** P(the customer is still alive at T | x, tx, T). It is 1 for everyone without a repeat purchase. */
export function probabilityAlive ({ r, alpha, a, b }: BgNbdParams, x: number, tx: number, T: number): number {
  if (x === 0) return 1
  return 1 / (1 + (a / (b + x - 1)) * Math.pow((alpha + T) / (alpha + tx), r + x))
}

/**
 * P(no purchase in (T, T + t] | x, tx, T): dead already, or alive and silent. Alive, the posterior
 * purchase rate is Gamma(r + x, α + T), and a customer who does not buy cannot drop out.
 */
export function probabilityNoPurchase (params: BgNbdParams, x: number, tx: number, T: number, t: number): number {
  const alive = probabilityAlive(params, x, tx, T)
  const { r, alpha } = params
  return 1 - alive + alive * Math.pow((alpha + T) / (alpha + T + t), r + x)
}

/** Gauss' hypergeometric 2F1(a, b; c; z) for 0 <= z < 1, by its series. */
function hyp2f1 (a: number, b: number, c: number, z: number): number {
  let term = 1
  let sum = 1
  for (let k = 0; k < 100_000; k++) {
    term *= ((a + k) * (b + k)) / ((c + k) * (k + 1)) * z
    sum += term
    if (Math.abs(term) < 1e-14 * Math.abs(sum)) break
  }
  return sum
}

/** Expected purchases in (T, T + t] given x, tx, T (the paper's equation 10). */
export function expectedPurchases ({ r, alpha, a, b }: BgNbdParams, x: number, tx: number, T: number, t: number): number {
  const z = t / (alpha + T + t)
  const head = (a + b + x - 1) / (a - 1)
  const body = 1 - Math.pow((alpha + T) / (alpha + T + t), r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
  const denominator = x > 0 ? 1 + (a / (b + x - 1)) * Math.pow((alpha + T) / (alpha + tx), r + x) : 1
  return (head * body) / denominator
}
