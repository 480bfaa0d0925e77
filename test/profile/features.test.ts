import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  applyEvent, CHURN_FEATURES, churnFeatureNames, churnFeatures, emptyProfile, profileEventOf, type ChurnFeatureName, type CustomerProfile
} from '../../src/profile/index.ts'

const DAY = 86_400_000
const t0 = Date.UTC(2019, 2, 1)

function features (p: CustomerProfile, at: number): Record<ChurnFeatureName, number> {
  const out = new Float64Array(CHURN_FEATURES)
  churnFeatures(p, at, out)
  return Object.fromEntries(churnFeatureNames.map((n, i) => [n, out[i] as number])) as Record<ChurnFeatureName, number>
}

function apply (p: CustomerProfile, record: { event_type: string, timestamp: string, metadata?: unknown, data?: unknown }): void {
  const e = profileEventOf(record)
  assert.ok(e !== undefined)
  applyEvent(p, e)
}

const at = (days: number, hours = 0): string => new Date(t0 + days * DAY + hours * 3_600_000).toISOString()

test('a small history, by hand: counters, averages, rates and recency at the event\'s own time (2019, not now)', () => {
  const p = emptyProfile()
  apply(p, { event_type: 'product_view', timestamp: at(0), metadata: { product_id: 1, session_length: 4 } })
  apply(p, { event_type: 'add_to_cart', timestamp: at(0, 1), metadata: { product_id: 1, session_length: 6 } })
  apply(p, { event_type: 'checkout', timestamp: at(0, 2), metadata: { product_id: 1, session_length: 8 } })
  apply(p, { event_type: 'order_placed', timestamp: at(0, 2), data: { order_id: 'O1', order_value: 100, items_count: 1, payment_method: 'paypal' } })
  apply(p, { event_type: 'login', timestamp: at(3) })
  apply(p, { event_type: 'order_placed', timestamp: at(5), data: { order_id: 'O2', order_value: 50, items_count: 2, payment_method: 'paypal' } })
  apply(p, { event_type: 'email_opened', timestamp: at(6) })
  apply(p, { event_type: 'email_clicked', timestamp: at(6, 1) })
  apply(p, { event_type: 'bounce', timestamp: at(10), metadata: { session_length: 0.5 } })
  apply(p, { event_type: 'support_ticket_created', timestamp: at(12) })
  apply(p, { event_type: 'review_submitted', timestamp: at(13), data: { rating: 2 } })
  apply(p, { event_type: 'review_submitted', timestamp: at(14), data: { rating: 4 } })
  apply(p, { event_type: 'cart_abandoned', timestamp: at(20) })
  apply(p, { event_type: 'payment_failed', timestamp: at(25) })

  assert.equal(p.orders, 2)
  assert.equal(p.totalSpent, 150)
  assert.equal(p.checkouts, 1)
  assert.equal(p.events, 14)
  const f = features(p, t0 + 25 * DAY)
  assert.equal(f.days_since_previous_event, 5)
  assert.equal(f.days_since_last_purchase, 20)
  assert.equal(f.days_since_last_login, 22)
  assert.equal(f.days_since_last_email_open, 19)
  assert.equal(f.days_since_last_ticket, 13)
  assert.equal(f.days_since_last_payment_failure, 0)
  assert.equal(f.tenure_days, 25)
  assert.equal(f.events_total, Math.log1p(14))
  assert.equal(f.orders_total, 2)
  assert.equal(f.avg_order_value, 75)
  assert.equal(f.cart_abandon_rate, 1)
  assert.equal(f.checkout_rate, 1)
  assert.equal(f.email_click_rate, 1)
  assert.equal(f.avg_session_length, (4 + 6 + 8 + 0.5) / 4)
  assert.equal(f.avg_rating, 3)
  assert.equal(f.tickets_total, 1)
  assert.equal(f.payment_failures_total, 1)
  assert.equal(f.subscription_cancelled, 0)
  // Decayed counts, half-life 30 days: the bounce was 15 days ago, so it counts 2^-0.5.
  assert.ok(Math.abs(f.bounces_30d - 2 ** -0.5) < 1e-12)
  // Browsing in the last 30 days: the view 25 days ago; bounce share = bounce / (bounce + view).
  const view = 2 ** (-25 / 30)
  assert.ok(Math.abs(f.bounce_share_30d - 2 ** -0.5 / (2 ** -0.5 + view)) < 1e-12)
  // Purchases: three (checkout and order at day 0, 02:00; an order at day 5); 7-day half-life.
  assert.ok(Math.abs(f.purchases_7d - (2 * 2 ** (-(25 - 2 / 24) / 7) + 2 ** (-20 / 7))) < 1e-9)
  // Lifetime rates over the 25 days known: one cart, one login, one view, one bounce, one email open.
  assert.equal(f.carts_per_day, 1 / 25)
  assert.equal(f.logins_per_day, 1 / 25)
  assert.equal(f.views_per_day, 1 / 25)
  assert.equal(f.bounces_per_day, 1 / 25)
  assert.equal(f.email_opens_per_day, 1 / 25)
  // Purchases per cart, shrunk towards 3 in 6: (1 checkout + 3) / (1 cart + 6); times the cart rate.
  assert.equal(f.purchases_per_cart, 4 / 7)
  assert.equal(f.purchase_rate_from_carts, (1 / 25) * (4 / 7))
  // The one view, 25 days ago, against a usual rate of 1/25 a day filling a 30-day counter.
  assert.ok(Math.abs(f.browsing_30d_vs_usual - view / ((1 / 25) * 30 / Math.LN2)) < 1e-12)
})

test('features later in time decay the recent counts without any new event', () => {
  const p = emptyProfile()
  apply(p, { event_type: 'bounce', timestamp: at(0) })
  assert.ok(Math.abs(features(p, t0 + 30 * DAY).bounces_30d - 0.5) < 1e-12)
  assert.ok(Math.abs(features(p, t0 + 60 * DAY).bounces_30d - 0.25) < 1e-12)
  assert.equal(features(p, t0 + 30 * DAY).days_since_last_purchase, 365, 'never bought reads as a year')
})

test('a late event (out of order) counts with its own, older weight', () => {
  const inOrder = emptyProfile()
  apply(inOrder, { event_type: 'bounce', timestamp: at(0) })
  apply(inOrder, { event_type: 'bounce', timestamp: at(10) })
  const late = emptyProfile()
  apply(late, { event_type: 'bounce', timestamp: at(10) })
  apply(late, { event_type: 'bounce', timestamp: at(0) })
  const a = features(inOrder, t0 + 20 * DAY)
  const b = features(late, t0 + 20 * DAY)
  assert.ok(Math.abs(a.bounces_30d - b.bounces_30d) < 1e-12)
  assert.equal(late.firstSeen, t0)
  assert.equal(late.lastSeen, t0 + 10 * DAY)
})

test('timestamps without a zone are UTC; a bad timestamp is no event', () => {
  assert.equal(profileEventOf({ event_type: 'bounce', timestamp: '2024-01-15T10:30:00.123456' })?.time, Date.UTC(2024, 0, 15, 10, 30, 0, 123))
  assert.equal(profileEventOf({ event_type: 'bounce', timestamp: '2024-01-15T12:30:00+02:00' })?.time, Date.UTC(2024, 0, 15, 10, 30))
  assert.equal(profileEventOf({ event_type: 'bounce', timestamp: '2024-02-30T10:30:00Z' }), undefined)
  assert.equal(profileEventOf({ event_type: 'bounce', timestamp: 'yesterday' }), undefined)
})
