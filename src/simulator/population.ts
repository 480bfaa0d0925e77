import { isoUtc, Streams, type CustomerEvent, type CustomerEventType, type UserEvent, type UserEventType } from '../events/index.ts'
import { customerId, devices, paymentMethods, plans, platforms } from './catalog.ts'
import { customerEventData, type CustomerContext } from './customer-data.ts'
import { MinHeap } from '../util/heap.ts'
import { HiddenStates, type ChurnRates, type CustomerTruth, type HiddenState } from './oracle.ts'
import { round, type Rng } from '../util/rng.ts'
import type { SimRecord } from './types.ts'

const DAY = 86_400_000

/**
 * How a customer behaves in each hidden state. Sessions (user-events) and the customer-events
 * below arrive as Poisson processes; a session buys with a fixed chance, so purchases are Poisson
 * too and the oracle in oracle.ts is exact.
 */
export const behaviour = {
  /** Sessions per day at activity 1. */
  sessionRate: [0.3, 0.12],
  /** Chance that a session is a single bounce. */
  bounce: [0.12, 0.45],
  /** Chance that a browsing session puts something in the cart. */
  cart: [0.6, 0.3],
  /** Mean product views in a browsing session. */
  views: [2.2, 1.6],
  /** The drifting customer's conversion, as a share of their engaged conversion. */
  driftingConversion: 0.25,
  /** Chance that a checkout is preceded by a failed payment. */
  checkoutPaymentFailure: [0.03, 0.15],
  /** Chance that a cart left without buying is reported as cart_abandoned. */
  abandonReported: 0.8,
  /** Customer events per day, outside sessions, by type: [engaged, drifting]. */
  events: {
    email_opened: [0.22, 0.05],
    email_clicked: [0.06, 0.008],
    login: [0.25, 0.1],
    product_viewed: [0.06, 0.025],
    support_ticket_created: [0.008, 0.05],
    payment_failed: [0.002, 0.015],
    refund_requested: [0.003, 0.02],
    review_submitted: [0.015, 0.01],
    order_cancelled: [0.002, 0.01]
  } satisfies Partial<Record<CustomerEventType, readonly [number, number]>>,
  /** Review ratings by state. */
  ratingMean: [4.3, 2.6],
  /** Chance that a subscriber cancels the subscription on churning. */
  cancelOnChurn: 0.7,
  /** Share of customers drifting already when the simulation starts. */
  initiallyDrifting: 0.1
} as const

type ClockKind = 'session' | 'transition' | CustomerEventType
interface Clock { kind: ClockKind, rate: number }

/** An event a session will emit later; built when it is emitted, so stamps follow emission order. */
interface Pending { readonly time: number, readonly build: (time: number) => SimRecord }

interface Customer {
  readonly n: number
  readonly id: string
  readonly activity: number
  readonly conversion: readonly [number, number]
  readonly rates: ChurnRates
  readonly clocks: readonly [Clock[], Clock[]]
  readonly totals: readonly [number, number]
  readonly subscribed: boolean
  readonly context: CustomerContext & { lastOrderId: string | undefined, lastOrderValue: number, ratingMean: number, tenureDays: number }
  state: HiddenState
  nextArrival: number
  readonly pending: Pending[]
  nextTime: number
  lastTime: number
  readonly states: [number, HiddenState][]
}

export interface PopulationOptions {
  readonly customers: number
  /** Simulated start, epoch ms. */
  readonly start: number
  /** Simulated end, epoch ms; Infinity for a live stream. */
  readonly end: number
}

/**
 * A population of customers who really churn: each has hidden traits and a latent engaged ⇄
 * drifting → churned process, and emits user-events (sessions: views, carts, checkouts, bounces)
 * and customer-events (orders, emails, logins, tickets, payment failures, ...) in time order.
 * Both streams use the customer id (`CUST-00042`) as user_id/customer_id and as the Kafka key.
 */
export class Population {
  readonly #rng: Rng
  readonly #options: PopulationOptions
  readonly #heap = new MinHeap<Customer>(c => c.nextTime)
  readonly #customers: Customer[] = []

  constructor (rng: Rng, options: PopulationOptions) {
    this.#rng = rng
    this.#options = options
    for (let n = 1; n <= options.customers; n++) {
      const customer = this.#create(n)
      this.#customers.push(customer)
      this.#schedule(customer, options.start)
    }
  }

