import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import { emptyAccount, type AccountProfile } from '../account.ts'

/**
 * One account's state in the fraud pipeline: its profile, and the last offset it applied from
 * each source partition (`<topic>:<partition>`), so a transaction replayed after a crash or a
 * rebalance is applied once only (as the churn profile record does).
 */
export interface AccountRecord {
  readonly profile: AccountProfile
  readonly offsets: Readonly<Record<string, number>>
  /**
   * The ids of the last `RECENT_TRANSACTION_IDS` transactions applied, newest last: a transaction
   * sent twice (an upstream producer's retry, at another offset) is applied once, as its table
   * keeps one row per transaction id.
   */
  readonly recent: readonly string[]
}

/** How many transaction ids an account remembers to catch a transaction sent twice. */
export const RECENT_TRANSACTION_IDS = 8

/** An account a batch is changing: its own copies. */
export interface WorkingAccount {
  readonly profile: AccountProfile
  readonly offsets: Record<string, number>
  readonly recent: string[]
}

export function emptyAccountRecord (): AccountRecord {
  return { profile: emptyAccount(), offsets: {}, recent: [] }
}

/** The first byte of an encoded account: the layout below. A new layout takes a new number. */
export const ACCOUNT_FORMAT_VERSION = 1

/** The layout of version 1: one JSON array, no field names, so a changelog record stays small. */
type AccountV1 = [
  count: number, meanLog: number, m2Log: number, lastTime: number, decayAt: number,
  v10m: number, v1h: number, v1d: number, countries: string[], categories: Record<string, number>,
  channels: Record<string, number>, offsets: Record<string, number>, recent: string[]
]

/**
 * The account as a compacted changelog record's value: a version byte, then JSON. Numbers go
 * through JSON's shortest round-trip form, so a restored account scores exactly as the original.
 */
export function encodeAccount (record: AccountRecord): Buffer {
  const p = record.profile
  const v1: AccountV1 = [p.count, p.meanLog, p.m2Log, p.lastTime, p.decayAt, p.v10m, p.v1h, p.v1d, p.countries, p.categories, p.channels, record.offsets, [...record.recent]]
  const json = JSON.stringify(v1)
  const out = Buffer.allocUnsafe(1 + Buffer.byteLength(json))
  out[0] = ACCOUNT_FORMAT_VERSION
  out.write(json, 1)
  return out
}

const invalid = (why: string, cause?: unknown): ChurnflowError =>
  new ChurnflowError(ErrorCodes.ACCOUNT_STATE_INVALID, `an account state record is invalid: ${why}`, { cause })

const isNumberArray = (a: readonly unknown[], from: number, to: number): boolean => a.slice(from, to).every(v => typeof v === 'number' && Number.isFinite(v))
const isTextArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(c => typeof c === 'string')
const isCountMap = (v: unknown): v is Record<string, number> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(n => typeof n === 'number' && Number.isFinite(n))

/** Reads what `encodeAccount` wrote; throws `CHURNFLOW_ACCOUNT_STATE_INVALID` on anything else. */
export function decodeAccount (bytes: Buffer): AccountRecord {
  if (bytes.length < 2) throw invalid(`${bytes.length} bytes`)
  if (bytes[0] !== ACCOUNT_FORMAT_VERSION) throw invalid(`format version ${bytes[0]}, expected ${ACCOUNT_FORMAT_VERSION}: written by another churnflow`)
  let v: unknown
  try {
    v = JSON.parse(bytes.toString('utf8', 1))
  } catch (error) {
    throw invalid('not JSON after the version byte', error)
  }
  if (!Array.isArray(v) || v.length !== 13 || !isNumberArray(v, 0, 8) || !isTextArray(v[8]) || !isCountMap(v[9]) || !isCountMap(v[10]) ||
    !isCountMap(v[11]) || !isTextArray(v[12])) {
    throw invalid('not the version 1 layout')
  }
  const [count, meanLog, m2Log, lastTime, decayAt, v10m, v1h, v1d, countries, categories, channels, offsets, recent] = v as AccountV1
  return { profile: { count, meanLog, m2Log, lastTime, decayAt, v10m, v1h, v1d, countries, categories, channels }, offsets, recent }
}

/** A copy the batch may change while the original is still being written. */
export function copyAccount (record: AccountRecord): WorkingAccount {
  const p = record.profile
  return {
    profile: { ...p, countries: [...p.countries], categories: { ...p.categories }, channels: { ...p.channels } },
    offsets: { ...record.offsets },
    recent: [...record.recent]
  }
}

export const ApplyOutcomes = {
  /** New: applied to the account. */
  APPLIED: 'applied',
  /** At or below the offset the account applied last from its partition: a replay. */
  REPLAYED: 'replayed',
  /** A transaction id the account applied lately, at another offset: sent twice. */
  REPEATED: 'repeated'
} as const
export type ApplyOutcome = (typeof ApplyOutcomes)[keyof typeof ApplyOutcomes]

/**
 * Whether a transaction is new to its account; marks it seen (its offset, its id) when it is,
 * and moves the offset past a repeat. The caller then applies it to the profile, after taking
 * its features against the profile as it was.
 */
export function admitTransaction (account: WorkingAccount, partitionKey: string, offset: number, transactionId: string): ApplyOutcome {
  const last = account.offsets[partitionKey]
  if (last !== undefined && offset <= last) return ApplyOutcomes.REPLAYED
  account.offsets[partitionKey] = offset
  if (account.recent.includes(transactionId)) return ApplyOutcomes.REPEATED
  account.recent.push(transactionId)
  if (account.recent.length > RECENT_TRANSACTION_IDS) account.recent.shift()
  return ApplyOutcomes.APPLIED
}
