import { applyEvent, emptyProfile, type CustomerProfile } from '../profile/index.ts'
import type { ChurnScore, ChurnScorer } from './artifact.ts'
import type { History } from './history.ts'

/**
 * Every customer's profile as of `at`: the history's events up to and including `at`, applied in
 * event-time order. Customers first seen after `at` have none (undefined at their index).
 */
export function profilesAsOf (history: History, at: number): (CustomerProfile | undefined)[] {
  const profiles: (CustomerProfile | undefined)[] = new Array(history.customers.length)
  for (const i of history.order()) {
    const t = history.time[i] as number
    if (t > at) break
    const c = history.customer[i] as number
    applyEvent(profiles[c] ??= emptyProfile(), history.event(i))
  }
  return profiles
}

/** One customer's risk as of a time, as `churnflow score` writes it. */
export interface RiskAsOf extends ChurnScore {
  readonly customer_id: string
  /** The customer's latest event at or before the time. */
  readonly last_seen: string
  readonly scored_at: string
}

/**
 * A customer's churn risk as of `at` (no later than now, never before their last event): the
 * features carried forward to `at`, so silence since the last event raises the recency features
 * and decays the recent counts. The one home for "risk at a time" (score command, silence sweeps).
 */
export function riskAsOf (scorer: ChurnScorer, customerId: string, profile: CustomerProfile, at: number): RiskAsOf {
  const when = Math.max(at, profile.lastSeen)
  return { customer_id: customerId, ...scorer.score(profile, when), last_seen: new Date(profile.lastSeen).toISOString(), scored_at: new Date(when).toISOString() }
}