  #create (n: number): Customer {
    const rng = this.#rng
    const activity = rng.lognormal(1, 0.5)
    const engagedConversion = rng.uniform(0.2, 0.45)
    const conversion = [engagedConversion, engagedConversion * behaviour.driftingConversion] as const
    const purchase = (s: 0 | 1): number => behaviour.sessionRate[s] * activity * (1 - behaviour.bounce[s]) * conversion[s]
    const rates: ChurnRates = {
      drift: rng.lognormal(1 / 300, 0.9),
      recover: 1 / 45,
      churn: rng.lognormal(1 / 18, 0.4),
      purchaseEngaged: purchase(0),
      purchaseDrifting: purchase(1)
    }
    const emailAffinity = rng.uniform(0.2, 1.2)
    const supportProneness = rng.lognormal(1, 0.5)
    const clocksFor = (s: 0 | 1): Clock[] => {
      const clocks: Clock[] = [{ kind: 'session', rate: behaviour.sessionRate[s] * activity }]
      for (const [type, perState] of Object.entries(behaviour.events) as [CustomerEventType, readonly [number, number]][]) {
        const scale = type.startsWith('email') ? emailAffinity : type === 'support_ticket_created' ? supportProneness : (type === 'login' || type === 'product_viewed') ? activity : 1
        clocks.push({ kind: type, rate: perState[s] * scale })
      }
      clocks.push({ kind: 'transition', rate: s === 0 ? rates.drift : rates.recover + rates.churn })
      return clocks
    }
    const clocks = [clocksFor(0), clocksFor(1)] as const
    const state: HiddenState = rng.chance(behaviour.initiallyDrifting) ? HiddenStates.DRIFTING : HiddenStates.ENGAGED
    return {
      n,
      id: customerId(n),
      activity,
      conversion,
      rates,
      clocks,
      totals: [clocks[0].reduce((s, c) => s + c.rate, 0), clocks[1].reduce((s, c) => s + c.rate, 0)],
      subscribed: rng.chance(0.4),
      context: {
        orderValue: rng.lognormal(70, 0.5),
        paymentMethod: rng.pick(paymentMethods),
        device: rng.pick(devices),
        platform: rng.pick(platforms),
        ratingMean: behaviour.ratingMean[state === HiddenStates.ENGAGED ? 0 : 1],
        plan: rng.pick(plans),
        tenureDays: rng.int(30, 1500),
        lastOrderId: undefined,
        lastOrderValue: 0
      },
      state,
      nextArrival: 0,
      pending: [],
      nextTime: 0,
      lastTime: -Infinity,
      states: [[this.#options.start, state]]
    }
  }

  #schedule (customer: Customer, from: number): void {
    if (customer.state === HiddenStates.CHURNED) {
      customer.nextArrival = Infinity
    } else {
      customer.nextArrival = from + this.#rng.exponential(customer.totals[customer.state]) * DAY
    }
    const pendingTime = customer.pending[0]?.time ?? Infinity
    customer.nextTime = Math.min(pendingTime, customer.nextArrival)
    if (customer.nextTime <= this.#options.end && customer.nextTime !== Infinity) this.#heap.push(customer)
  }

  /** The next event in time order, or undefined when the simulated period is over. */
  next (): SimRecord | undefined {
    for (;;) {
      const customer = this.#heap.pop()
      if (customer === undefined) return undefined
      const pending = customer.pending[0]
      if (pending !== undefined && pending.time <= customer.nextArrival) {
        customer.pending.shift()
        customer.nextTime = Math.min(customer.pending[0]?.time ?? Infinity, customer.nextArrival)
        if (customer.nextTime <= this.#options.end && customer.nextTime !== Infinity) this.#heap.push(customer)
        return pending.build(pending.time)
      }
      const now = customer.nextArrival
      const record = this.#arrive(customer, now)
      this.#schedule(customer, now)
      if (record !== undefined) return record
    }
  }

  /** One arrival of the customer's competing clocks: a state change, a session, or a customer event. */
  #arrive (customer: Customer, now: number): SimRecord | undefined {
    const rng = this.#rng
    const s = customer.state as 0 | 1
    let u = rng.next() * customer.totals[s]
    let clock = customer.clocks[s][0] as Clock
    for (const c of customer.clocks[s]) {
      clock = c
      if (u < c.rate) break
      u -= c.rate
    }
    switch (clock.kind) {
      case 'transition':
        this.#transition(customer, now)
        return undefined
      case 'session':
        this.#session(customer, now)
        return undefined
      default:
        if ((clock.kind === 'refund_requested' || clock.kind === 'order_cancelled' || clock.kind === 'review_submitted') && customer.context.lastOrderId === undefined) {
          return undefined
        }
        return this.#customerRecord(customer, clock.kind, now)
    }
  }

  #transition (customer: Customer, now: number): void {
    const rng = this.#rng
    let next: HiddenState
    if (customer.state === HiddenStates.ENGAGED) {
      next = HiddenStates.DRIFTING
    } else {
      next = rng.next() * (customer.rates.recover + customer.rates.churn) < customer.rates.recover ? HiddenStates.ENGAGED : HiddenStates.CHURNED
    }
    customer.state = next
    customer.states.push([Math.floor(now), next])
    customer.context.ratingMean = behaviour.ratingMean[next === HiddenStates.ENGAGED ? 0 : 1]
    if (next === HiddenStates.CHURNED) {
      customer.pending.length = 0
      if (customer.subscribed && rng.chance(behaviour.cancelOnChurn)) {
        this.#queue(customer, now + rng.int(1, 600) * 1000, t => this.#customerRecord(customer, 'subscription_cancelled', t))
      }
    }
  }

