import { parseEventTime } from '../events/index.ts'

/** Half-lives of the velocity counters, in seconds. */
const VELOCITY = { short: 600, medium: 3600, long: 86_400 } as const
const RISKY = new Set(['jewelry', 'gift_cards', 'crypto_exchange'])

/** What churnflow remembers of one account to score its next transaction. */
export interface AccountProfile {
  count: number
  /** Welford's running mean and M2 of log(1 + amount). */
  meanLog: number
  m2Log: number
  lastTime: number
  decayAt: number
  v10m: number
  v1h: number
  v1d: number
  countries: string[]
  categories: Record<string, number>
  /** Transactions per channel (pos, online, atm, mobile, or whatever the producer names). */
  channels: Record<string, number>
}

export function emptyAccount (): AccountProfile {
  return { count: 0, meanLog: 0, m2Log: 0, lastTime: 0, decayAt: 0, v10m: 0, v1h: 0, v1d: 0, countries: [], categories: {}, channels: {} }
}

export const fraudFeatureNames = [
  'log_amount', 'amount_z', 'amount_ratio', 'transactions_total', 'velocity_10m', 'velocity_1h', 'velocity_1d',
  'log_seconds_since_last', 'new_country', 'countries_seen', 'new_category', 'category_share', 'risky_category',
  'channel_online', 'channel_atm', 'new_channel', 'channel_share'
] as const
export const FRAUD_FEATURES = fraudFeatureNames.length

/** The transaction's view the account needs: time, amount, country, category, channel. */
export interface TransactionFacts { time: number, amount: number, country: string, category: string, channel: string }

/** A transaction's facts; fields a caller does not have are empty strings (seed 004 leaves them open). */
export function factsOf (tx: { timestamp: string, amount: number, country: string, merchant_category: string, channel: string }): TransactionFacts | undefined {
  const time = parseEventTime(tx.timestamp)
  if (time === undefined || !(tx.amount > 0)) return undefined
  return { time, amount: tx.amount, country: tx.country, category: tx.merchant_category, channel: tx.channel }
}

const decayed = (value: number, from: number, to: number, halfLifeSeconds: number): number =>
  to <= from ? value : value * Math.pow(2, -(to - from) / 1000 / halfLifeSeconds)

/** Features of a transaction against the account as it was just before it (computed before `applyTransaction`). */
export function fraudFeatures (a: AccountProfile, t: TransactionFacts, out: Float64Array, offset = 0): void {
  const logAmount = Math.log1p(t.amount)
  const sd = a.count >= 3 ? Math.sqrt(a.m2Log / (a.count - 1)) : 0
  let i = offset
  out[i++] = logAmount
  out[i++] = sd > 0.05 ? (logAmount - a.meanLog) / sd : 0
  out[i++] = a.count > 0 ? t.amount / Math.expm1(a.meanLog + 1e-9) : 1
  out[i++] = Math.log1p(a.count)
  out[i++] = decayed(a.v10m, a.decayAt, t.time, VELOCITY.short)
  out[i++] = decayed(a.v1h, a.decayAt, t.time, VELOCITY.medium)
  out[i++] = decayed(a.v1d, a.decayAt, t.time, VELOCITY.long)
  out[i++] = a.lastTime === 0 ? Math.log1p(30 * 86_400) : Math.log1p(Math.max(0, (t.time - a.lastTime) / 1000))
  out[i++] = a.count > 0 && !a.countries.includes(t.country) ? 1 : 0
  out[i++] = a.countries.length
  out[i++] = a.count > 0 && a.categories[t.category] === undefined ? 1 : 0
  out[i++] = a.count > 0 ? (a.categories[t.category] ?? 0) / a.count : 0
  out[i++] = RISKY.has(t.category) ? 1 : 0
  out[i++] = t.channel === 'online' ? 1 : 0
  out[i++] = t.channel === 'atm' ? 1 : 0
  out[i++] = a.count > 0 && a.channels[t.channel] === undefined ? 1 : 0
  out[i] = a.count > 0 ? (a.channels[t.channel] ?? 0) / a.count : 0
}

export function applyTransaction (a: AccountProfile, t: TransactionFacts): void {
  const x = Math.log1p(t.amount)
  a.count++
  const delta = x - a.meanLog
  a.meanLog += delta / a.count
  a.m2Log += delta * (x - a.meanLog)
  if (t.time >= a.decayAt) {
    a.v10m = decayed(a.v10m, a.decayAt, t.time, VELOCITY.short) + 1
    a.v1h = decayed(a.v1h, a.decayAt, t.time, VELOCITY.medium) + 1
    a.v1d = decayed(a.v1d, a.decayAt, t.time, VELOCITY.long) + 1
    a.decayAt = t.time
  } else {
    a.v10m += decayed(1, t.time, a.decayAt, VELOCITY.short)
    a.v1h += decayed(1, t.time, a.decayAt, VELOCITY.medium)
    a.v1d += decayed(1, t.time, a.decayAt, VELOCITY.long)
  }
  if (t.time > a.lastTime) a.lastTime = t.time
  if (!a.countries.includes(t.country)) a.countries.push(t.country)
  a.categories[t.category] = (a.categories[t.category] ?? 0) + 1
  a.channels[t.channel] = (a.channels[t.channel] ?? 0) + 1
}
