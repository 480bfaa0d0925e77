import type { PurchaseSummaries, PurchaseSummary } from '../model/index.ts'
import { applyEvent, emptyProfile, type CustomerProfile } from '../profile/index.ts'
import type { ChurnScore, ChurnScorer } from './artifact.ts'
import type { History } from './history.ts'

const DAY = 86_400_000
const WEEK = 7 * DAY

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

/**
 * BG/NBD's view of a profile as of `at`, in weeks: repeat purchases, the last purchase's time and
 * the time now, both from the customer's first event. With one purchase event per purchase day
 * (as the CDNOW reader makes them) it is the literature's calibration summary exactly.
 */
export function purchaseSummaryOf (profile: CustomerProfile, at: number): PurchaseSummary {
  const purchases = profile.orders + profile.checkouts
  const birth = profile.firstSeen
  return {
    x: Math.max(0, purchases - 1),
    tx: purchases > 1 ? Math.max(0, (profile.lastPurchase - birth) / WEEK) : 0,
    T: Math.max(0, (at - birth) / WEEK)
  }
}

/** Purchase summaries of many profiles as of `at`, column by column, in the given order. */
export function purchaseSummariesOf (profiles: readonly CustomerProfile[], at: number): PurchaseSummaries {
  const n = profiles.length
  const out = { x: new Float64Array(n), tx: new Float64Array(n), T: new Float64Array(n) }
  profiles.forEach((p, i) => {
    const s = purchaseSummaryOf(p, at)
    out.x[i] = s.x
    out.tx[i] = s.tx
    out.T[i] = s.T
  })
  return out
}
