import { parseEventTime, type CustomerEventType, type UserEventType } from '../events/index.ts'

const DAY = 86_400_000

/** Half-lives of the decayed counters that make the recent-window trends, in days. */
export const HALF_LIVES = { short: 7, long: 30 } as const

/**
 * Everything churnflow remembers of one customer: counters, sums, last times and decayed recent
 * counts. Flat numbers only, so it maps one to one onto a Redis hash. Times are epoch ms (0 =
 * never). The `d7_*`/`d30_*` counters are exponentially decayed with event time, valid as of `decayAt`.
 */
export interface CustomerProfile {
  firstSeen: number
  lastSeen: number
  /** lastSeen before the latest event: the gap an event closes. */
  prevSeen: number
  events: number
  // user-events
  views: number
  addToCarts: number
  checkouts: number
  bounces: number
  sessionLengthSum: number
  sessionCount: number
  // customer-events (the Kafka event system's profile updates)
  orders: number
  totalSpent: number
  orderCancels: number
  paymentFailures: number
  tickets: number
  emailsOpened: number
  emailsClicked: number
  logins: number
  productViews: number
  cartsAbandoned: number
  reviews: number
  ratingSum: number
  refunds: number
  subscriptionCancels: number
  // last times
  lastPurchase: number
  lastLogin: number
  lastEmailOpen: number
  lastTicket: number
  lastPaymentFailure: number
  // decayed recent counts
  decayAt: number
  d7Activity: number
  d30Activity: number
  d7Purchases: number
  d30Purchases: number
  d30Bounces: number
  d30Browsing: number
  d7Bounces: number
  d7Browsing: number
  d30Logins: number
  d7Logins: number
  d7EmailOpens: number
  d7Tickets: number
  d7PaymentFailures: number
  d30Tickets: number
  d30PaymentFailures: number
  d30EmailOpens: number
}

export function emptyProfile (): CustomerProfile {
  return {
    firstSeen: 0, lastSeen: 0, prevSeen: 0, events: 0,
    views: 0, addToCarts: 0, checkouts: 0, bounces: 0, sessionLengthSum: 0, sessionCount: 0,
    orders: 0, totalSpent: 0, orderCancels: 0, paymentFailures: 0, tickets: 0, emailsOpened: 0, emailsClicked: 0,
    logins: 0, productViews: 0, cartsAbandoned: 0, reviews: 0, ratingSum: 0, refunds: 0, subscriptionCancels: 0,
    lastPurchase: 0, lastLogin: 0, lastEmailOpen: 0, lastTicket: 0, lastPaymentFailure: 0,
    decayAt: 0, d7Activity: 0, d30Activity: 0, d7Purchases: 0, d30Purchases: 0, d30Bounces: 0, d30Browsing: 0,
    d7Bounces: 0, d7Browsing: 0, d30Logins: 0, d7Logins: 0, d7EmailOpens: 0, d7Tickets: 0, d7PaymentFailures: 0,
    d30Tickets: 0, d30PaymentFailures: 0, d30EmailOpens: 0
  }
}

export const profileFields = Object.keys(emptyProfile()) as (keyof CustomerProfile)[]

/*
 * A profile's fields to and from a row of numbers (in `profileFields` order), compiled from the
 * field list into straight-line code. Through a loop over field names each access is a keyed
 * lookup, and reading a fractional number that way boxes it: writing one profile allocated some
 * 800 bytes of heap numbers, and a batch copies thousands. Named accesses compile to direct loads
 * and stores. The names are this module's own, never input.
 */
export const profileToRow = new Function('p', 'row', 'base', profileFields.map((f, i) => `row[base + ${i}] = p.${f}`).join('\n')) as
  (profile: CustomerProfile, row: Float64Array, base: number) => void
export const profileFromRow = new Function('row', 'base', `return { ${profileFields.map((f, i) => `${f}: row[base + ${i}]`).join(', ')} }`) as
  (row: Float64Array, base: number) => CustomerProfile

const decay = (days: number, halfLife: number): number => Math.pow(2, -days / halfLife)

/** Moves the decayed counters to `time`; an earlier time (a late event) leaves them where they are. */
function advance (p: CustomerProfile, time: number): number {
  if (p.decayAt === 0) {
    p.decayAt = time
    return 1
  }
  if (time <= p.decayAt) return 0
  const days = (time - p.decayAt) / DAY
  const s = decay(days, HALF_LIVES.short)
  const l = decay(days, HALF_LIVES.long)
  p.d7Activity *= s
  p.d7Purchases *= s
  p.d7Bounces *= s
  p.d7Browsing *= s
  p.d7Logins *= s
  p.d7EmailOpens *= s
  p.d7Tickets *= s
  p.d7PaymentFailures *= s
  p.d30Logins *= l
  p.d30Activity *= l
  p.d30Purchases *= l
  p.d30Bounces *= l
  p.d30Browsing *= l
  p.d30Tickets *= l
  p.d30PaymentFailures *= l
  p.d30EmailOpens *= l
  p.decayAt = time
  return 1
}

