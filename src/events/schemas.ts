import { FormatRegistry, Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { isoCountries, isoCurrencies } from './iso-codes.ts'

/** Streams churnflow knows, by their default topic names. */
export const Streams = {
  USER_EVENTS: 'user-events',
  CUSTOMER_EVENTS: 'customer-events',
  TRANSACTIONS: 'transactions'
} as const
export type Stream = (typeof Streams)[keyof typeof Streams]
/** The two streams of customer behaviour, the ones a churn processor reads. */
export type EventStream = typeof Streams.USER_EVENTS | typeof Streams.CUSTOMER_EVENTS

/** user-events types with seed 003's weights (percent). */
export const userEventWeights = { product_view: 40, add_to_cart: 25, checkout: 20, bounce: 15 } as const
export type UserEventType = keyof typeof userEventWeights
export const userEventTypes = Object.keys(userEventWeights) as UserEventType[]

/** customer-events types (seed 001). */
export const customerEventTypes = [
  'order_placed', 'order_cancelled', 'payment_failed', 'support_ticket_created', 'email_opened', 'email_clicked',
  'login', 'product_viewed', 'cart_abandoned', 'review_submitted', 'refund_requested', 'subscription_cancelled'
] as const
export type CustomerEventType = (typeof customerEventTypes)[number]

const Timestamp = Type.String({ minLength: 16, maxLength: 40, description: 'ISO 8601, with or without a zone (none = UTC)' })
const Id = Type.String({ minLength: 1, maxLength: 50 })
const Money = Type.Number({ minimum: 0, maximum: 1e9 })
const Count = Type.Integer({ minimum: 0, maximum: 1e6 })

/** A user-events record (seeds 000, 002, 003); user_id is a number or a string. */
export const UserEventSchema = Type.Object({
  user_id: Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Id]),
  event_type: Type.Union(userEventTypes.map(t => Type.Literal(t))),
  timestamp: Timestamp,
  metadata: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]))
})
export type UserEvent = Static<typeof UserEventSchema>

/** The `data` object of each customer event type, as churnflow's simulator sends it; more fields are allowed. */
export const customerEventDataSchemas = {
  order_placed: Type.Object({ order_id: Id, order_value: Money, items_count: Count, payment_method: Id }),
  order_cancelled: Type.Object({ order_id: Id, order_value: Money, reason: Id }),
  payment_failed: Type.Object({ order_id: Id, amount: Money, payment_method: Id, failure_reason: Id, attempt: Count }),
  support_ticket_created: Type.Object({ ticket_id: Id, category: Id, priority: Id, channel: Id }),
  email_opened: Type.Object({ campaign_id: Id, campaign_type: Id, email_id: Id }),
  email_clicked: Type.Object({ campaign_id: Id, campaign_type: Id, link: Type.String({ maxLength: 500 }) }),
  login: Type.Object({ platform: Id, device: Id, session_id: Id }),
  product_viewed: Type.Object({ product_id: Id, category: Id, price: Money, view_duration: Money }),
  cart_abandoned: Type.Object({ cart_id: Id, cart_value: Money, items_count: Count, stage: Id }),
  review_submitted: Type.Object({ order_id: Id, product_id: Id, rating: Type.Integer({ minimum: 1, maximum: 5 }), review_length: Count }),
  refund_requested: Type.Object({ order_id: Id, amount: Money, reason: Id }),
  subscription_cancelled: Type.Object({ subscription_id: Id, plan: Id, reason: Id, tenure_days: Count })
} as const satisfies Record<CustomerEventType, TSchema>

/** A customer-events record (seed 001). */
export const CustomerEventSchema = Type.Object({
  event_id: Type.String({ minLength: 1, maxLength: 100 }),
  event_type: Type.Union(customerEventTypes.map(t => Type.Literal(t))),
  customer_id: Id,
  timestamp: Timestamp,
  data: Type.Record(Type.String(), Type.Unknown())
})
export type CustomerEvent = Static<typeof CustomerEventSchema>

/** String formats of a transaction's codes, checked against the real lists (either case is accepted). */
export const TransactionFormats = { CURRENCY: 'iso4217', COUNTRY: 'iso3166-alpha2' } as const
FormatRegistry.Set(TransactionFormats.CURRENCY, value => isoCurrencies.has(value.toUpperCase()))
FormatRegistry.Set(TransactionFormats.COUNTRY, value => isoCountries.has(value.toUpperCase()))

/** An identifier another system made: text, or a whole number (read as its decimal text). */
const ForeignId = Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })])

/**
 * A payment transaction (the fraud streaming consumer's stream). Seed 004 names the fields but
 * leaves their rules open, so these are liberal where it is silent: ids may be numbers, any
 * channel and merchant category is taken, `card_id` (churnflow's simulator sends it) is optional,
 * and fields beyond these are allowed (the fraud pipeline keeps them). The decoder also accepts
 * `id` as the other spelling of `transaction_id`.
 */
export const TransactionSchema = Type.Object({
  transaction_id: ForeignId,
  account_id: ForeignId,
  card_id: Type.Optional(ForeignId),
  amount: Type.Number({ exclusiveMinimum: 0, maximum: 1e9 }),
  currency: Type.String({ format: TransactionFormats.CURRENCY, description: 'ISO 4217' }),
  merchant_id: ForeignId,
  merchant_category: Type.String({ minLength: 1, maxLength: 100 }),
  channel: Type.String({ minLength: 1, maxLength: 50 }),
  country: Type.String({ format: TransactionFormats.COUNTRY, description: 'ISO 3166-1 alpha-2' }),
  timestamp: Timestamp
})
export type Transaction = Static<typeof TransactionSchema>

export const checkUserEvent: TypeCheck<typeof UserEventSchema> = TypeCompiler.Compile(UserEventSchema)
export const checkCustomerEvent: TypeCheck<typeof CustomerEventSchema> = TypeCompiler.Compile(CustomerEventSchema)
export const checkTransaction: TypeCheck<typeof TransactionSchema> = TypeCompiler.Compile(TransactionSchema)
export const checkCustomerEventData: { readonly [K in CustomerEventType]: TypeCheck<(typeof customerEventDataSchemas)[K]> } =
  Object.fromEntries(customerEventTypes.map(t => [t, TypeCompiler.Compile(customerEventDataSchemas[t])])) as never
