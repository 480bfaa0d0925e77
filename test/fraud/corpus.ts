/** A valid transaction as another producer might send it: the fields the fraud pipeline needs. */
export const validTransaction = {
  transaction_id: 'T-1',
  account_id: 'A-1',
  amount: 42.5,
  currency: 'EUR',
  merchant_id: 'M-1',
  merchant_category: 'grocery',
  channel: 'pos',
  country: 'DE',
  timestamp: '2024-01-15T10:30:00Z'
} as const

const tx = (changes: Record<string, unknown>, drop: readonly string[] = []): string => {
  const body: Record<string, unknown> = { ...validTransaction, ...changes }
  for (const d of drop) Reflect.deleteProperty(body, d)
  return JSON.stringify(body)
}

/**
 * Malformed transactions of every kind the fraud pipeline must dead-letter to
 * `transactions-failed`, with the code each gets and words its message must hold.
 */
export const transactionPoisonCorpus: readonly { readonly name: string, readonly value: string, readonly code: string, readonly message: RegExp }[] = [
  { name: 'empty value', value: '', code: 'empty_record', message: /no value/ },
  { name: 'not JSON', value: 'amount=12&currency=EUR', code: 'invalid_json', message: /not JSON/ },
  { name: 'cut short', value: tx({}).slice(0, -8), code: 'invalid_json', message: /not JSON/ },
  { name: 'an array', value: `[${tx({})}]`, code: 'invalid_event', message: /not a JSON object/ },
  { name: 'a bare string', value: '"T-1"', code: 'invalid_event', message: /not a JSON object/ },
  { name: 'no id at all', value: tx({}, ['transaction_id']), code: 'invalid_event', message: /transaction_id is missing/ },
  { name: 'id and transaction_id differ', value: tx({ id: 'T-2' }), code: 'invalid_event', message: /differ/ },
  { name: 'empty transaction_id', value: tx({ transaction_id: '' }), code: 'invalid_event', message: /transaction_id/ },
  { name: 'no account', value: tx({}, ['account_id']), code: 'invalid_event', message: /account_id is missing/ },
  { name: 'account as an object', value: tx({ account_id: { id: 1 } }), code: 'invalid_event', message: /account_id/ },
  { name: 'negative account number', value: tx({ account_id: -4 }), code: 'invalid_event', message: /account_id/ },
  { name: 'no amount', value: tx({}, ['amount']), code: 'invalid_event', message: /amount is missing/ },
  { name: 'zero amount', value: tx({ amount: 0 }), code: 'invalid_event', message: /amount/ },
  { name: 'negative amount', value: tx({ amount: -12.5 }), code: 'invalid_event', message: /amount/ },
  { name: 'amount as text', value: tx({ amount: '12.50' }), code: 'invalid_event', message: /amount/ },
  { name: 'amount too large to be finite in JSON', value: tx({}).replace('42.5', '1e400'), code: 'invalid_event', message: /amount/ },
  { name: 'amount null', value: tx({ amount: null }), code: 'invalid_event', message: /amount/ },
  { name: 'currency that is no ISO 4217 code', value: tx({ currency: 'ABC' }), code: 'invalid_event', message: /ISO 4217/ },
  { name: 'currency as a symbol', value: tx({ currency: '€' }), code: 'invalid_event', message: /ISO 4217/ },
  { name: 'currency spelled out', value: tx({ currency: 'euro' }), code: 'invalid_event', message: /ISO 4217/ },
  { name: 'a testing currency code', value: tx({ currency: 'XTS' }), code: 'invalid_event', message: /ISO 4217/ },
  { name: 'no currency', value: tx({}, ['currency']), code: 'invalid_event', message: /currency is missing/ },
  { name: 'country that is no ISO 3166 code', value: tx({ country: 'XX' }), code: 'invalid_event', message: /ISO 3166-1 alpha-2/ },
  { name: 'country in alpha-3', value: tx({ country: 'DEU' }), code: 'invalid_event', message: /ISO 3166-1 alpha-2/ },
  { name: 'a retired country code', value: tx({ country: 'YU' }), code: 'invalid_event', message: /ISO 3166-1 alpha-2/ },
  { name: 'country as a number', value: tx({ country: 276 }), code: 'invalid_event', message: /country/ },
  { name: 'no merchant', value: tx({}, ['merchant_id']), code: 'invalid_event', message: /merchant_id is missing/ },
  { name: 'empty merchant category', value: tx({ merchant_category: '' }), code: 'invalid_event', message: /merchant_category/ },
  { name: 'no channel', value: tx({}, ['channel']), code: 'invalid_event', message: /channel is missing/ },
  { name: 'channel as a boolean', value: tx({ channel: true }), code: 'invalid_event', message: /channel/ },
  { name: 'no timestamp', value: tx({}, ['timestamp']), code: 'invalid_event', message: /timestamp is missing/ },
  { name: 'timestamp as epoch number', value: tx({ timestamp: 1705314600 }), code: 'invalid_event', message: /timestamp/ },
  { name: 'timestamp that is no date', value: tx({ timestamp: 'yesterday at noon, UTC' }), code: 'invalid_timestamp', message: /ISO 8601/ },
  { name: 'timestamp on a day that does not exist', value: tx({ timestamp: '2024-02-30T10:30:00Z' }), code: 'invalid_timestamp', message: /ISO 8601/ },
  { name: 'card id as an object', value: tx({ card_id: { last4: '1234' } }), code: 'invalid_event', message: /card_id/ }
]