/** What an event adds to the decayed counters, seen from `decayAt` (less, for a late event). */
function weights (p: CustomerProfile, time: number): { short: number, long: number } {
  if (time >= p.decayAt) return { short: 1, long: 1 }
  const days = (p.decayAt - time) / DAY
  return { short: decay(days, HALF_LIVES.short), long: decay(days, HALF_LIVES.long) }
}

/** The part of an event the profile needs: type, time, and a few numbers. */
export interface ProfileEvent {
  readonly type: UserEventType | CustomerEventType
  readonly time: number
  /** session_length (user-events, minutes), order_value (order_placed), rating (review_submitted). */
  readonly sessionLength?: number | undefined
  readonly orderValue?: number | undefined
  readonly rating?: number | undefined
}

const finite = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

/**
 * The profile's view of a user-event or customer-event record; undefined for a bad timestamp.
 * `time` is the timestamp already parsed, when the caller has it.
 */
export function profileEventOf (event: { event_type: string, timestamp: string, metadata?: unknown, data?: unknown }, time = parseEventTime(event.timestamp)): ProfileEvent | undefined {
  if (time === undefined) return undefined
  const meta = event.metadata as Record<string, unknown> | null | undefined
  const data = event.data as Record<string, unknown> | null | undefined
  // One shape for every event (absent numbers are undefined), built at once: this runs per event.
  return {
    type: event.event_type as ProfileEvent['type'],
    time,
    sessionLength: finite(meta?.session_length),
    orderValue: finite(data?.order_value),
    rating: finite(data?.rating)
  }
}

/** Applies one event to a profile (the Kafka event system's updates plus the user-event counters). */
export function applyEvent (p: CustomerProfile, e: ProfileEvent): void {
  const t = e.time
  if (p.firstSeen === 0 || t < p.firstSeen) p.firstSeen = t
  if (t > p.lastSeen) {
    p.prevSeen = p.lastSeen
    p.lastSeen = t
  }
  p.events++
  advance(p, t)
  const w = weights(p, t)
  p.d7Activity += w.short
  p.d30Activity += w.long
  const purchase = (): void => {
    if (t > p.lastPurchase) p.lastPurchase = t
    p.d7Purchases += w.short
    p.d30Purchases += w.long
  }
  if (e.sessionLength !== undefined) {
    p.sessionLengthSum += e.sessionLength
    p.sessionCount++
  }
  switch (e.type) {
    case 'product_view':
      p.views++
      p.d30Browsing += w.long
      p.d7Browsing += w.short
      break
    case 'add_to_cart':
      p.addToCarts++
      break
    case 'checkout':
      p.checkouts++
      purchase()
      break
    case 'bounce':
      p.bounces++
      p.d30Bounces += w.long
      p.d7Bounces += w.short
      break
    case 'order_placed':
      p.orders++
      p.totalSpent += e.orderValue ?? 0
      purchase()
      break
    case 'order_cancelled':
      p.orderCancels++
      break
    case 'payment_failed':
      p.paymentFailures++
      p.d30PaymentFailures += w.long
      p.d7PaymentFailures += w.short
      if (t > p.lastPaymentFailure) p.lastPaymentFailure = t
      break
    case 'support_ticket_created':
      p.tickets++
      p.d30Tickets += w.long
      p.d7Tickets += w.short
      if (t > p.lastTicket) p.lastTicket = t
      break
    case 'email_opened':
      p.emailsOpened++
      p.d30EmailOpens += w.long
      p.d7EmailOpens += w.short
      if (t > p.lastEmailOpen) p.lastEmailOpen = t
      break
    case 'email_clicked':
      p.emailsClicked++
      break
    case 'login':
      p.logins++
      p.d30Logins += w.long
      p.d7Logins += w.short
      if (t > p.lastLogin) p.lastLogin = t
      break
    case 'product_viewed':
      p.productViews++
      p.d30Browsing += w.long
      p.d7Browsing += w.short
      break
    case 'cart_abandoned':
      p.cartsAbandoned++
      break
    case 'review_submitted':
      p.reviews++
      p.ratingSum += e.rating ?? 0
      break
    case 'refund_requested':
      p.refunds++
      break
    case 'subscription_cancelled':
      p.subscriptionCancels++
      break
  }
}
