import { HALF_LIVES, type CustomerProfile } from './profile.ts'

const DAY = 86_400_000
/** Recency features say "a year" for "never". */
const NEVER_DAYS = 365
/** A steady rate r per day fills a counter decayed with half-life h to r × h / ln 2. */
const FILL_7 = HALF_LIVES.short / Math.LN2
const FILL_30 = HALF_LIVES.long / Math.LN2
/** Rates over the customer's whole known life, from at least two weeks so a newcomer is not extreme. */
const MIN_TENURE_DAYS = 14
/**
 * A customer's usual purchase rate, shrunk towards a prior of 2 purchases in 25 days: a few purchases
 * say little on their own, and how often someone usually buys is most of what predicts a quiet month.
 */
const PRIOR_PURCHASES = 2
const PRIOR_DAYS = 25
/** Purchases per filled cart, shrunk towards a prior of one purchase in two carts (worth 6 carts). */
const PRIOR_CART_PURCHASES = 3
const PRIOR_CARTS = 6

/** The churn model's features, in the order of the feature vector. Defined once, for training and serving. */
export const churnFeatureNames = [
  'days_since_previous_event', 'days_since_last_purchase', 'days_since_last_login', 'days_since_last_email_open',
  'days_since_last_ticket', 'days_since_last_payment_failure', 'tenure_days', 'events_total', 'orders_total',
  'checkouts_total', 'avg_order_value', 'activity_7d', 'activity_30d', 'activity_trend', 'purchases_7d',
  'purchases_30d', 'bounces_30d', 'bounce_share_30d', 'cart_abandon_rate', 'checkout_rate', 'tickets_30d',
  'tickets_total', 'payment_failures_30d', 'payment_failures_total', 'refunds_total', 'order_cancels_total',
  'email_opens_30d', 'email_click_rate', 'avg_session_length', 'avg_rating', 'subscription_cancelled',
  'events_per_day', 'orders_per_day', 'activity_30d_vs_usual', 'activity_7d_vs_usual', 'purchases_30d_vs_usual',
  'bounces_7d', 'bounce_share_7d', 'logins_30d_vs_usual', 'email_opens_30d_vs_usual', 'purchase_rate_estimate',
  'logins_7d_vs_usual', 'email_opens_7d_vs_usual', 'tickets_7d', 'payment_failures_7d',
  'carts_per_day', 'logins_per_day', 'views_per_day', 'purchases_per_cart', 'purchase_rate_from_carts',
  'bounces_per_day', 'email_opens_per_day', 'browsing_30d_vs_usual'
] as const
export type ChurnFeatureName = (typeof churnFeatureNames)[number]
export const CHURN_FEATURES = churnFeatureNames.length

const since = (at: number, then: number): number => (then === 0 ? NEVER_DAYS : Math.min(NEVER_DAYS, Math.max(0, (at - then) / DAY)))

/**
 * Writes the churn features of `p` as of `at` (the scored event's own time, never the wall clock)
 * into `out` from `offset`. Decayed counters are carried forward to `at`.
 */
