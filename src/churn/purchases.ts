import type { PurchaseSummaries, PurchaseSummary } from '../model/index.ts'
import type { CustomerProfile } from '../profile/index.ts'

const WEEK = 7 * 86_400_000

/**
 * True when a profile holds purchases alone (orders, checkouts, their cancellations and refunds):
 * a purchase history, such as a shop's invoices, with none of the behaviour the trees read.
 */
export function isPurchaseHistory (p: CustomerProfile): boolean {
  return p.events > 0 && p.events === p.orders + p.checkouts + p.orderCancels + p.refunds
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
