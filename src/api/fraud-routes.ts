import { Type } from '@sinclair/typebox'
import { ApiErrorCodes, RequestError } from '../errors.ts'
import { emptyAccount, factsOf, featureVector, type FraudScore, type FraudScorer, type TransactionFacts } from '../fraud/index.ts'
import { BatchFraudResponse, BatchTransaction, ErrorResponse, FraudResponse, TransactionBody, type BatchTransactionBody, type TransactionBodyType } from './schemas.ts'
import type { ApiPlugin } from './types.ts'

export interface FraudRoutesOptions {
  /** The fraud model; without one both routes answer 503. */
  readonly fraud: { readonly current: FraudScorer } | undefined
  readonly maxBatch: number
}

/** Where an account's history came from: the request, or none (an empty account). */
export const AccountSources = { REQUEST: 'request', EMPTY: 'empty account' } as const

function scorerOf (options: FraudRoutesOptions): FraudScorer {
  const fraud = options.fraud?.current
  if (fraud === undefined) throw new RequestError(503, ApiErrorCodes.NO_FRAUD_MODEL, 'this API runs without a fraud model')
  return fraud
}

/** The facts the model reads; a timestamp the schema passed but is no date-time is a 400 naming `field`. */
function factsOfBody (tx: TransactionBodyType, field: string): TransactionFacts {
  const facts = factsOf({ timestamp: tx.timestamp, amount: tx.amount, country: tx.country ?? '', merchant_category: tx.merchant_category ?? '', channel: tx.channel ?? '' })
  if (facts === undefined) throw new RequestError(400, ApiErrorCodes.INVALID_REQUEST, `${field} must be an ISO 8601 date-time such as 2024-01-15T10:30:00Z`, field)
  return facts
}

/** A transaction scored as if its account had no history (the single route, or a batch item without features). */
function score (fraud: FraudScorer, tx: TransactionBodyType, field: string): FraudScore & { transaction_id: string } {
  return { transaction_id: String(tx.transaction_id), ...fraud.score(emptyAccount(), factsOfBody(tx, field)) }
}

/** A transaction scored on the account features its caller computed; a missing feature is a 400 naming it. */
function scoreWithFeatures (fraud: FraudScorer, tx: BatchTransactionBody, features: Readonly<Record<string, number>>, field: string): FraudScore & { transaction_id: string } {
  const x = featureVector(features)
  if (typeof x === 'string') throw new RequestError(400, ApiErrorCodes.INVALID_REQUEST, `${field}.${x} is missing: send every feature of the fraud model (GET /model lists them), or no account`, `${field}.${x}`)
  return { transaction_id: String(tx.transaction_id), ...fraud.scoreFeatures(x) }
}

/**
 * Fraud scoring: POST /predict (the fraud streaming consumer's ML API call) for one transaction,
 * scored as if its account had no history, and POST /predict/batch for many, each with the
 * account's state before it when the caller keeps accounts (the fraud pipeline does).
 */
export const fraudRoutes: ApiPlugin<FraudRoutesOptions> = async (app, options) => {
  app.post('/predict', {
    schema: { body: TransactionBody, response: { 200: FraudResponse, '4xx': ErrorResponse } }
  }, async request => score(scorerOf(options), request.body as TransactionBodyType, 'timestamp'))

  app.post('/predict/batch', {
    schema: {
      body: Type.Object({ transactions: Type.Array(BatchTransaction, { minItems: 1, maxItems: options.maxBatch }) }),
      response: { 200: Type.Object({ model_version: Type.String(), predictions: Type.Array(BatchFraudResponse) }), '4xx': ErrorResponse }
    }
  }, async request => {
    const fraud = scorerOf(options)
    const { transactions } = request.body as { transactions: BatchTransactionBody[] }
    const predictions = transactions.map((tx, i) => ({
      ...(tx.account === undefined ? score(fraud, tx, `transactions[${i}].timestamp`) : scoreWithFeatures(fraud, tx, tx.account, `transactions[${i}].account`)),
      account: tx.account === undefined ? AccountSources.EMPTY : AccountSources.REQUEST
    }))
    return { model_version: fraud.artifact.model_version, predictions }
  })
}
