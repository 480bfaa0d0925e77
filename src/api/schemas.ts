import { Type, type Static } from '@sinclair/typebox'

/** A customer id: seed 000's integer user_id or a string id. */
const Id = Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Type.String({ minLength: 1, maxLength: 50 })])
const Details = Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])

/** seed 000's request body; customer-events' customer_id and data are taken too. */
export const ChurnEvent = Type.Object({
  user_id: Type.Optional(Id),
  customer_id: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
  event_type: Type.String({ minLength: 1, maxLength: 64 }),
  timestamp: Type.String({ minLength: 10, maxLength: 40 }),
  metadata: Type.Optional(Details),
  data: Type.Optional(Details),
  /** The customer's profile before this event, from a caller that keeps profiles (the processor); used instead of the store's. */
  profile: Type.Optional(Type.Record(Type.String(), Type.Number(), { maxProperties: 200 }))
})
export type ChurnEventBody = Static<typeof ChurnEvent>

const Reason = Type.Object({ feature: Type.String(), value: Type.Number(), impact: Type.Number() })

export const ChurnResponse = Type.Object({
  churn_score: Type.Number(),
  risk_band: Type.String(),
  model_version: Type.String(),
  reasons: Type.Array(Reason),
  user_id: Id,
  event_type: Type.String(),
  profile: Type.String()
})

const Text = Type.String({ maxLength: 100 })
const Count = Type.Number({ minimum: 0, maximum: 1e12 })
/** An epoch-ms time (0: never), up to the largest a Date holds. */
const Time = Type.Number({ minimum: 0, maximum: 8.64e15 })
const Finite = Type.Number({ minimum: -1e12, maximum: 1e12 })

/**
 * An account's state just before a transaction, as the fraud pipeline keeps it (`AccountProfile`
 * in src/fraud): a caller that keeps accounts sends it so the API scores the transaction with the
 * account's history, exactly as the in-process model would.
 */
export const AccountState = Type.Object({
  count: Type.Integer({ minimum: 0, maximum: 1e12 }),
  meanLog: Finite,
  m2Log: Type.Number({ minimum: 0, maximum: 1e12 }),
  lastTime: Time,
  decayAt: Time,
  v10m: Count,
  v1h: Count,
  v1d: Count,
  countries: Type.Array(Text, { maxItems: 300 }),
  categories: Type.Record(Type.String({ maxLength: 100 }), Type.Integer({ minimum: 0, maximum: 1e12 }), { maxProperties: 300 })
}, { additionalProperties: false })

/** A payment transaction (the fraud streaming consumer's): id, account, amount and time are needed; the rest sharpens the score. */
export const TransactionBody = Type.Object({
  transaction_id: Type.String({ minLength: 1, maxLength: 100 }),
  account_id: Type.String({ minLength: 1, maxLength: 100 }),
  amount: Type.Number({ exclusiveMinimum: 0, maximum: 1e9 }),
  timestamp: Type.String({ minLength: 10, maxLength: 40 }),
  currency: Type.Optional(Text),
  card_id: Type.Optional(Text),
  merchant_id: Type.Optional(Text),
  merchant_category: Type.Optional(Text),
  channel: Type.Optional(Text),
  country: Type.Optional(Text)
})
export type TransactionBodyType = Static<typeof TransactionBody>

/** A transaction in a batch, with the account's state before it when the caller keeps accounts. */
export const BatchTransaction = Type.Composite([TransactionBody, Type.Object({ account: Type.Optional(AccountState) })])
export type BatchTransactionBody = Static<typeof BatchTransaction>

export const FraudResponse = Type.Object({
  transaction_id: Type.String(),
  fraud_score: Type.Number(),
  prediction: Type.String(),
  model_version: Type.String(),
  reasons: Type.Array(Reason)
})

export const BatchFraudResponse = Type.Composite([FraudResponse, Type.Object({ account: Type.String() })])

export const ErrorResponse = Type.Object({ error: Type.String(), message: Type.String(), field: Type.Optional(Type.String()) })