  #session (customer: Customer, start: number): void {
    const rng = this.#rng
    const s = customer.state as 0 | 1
    if (rng.chance(behaviour.bounce[s])) {
      const minutes = round(rng.uniform(0.1, 1.5), 2)
      this.#queue(customer, start, t => this.#userRecord(customer, 'bounce', t, minutes))
      return
    }
    const views = rng.geometric(behaviour.views[s])
    let t = start
    const minutes = round(views * rng.uniform(0.8, 4) + rng.uniform(0.5, 3), 2)
    for (let i = 0; i < views; i++) {
      this.#queue(customer, t, at => this.#userRecord(customer, 'product_view', at, minutes))
      t += rng.int(15, 150) * 1000
    }
    if (!rng.chance(behaviour.cart[s])) return
    this.#queue(customer, t, at => this.#userRecord(customer, 'add_to_cart', at, minutes))
    t += rng.int(20, 300) * 1000
    // Purchases must be a fixed share of sessions for the oracle: conversion / P(cart | browsing).
    const buys = rng.chance(customer.conversion[s] / behaviour.cart[s])
    if (buys) {
      if (rng.chance(behaviour.checkoutPaymentFailure[s])) {
        this.#queue(customer, t, at => this.#customerRecord(customer, 'payment_failed', at))
        t += rng.int(30, 180) * 1000
      }
      this.#queue(customer, t, at => this.#userRecord(customer, 'checkout', at, minutes))
      this.#queue(customer, t + rng.int(1, 5) * 1000, at => this.#customerRecord(customer, 'order_placed', at))
    } else if (rng.chance(behaviour.abandonReported)) {
      this.#queue(customer, t + rng.int(10, 40) * 60_000, at => this.#customerRecord(customer, 'cart_abandoned', at))
    }
  }

  #queue (customer: Customer, time: number, build: (time: number) => SimRecord): void {
    const pending = customer.pending
    let i = pending.length
    while (i > 0 && (pending[i - 1] as Pending).time > time) i--
    pending.splice(i, 0, { time, build })
  }

  /** Event time, strictly increasing per customer so event ids stay unique. */
  #stamp (customer: Customer, time: number): number {
    const t = Math.max(Math.floor(time), customer.lastTime + 1)
    customer.lastTime = t
    return t
  }

  #userRecord (customer: Customer, type: UserEventType, time: number, sessionMinutes: number): SimRecord {
    const t = this.#stamp(customer, time)
    const value: UserEvent = {
      user_id: customer.id,
      event_type: type,
      timestamp: isoUtc(t),
      metadata: { product_id: this.#rng.int(1, 500), session_length: sessionMinutes }
    }
    return { stream: Streams.USER_EVENTS, key: customer.id, value, time: t }
  }

  #customerRecord (customer: Customer, type: CustomerEventType, time: number): SimRecord {
    const t = this.#stamp(customer, time)
    const data = customerEventData(type, this.#rng, customer.context)
    if (type === 'order_placed') {
      customer.context.lastOrderId = data.order_id as string
      customer.context.lastOrderValue = data.order_value as number
    }
    const value: CustomerEvent = { event_id: `${customer.id}_${t}`, event_type: type, customer_id: customer.id, timestamp: isoUtc(t), data }
    return { stream: Streams.CUSTOMER_EVENTS, key: customer.id, value, time: t }
  }

  /** Every customer's truth so far: rates, hidden state changes, churned or not and when. */
  truth (): CustomerTruth[] {
    return this.#customers.map(c => {
      const churnedAt = c.states.find(([, s]) => s === HiddenStates.CHURNED)?.[0]
      return {
        customer_id: c.id,
        rates: c.rates,
        states: c.states.map(([t, s]) => [t, s] as const),
        churned: churnedAt !== undefined,
        churned_at: churnedAt === undefined ? null : isoUtc(churnedAt)
      }
    })
  }
}
