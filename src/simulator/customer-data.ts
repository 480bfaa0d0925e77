import type { CustomerEventType } from '../events/index.ts'
import {
  campaignTypes, cancelReasons, cartStages, categories, devices, pad, paymentFailureReasons, paymentMethods, plans,
  platforms, productCode, refundReasons, subscriptionCancelReasons, ticketCategories, ticketChannels, ticketPriorities
} from './catalog.ts'
import { round, type Rng } from '../util/rng.ts'

/** What a customer's events need to look like theirs: their habits and their history so far. */
export interface CustomerContext {
  /** Typical order value. */
  readonly orderValue: number
  readonly paymentMethod: string
  readonly device: string
  readonly platform: string
  /** Mean review rating; lower for unhappy customers. */
  readonly ratingMean: number
  readonly plan: string
  readonly tenureDays: number
  /** The last order, for cancellations, refunds and reviews. */
  readonly lastOrderId: string | undefined
  readonly lastOrderValue: number
}

/** A 12-digit id from the run's random source, so the same seed gives the same ids. */
const nextId = (prefix: string, rng: Rng): string => `${prefix}-${pad(rng.int(0, 999_999), 6)}${pad(rng.int(0, 999_999), 6)}`

/** The `data` object of one customer event, as a real shop would send it. */
export function customerEventData (type: CustomerEventType, rng: Rng, c: CustomerContext): Record<string, unknown> {
  const orderId = c.lastOrderId ?? nextId('ORD', rng)
  switch (type) {
    case 'order_placed':
      return { order_id: nextId('ORD', rng), order_value: round(Math.max(3, rng.lognormal(c.orderValue, 0.5)), 2), items_count: rng.geometric(2.2), payment_method: c.paymentMethod }
    case 'order_cancelled':
      return { order_id: orderId, order_value: round(c.lastOrderValue, 2), reason: rng.pick(cancelReasons) }
    case 'payment_failed':
      return { order_id: orderId, amount: round(Math.max(3, rng.lognormal(c.orderValue, 0.5)), 2), payment_method: c.paymentMethod, failure_reason: rng.pick(paymentFailureReasons), attempt: rng.int(1, 3) }
    case 'support_ticket_created':
      return { ticket_id: nextId('TKT', rng), category: rng.pick(ticketCategories), priority: rng.pick(ticketPriorities), channel: rng.pick(ticketChannels) }
    case 'email_opened':
      return { campaign_id: `CMP-${pad(rng.int(1, 60), 3)}`, campaign_type: rng.pick(campaignTypes), email_id: nextId('EML', rng) }
    case 'email_clicked':
      return { campaign_id: `CMP-${pad(rng.int(1, 60), 3)}`, campaign_type: rng.pick(campaignTypes), link: `/deals/${rng.pick(categories)}` }
    case 'login':
      return { platform: c.platform, device: c.device, session_id: nextId('SES', rng) }
    case 'product_viewed':
      return { product_id: productCode(rng.int(1, 500)), category: rng.pick(categories), price: round(rng.lognormal(60, 0.8), 2), view_duration: round(rng.uniform(2, 180), 1) }
    case 'cart_abandoned':
      return { cart_id: nextId('CART', rng), cart_value: round(Math.max(3, rng.lognormal(c.orderValue, 0.5)), 2), items_count: rng.geometric(2), stage: rng.pick(cartStages) }
    case 'review_submitted': {
      const rating = Math.min(5, Math.max(1, Math.round(rng.normal(c.ratingMean, 0.9))))
      return { order_id: orderId, product_id: productCode(rng.int(1, 500)), rating, review_length: rng.int(0, 600) }
    }
    case 'refund_requested':
      return { order_id: orderId, amount: round(c.lastOrderValue > 0 ? c.lastOrderValue : rng.lognormal(c.orderValue, 0.5), 2), reason: rng.pick(refundReasons) }
    case 'subscription_cancelled':
      return { subscription_id: nextId('SUB', rng), plan: c.plan, reason: rng.pick(subscriptionCancelReasons), tenure_days: c.tenureDays }
  }
}

/** A context for a customer about whom nothing is known (the seeds' independent random events). */
export function anonymousContext (rng: Rng): CustomerContext {
  return {
    orderValue: rng.lognormal(70, 0.4),
    paymentMethod: rng.pick(paymentMethods),
    device: rng.pick(devices),
    platform: rng.pick(platforms),
    ratingMean: 4,
    plan: rng.pick(plans),
    tenureDays: rng.int(1, 1500),
    lastOrderId: undefined,
    lastOrderValue: 0
  }
}
