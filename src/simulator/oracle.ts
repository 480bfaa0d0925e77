/**
 * The simulator's ground truth, in closed form. A customer's hidden state follows a Markov chain
 * engaged ⇄ drifting → churned; purchases (checkout + order_placed) arrive as a Poisson process
 * whose rate depends on the state. The probability that no purchase happens within H days, given
 * the state now, is `exp((Q - diag(k)) H) · 1` for the chain's generator Q and purchase rates k
 * (Feynman–Kac). That is exactly the event churnflow's training labels mark as churn.
 */

export const HiddenStates = { ENGAGED: 0, DRIFTING: 1, CHURNED: 2 } as const
export type HiddenState = (typeof HiddenStates)[keyof typeof HiddenStates]
export const hiddenStateNames = ['engaged', 'drifting', 'churned'] as const

/** Per-day rates of one customer's hidden process. */
export interface ChurnRates {
  /** engaged → drifting */
  readonly drift: number
  /** drifting → engaged */
  readonly recover: number
  /** drifting → churned */
  readonly churn: number
  /** purchases per day while engaged */
  readonly purchaseEngaged: number
  /** purchases per day while drifting */
  readonly purchaseDrifting: number
}

type Matrix = number[][]

function multiply (a: Matrix, b: Matrix): Matrix {
  const n = a.length
  const out = Array.from({ length: n }, () => new Array<number>(n).fill(0))
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = (a[i] as number[])[k] as number
      if (aik === 0) continue
      for (let j = 0; j < n; j++) (out[i] as number[])[j] = ((out[i] as number[])[j] as number) + aik * ((b[k] as number[])[j] as number)
    }
  }
  return out
}

/** exp(A) of a small matrix: scaling and squaring with a Taylor series. */
export function expm (a: Matrix): Matrix {
  const n = a.length
  const norm = Math.max(...a.map(row => row.reduce((s, v) => s + Math.abs(v), 0)))
  const squarings = Math.max(0, Math.ceil(Math.log2(Math.max(norm, 1e-300))) + 1)
  const scale = 2 ** squarings
  const scaled = a.map(row => row.map(v => v / scale))
  let term: Matrix = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)))
  let sum: Matrix = term.map(row => [...row])
  for (let k = 1; k <= 18; k++) {
    term = multiply(term, scaled).map(row => row.map(v => v / k))
    sum = sum.map((row, i) => row.map((v, j) => v + ((term[i] as number[])[j] as number)))
  }
  for (let s = 0; s < squarings; s++) sum = multiply(sum, sum)
  return sum
}

/** P(no purchase within `horizonDays` | hidden state now): the true churn probability. */
export function noPurchaseProbability (rates: ChurnRates, state: HiddenState, horizonDays: number): number {
  if (state === HiddenStates.CHURNED) return 1
  const m: Matrix = [
    [-(rates.drift + rates.purchaseEngaged), rates.drift, 0],
    [rates.recover, -(rates.recover + rates.churn + rates.purchaseDrifting), rates.churn],
    [0, 0, 0]
  ].map(row => row.map(v => v * horizonDays))
  const e = expm(m)
  const row = e[state] as number[]
  return Math.min(1, Math.max(0, row.reduce((s, v) => s + v, 0)))
}

/** One customer's truth as the simulator writes it: rates and every hidden state change. */
export interface CustomerTruth {
  readonly customer_id: string
  readonly rates: ChurnRates
  /** [epoch ms, state] pairs in time order, starting with the state at the simulation's start. */
  readonly states: readonly (readonly [number, HiddenState])[]
  readonly churned: boolean
  readonly churned_at: string | null
}

export function stateAt (truth: CustomerTruth, at: number): HiddenState {
  let state: HiddenState = HiddenStates.ENGAGED
  for (const [time, s] of truth.states) {
    if (time > at) break
    state = s
  }
  return state
}

/** The true probability that `truth`'s customer makes no purchase within the horizon after `at`. */
export function trueChurnProbability (truth: CustomerTruth, at: number, horizonDays: number): number {
  return noPurchaseProbability(truth.rates, stateAt(truth, at), horizonDays)
}