export function churnFeatures (p: CustomerProfile, at: number, out: Float64Array, offset = 0): void {
  const days = p.decayAt === 0 || at <= p.decayAt ? 0 : (at - p.decayAt) / DAY
  const s = Math.pow(2, -days / HALF_LIVES.short)
  const l = Math.pow(2, -days / HALF_LIVES.long)
  const d7Activity = p.d7Activity * s
  const d30Activity = p.d30Activity * l
  const d30Bounces = p.d30Bounces * l
  const d30Browsing = p.d30Browsing * l
  let i = offset
  out[i++] = p.prevSeen === 0 ? NEVER_DAYS : since(p.lastSeen, p.prevSeen)
  out[i++] = since(at, p.lastPurchase)
  out[i++] = since(at, p.lastLogin)
  out[i++] = since(at, p.lastEmailOpen)
  out[i++] = since(at, p.lastTicket)
  out[i++] = since(at, p.lastPaymentFailure)
  out[i++] = p.firstSeen === 0 ? 0 : Math.max(0, (at - p.firstSeen) / DAY)
  out[i++] = Math.log1p(p.events)
  out[i++] = p.orders
  out[i++] = p.checkouts
  out[i++] = p.orders > 0 ? p.totalSpent / p.orders : 0
  out[i++] = d7Activity
  out[i++] = d30Activity
  out[i++] = d7Activity / (d30Activity + 1)
  out[i++] = p.d7Purchases * s
  out[i++] = p.d30Purchases * l
  out[i++] = d30Bounces
  out[i++] = d30Bounces + d30Browsing > 0 ? d30Bounces / (d30Bounces + d30Browsing) : 0
  out[i++] = p.cartsAbandoned / Math.max(1, p.addToCarts)
  out[i++] = p.checkouts / Math.max(1, p.addToCarts)
  out[i++] = p.d30Tickets * l
  out[i++] = p.tickets
  out[i++] = p.d30PaymentFailures * l
  out[i++] = p.paymentFailures
  out[i++] = p.refunds
  out[i++] = p.orderCancels
  out[i++] = p.d30EmailOpens * l
  out[i++] = p.emailsClicked / Math.max(1, p.emailsOpened)
  out[i++] = p.sessionCount > 0 ? p.sessionLengthSum / p.sessionCount : 0
  out[i++] = p.reviews > 0 ? p.ratingSum / p.reviews : 4
  out[i++] = p.subscriptionCancels > 0 ? 1 : 0
  // The customer against their own usual: a drifting customer does less than they used to.
  const tenure = Math.max(MIN_TENURE_DAYS, p.firstSeen === 0 ? 0 : (at - p.firstSeen) / DAY)
  const eventsPerDay = p.events / tenure
  const purchasesPerDay = Math.max(p.orders, p.checkouts) / tenure
  const d7Bounces = p.d7Bounces * s
  const d7Browsing = p.d7Browsing * s
  out[i++] = eventsPerDay
  out[i++] = p.orders / tenure
  out[i++] = eventsPerDay > 0 ? d30Activity / (eventsPerDay * FILL_30) : 0
  out[i++] = eventsPerDay > 0 ? d7Activity / (eventsPerDay * FILL_7) : 0
  out[i++] = purchasesPerDay > 0 ? (p.d30Purchases * l) / (purchasesPerDay * FILL_30) : 0
  out[i++] = d7Bounces
  out[i++] = d7Bounces + d7Browsing > 0 ? d7Bounces / (d7Bounces + d7Browsing) : 0
  out[i++] = p.logins > 0 ? (p.d30Logins * l) / ((p.logins / tenure) * FILL_30) : 0
  out[i++] = p.emailsOpened > 0 ? (p.d30EmailOpens * l) / ((p.emailsOpened / tenure) * FILL_30) : 0
  const known = p.firstSeen === 0 ? 0 : Math.max(0, (at - p.firstSeen) / DAY)
  out[i++] = (Math.max(p.orders, p.checkouts) + PRIOR_PURCHASES) / (known + PRIOR_DAYS)
  out[i++] = p.logins > 0 ? (p.d7Logins * s) / ((p.logins / tenure) * FILL_7) : 0
  out[i++] = p.emailsOpened > 0 ? (p.d7EmailOpens * s) / ((p.emailsOpened / tenure) * FILL_7) : 0
  out[i++] = p.d7Tickets * s
  out[i++] = p.d7PaymentFailures * s
  // How often someone buys is how often they fill a cart times how often a cart ends in a purchase:
  // carts are several times more frequent than purchases, so the product is the steadier estimate.
  const cartsPerDay = p.addToCarts / tenure
  const viewsPerDay = (p.views + p.productViews) / tenure
  const perCart = (p.checkouts + PRIOR_CART_PURCHASES) / (p.addToCarts + PRIOR_CARTS)
  out[i++] = cartsPerDay
  out[i++] = p.logins / tenure
  out[i++] = viewsPerDay
  out[i++] = perCart
  out[i++] = cartsPerDay * perCart
  out[i++] = p.bounces / tenure
  out[i++] = p.emailsOpened / tenure
  out[i] = viewsPerDay > 0 ? (p.d30Browsing * l) / (viewsPerDay * FILL_30) : 0
}
