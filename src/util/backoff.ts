/** How a backoff grows: the first delay's ceiling, the multiplier between attempts, the largest ceiling (ms). */
export interface BackoffOptions {
  readonly baseMs?: number
  readonly factor?: number
  readonly maxMs?: number
}

/**
 * Delay before retry `attempt` (1-based), in whole ms: exponential, bounded, with jitter on the
 * upper half. Attempt 1 waits between `baseMs / 2` and `baseMs`, then the ceiling grows `factor`
 * times each attempt up to `maxMs`. The one backoff of churnflow: producers and the processor's
 * dependencies both use it.
 */
export function backoffDelay (attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const base = options.baseMs ?? 250
  const factor = options.factor ?? 2
  const max = options.maxMs ?? 5000
  const ceiling = Math.min(max, base * factor ** Math.max(0, attempt - 1))
  // Half fixed, half random: spreads retrying clients without ever retrying at once.
  return Math.round(ceiling / 2 + random() * ceiling / 2)
}

/** How many attempts of `backoffDelay` fit, at the least, in `budgetMs`. */
export function attemptsWithin (budgetMs: number, options: BackoffOptions = {}): number {
  let total = 0
  let attempts = 0
  while (attempts < 1000) {
    const next = backoffDelay(attempts + 1, options, () => 0)
    if (total + next > budgetMs) break
    total += next
    attempts++
  }
  return attempts
}

/** A length of whole hours as text: `7d` when it is whole days, else `12h`. */
export function hoursOrDays (ms: number): string {
  return ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : `${ms / 3_600_000}h`
}

/** Parses `90`, `90s`, `5m`, `2h`, `1d` into milliseconds; undefined when it is none of those. */
export function parseDuration (text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim())
  if (m === null) return undefined
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd']
  return Number(m[1]) * unit
}
