import {
  customerEventTypes, isoNaiveMicros, isoUtc, Streams, userEventWeights,
  type CustomerEvent, type CustomerEventType, type UserEvent, type UserEventType
} from '../events/index.ts'
import { categories, customerId, devices, pages, productCode, referrers } from './catalog.ts'
import { anonymousContext, customerEventData } from './customer-data.ts'
import { round, WeightedChoice, type Rng } from '../util/rng.ts'
import type { SimRecord } from './types.ts'

/** seed 003's event shape (the default) or seed 002's per-type metadata. */
export const UserEventShapes = { SEED003: 'seed003', SEED002: 'seed002' } as const
export type UserEventShape = (typeof UserEventShapes)[keyof typeof UserEventShapes]

const seed003Types = new WeightedChoice<UserEventType>(Object.entries(userEventWeights) as [UserEventType, number][])
const seed002Types = ['add_to_cart', 'bounce', 'product_view'] as const

/** seed 003: `{user_id, event_type, timestamp, metadata: {product_id, session_length}}`. */
export function seed003Event (rng: Rng, users: number, now: number): UserEvent {
  return {
    user_id: rng.int(1, users),
    event_type: seed003Types.draw(rng),
    timestamp: isoUtc(now),
    metadata: { product_id: rng.int(1, 500), session_length: round(rng.uniform(0.5, 30), 2) }
  }
}

/** seed 002: three types picked evenly, each with its own metadata, a naive microsecond timestamp. */
export function seed002Event (rng: Rng, users: number, now: number): UserEvent {
  const eventType = rng.pick(seed002Types)
  let metadata: Record<string, unknown>
  switch (eventType) {
    case 'add_to_cart':
      metadata = { product_id: productCode(rng.int(1, 500)), quantity: rng.int(1, 5), price: round(rng.uniform(5, 500), 2), session_length: round(rng.uniform(0.5, 30), 1), page: rng.pick(['/products', '/product-detail', '/deals']) }
      break
    case 'bounce':
      metadata = { page: rng.pick(pages), session_length: round(rng.uniform(0.1, 2), 1), referrer: rng.pick(referrers), device: rng.pick(devices) }
      break
    case 'product_view':
      metadata = { product_id: productCode(rng.int(1, 500)), category: rng.pick(categories), price: round(rng.uniform(5, 500), 2), view_duration: round(rng.uniform(1, 120), 1), page: '/product-detail', device: rng.pick(devices) }
      break
  }
  return { user_id: rng.int(1, users), event_type: eventType, timestamp: isoNaiveMicros(now), metadata }
}

/** Independent user-events, as the seeds' random producers send them. */
export class RandomUserEvents {
  readonly #rng: Rng
  readonly #users: number
  readonly #make: typeof seed003Event

  constructor (rng: Rng, options: { users: number, shape: UserEventShape }) {
    this.#rng = rng
    this.#users = options.users
    this.#make = options.shape === UserEventShapes.SEED002 ? seed002Event : seed003Event
  }

  next (now: number): SimRecord {
    const value = this.#make(this.#rng, this.#users, now)
    return { stream: Streams.USER_EVENTS, key: String(value.user_id), value, time: now }
  }
}

/** How often each customer event type comes up among independent random events. */
export const randomCustomerEventWeights: Readonly<Record<CustomerEventType, number>> = {
  order_placed: 12, order_cancelled: 2, payment_failed: 3, support_ticket_created: 3, email_opened: 20, email_clicked: 8,
  login: 25, product_viewed: 15, cart_abandoned: 6, review_submitted: 3, refund_requested: 2, subscription_cancelled: 1
}

/** Independent customer-events in seed 001's shape. */
export class RandomCustomerEvents {
  readonly #rng: Rng
  readonly #customers: number
  readonly #types = new WeightedChoice(customerEventTypes.map(t => [t, randomCustomerEventWeights[t]] as const))
  /** A customer's last timestamp: event_id embeds it, so two events of one customer never share a millisecond. */
  readonly #last = new Map<number, number>()

  constructor (rng: Rng, options: { customers: number }) {
    this.#rng = rng
    this.#customers = options.customers
  }

  next (now: number): SimRecord {
    const n = this.#rng.int(1, this.#customers)
    const last = this.#last.get(n) ?? -Infinity
    const time = now > last ? now : last + 1
    this.#last.set(n, time)
    const id = customerId(n)
    const eventType = this.#types.draw(this.#rng)
    const value: CustomerEvent = {
      event_id: `${id}_${time}`,
      event_type: eventType,
      customer_id: id,
      timestamp: isoUtc(time),
      data: customerEventData(eventType, this.#rng, anonymousContext(this.#rng))
    }
    return { stream: Streams.CUSTOMER_EVENTS, key: id, value, time }
  }
}
