import { checkTransaction, parseEventTime, TransactionFormats, TransactionSchema, type Transaction } from '../../events/index.ts'
import { parseJsonObject, PoisonCodes, type Poison, type SourceRecord } from '../../processor/index.ts'
import type { TransactionFacts } from '../account.ts'
import type { TransactionRow } from '../rows.ts'

/** A valid transaction, ready for its account and the scorer. */
export interface DecodedTransaction {
  readonly record: SourceRecord
  /** The transaction as sent, with `id` renamed `transaction_id`; extra fields included. */
  readonly fields: Readonly<Record<string, unknown>>
  /** Its row of `transactions`: ids as text, codes upper case, extra fields as JSON. */
  readonly row: TransactionRow
  /** What the account state and the model read. */
  readonly facts: TransactionFacts
}

export type DecodedTransactionResult =
  | { readonly ok: true, readonly transaction: DecodedTransaction }
  | { readonly ok: false, readonly poison: Poison }

const known = new Set(Object.keys(TransactionSchema.properties))

const poison = (record: SourceRecord, code: Poison['code'], message: string): DecodedTransactionResult =>
  ({ ok: false, poison: { record, code, message } })

/** The first fault of an invalid transaction, in words that name the field and what it needs. */
function firstFault (body: unknown): string {
  const e = checkTransaction.Errors(body).First()
  if (e === undefined) return 'the transaction is invalid'
  const field = e.path.slice(1).replaceAll('/', '.')
  const shown = JSON.stringify(e.value)?.slice(0, 64) ?? 'undefined'
  if (e.value === undefined) return `${field} is missing`
  if (e.schema.format === TransactionFormats.CURRENCY) return `currency ${shown} is not an ISO 4217 currency code (such as EUR, USD)`
  if (e.schema.format === TransactionFormats.COUNTRY) return `country ${shown} is not an ISO 3166-1 alpha-2 country code (such as DE, US)`
  return `${field === '' ? 'the transaction' : field} ${shown}: ${e.message}`
}

/** `transaction_id`, or `id`, its other spelling; a record with both must give one value. */
function withTransactionId (fields: Record<string, unknown>): Record<string, unknown> | string {
  if (fields.id === undefined) return fields
  if (fields.transaction_id !== undefined) {
    return fields.transaction_id === fields.id ? fields : `transaction_id ${JSON.stringify(fields.transaction_id)} and id ${JSON.stringify(fields.id)} differ: which is the transaction's?`
  }
  const { id, ...rest } = fields
  return { transaction_id: id, ...rest }
}

function extraOf (fields: Readonly<Record<string, unknown>>): string | null {
  let extra: Record<string, unknown> | undefined
  // for-in, not Object.entries: no array of pairs made for every transaction. `fields` is JSON.parse's plain object.
  for (const k in fields) {
    if (known.has(k) || k === 'id') continue
    ;(extra ??= {})[k] = fields[k]
  }
  return extra === undefined ? null : JSON.stringify(extra)
}

function rowOf (tx: Transaction, fields: Readonly<Record<string, unknown>>, time: number): TransactionRow {
  return {
    transactionId: String(tx.transaction_id),
    accountId: String(tx.account_id),
    cardId: tx.card_id === undefined ? null : String(tx.card_id),
    amount: tx.amount,
    currency: tx.currency.toUpperCase(),
    merchantId: String(tx.merchant_id),
    merchantCategory: tx.merchant_category,
    channel: tx.channel,
    country: tx.country.toUpperCase(),
    eventTime: time,
    extra: extraOf(fields)
  }
}

/**
 * Decodes and validates one record of the transactions topic: Kafka value bytes to a valid
 * transaction, or poison with a stable code (the churn decoder's codes: empty_record,
 * invalid_json, invalid_event, invalid_timestamp) and a message naming the field. Never throws.
 */
export function decodeTransaction (record: SourceRecord): DecodedTransactionResult {
  const parsed = parseJsonObject(record)
  if (!parsed.ok) return parsed
  const fields = withTransactionId(parsed.fields)
  if (typeof fields === 'string') return poison(record, PoisonCodes.INVALID, fields)
  if (!checkTransaction.Check(fields)) return poison(record, PoisonCodes.INVALID, firstFault(fields))
  const time = parseEventTime(fields.timestamp)
  if (time === undefined) return poison(record, PoisonCodes.BAD_TIMESTAMP, `timestamp "${fields.timestamp}" is not an ISO 8601 date-time such as 2024-01-15T10:30:00Z`)
  const row = rowOf(fields, fields, time)
  return {
    ok: true,
    transaction: {
      record,
      fields,
      row,
      facts: { time, amount: row.amount, country: row.country, category: row.merchantCategory, channel: row.channel }
    }
  }
}
