/** The logistic function: probability from a margin (log-odds). */
export function sigmoid (margin: number): number {
  return 1 / (1 + Math.exp(-margin))
}

/** Log loss of a 0/1 label under margin m, without overflow for large |m|. */
export function logLossOfMargin (m: number, y: number): number {
  return Math.max(m, 0) - m * y + Math.log1p(Math.exp(-Math.abs(m)))
}
