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
const Finite = Type.Number({ minimum: -1e12, maximum: 1e12 })

/**
 * The account's features just before a transaction (`{ feature name: value }`, the fraud model's
 * inputs), as the fraud pipeline computes them from the account it keeps: the API scores them
 * exactly as the in-process model would.
 */
export const AccountFeatures = Type.Record(Type.String({ maxLength: 100 }), Finite, { maxProperties: 100 })

/** A payment transaction (the fraud streaming consumer's): id, account, amount and time are needed; the rest sharpens the score. */
export const TransactionBody = Type.Object({
  transaction_id: Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Integer()]),
  account_id: Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Integer()]),
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

/** A transaction in a batch, with its account's features before it when the caller keeps accounts. */
export const BatchTransaction = Type.Composite([TransactionBody, Type.Object({ account: Type.Optional(AccountFeatures) })])
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
