import { isoUtc, Streams, type Transaction } from '../events/index.ts'
import { pad } from './catalog.ts'
import { MinHeap } from '../util/heap.ts'
import { round, WeightedChoice, type Rng } from '../util/rng.ts'
import type { SimRecord } from './types.ts'

const DAY = 86_400_000

export const merchantCategories = ['grocery', 'restaurants', 'fuel', 'clothing', 'electronics', 'travel', 'pharmacy', 'entertainment', 'home', 'utilities'] as const
/** Categories fraud likes and ordinary habits rarely include. */
export const riskyCategories = ['jewelry', 'gift_cards', 'crypto_exchange', 'electronics'] as const
const countries = [['DE', 'EUR'], ['FR', 'EUR'], ['NL', 'EUR'], ['ES', 'EUR'], ['GB', 'GBP'], ['US', 'USD']] as const
const farCountries = ['BR', 'NG', 'RU', 'ID', 'VN', 'PH', 'UA', 'RO'] as const
type Channel = 'online' | 'pos' | 'atm' | 'mobile'

/** A transaction as the simulator sends it: the schema's fields, every id as text. */
export interface SimulatedTransaction extends Transaction {
  readonly transaction_id: string
  readonly account_id: string
  readonly card_id: string
  readonly merchant_id: string
  readonly channel: Channel
}

/** How a fraudulent transaction differs from the account's habit. */
export const FraudPatterns = {
  BURST: 'burst',
  AMOUNT: 'amount',
  NEW_COUNTRY: 'new_country',
  CATEGORY_JUMP: 'category_jump'
} as const
export type FraudPattern = (typeof FraudPatterns)[keyof typeof FraudPatterns]

/** The truth about one transaction, written beside the stream to measure a fraud model. */
export interface TransactionTruth {
  readonly transaction_id: string
  readonly account_id: string
  readonly is_fraud: boolean
  readonly pattern: FraudPattern | null
}

interface Account {
  readonly id: string
  readonly card: string
  readonly country: string
  readonly currency: string
  readonly amount: number
  readonly categories: WeightedChoice<string>
  readonly channels: WeightedChoice<Channel>
  readonly rate: number
}

interface Queued { time: number, account: Account, pattern: FraudPattern }

/** What `produce --stream transactions` and `up` simulate unless told otherwise. */
export const transactionDefaults = { accounts: 1000, fraudRate: 0.01 } as const

export interface TransactionOptions {
  readonly accounts: number
  /** Share of transactions that are fraudulent, 0 to 0.5. */
  readonly fraudRate: number
  readonly start: number
  readonly end: number
  /**
   * Live: once the simulated clock reaches the wall clock (`now`, given to `next`), transactions
   * happen at the wall clock and the producer's pace decides how many there are; an incident's
   * later transactions wait until their time has come. A live stream never stamps a transaction
   * later than the wall clock, which Kafka's brokers refuse (more than an hour ahead, by default).
   * Not live: every time is simulated, as fast as the caller asks.
   */
  readonly live?: boolean
}

/** Mean transactions per fraud incident of each pattern (a burst is several). */
const incidentSize: Readonly<Record<FraudPattern, number>> = { burst: 8, amount: 1, new_country: 2, category_jump: 1.5 }
const patternChoice = new WeightedChoice<FraudPattern>([['burst', 1], ['amount', 1], ['new_country', 1], ['category_jump', 1]])
const meanIncident = (incidentSize.burst + incidentSize.amount + incidentSize.new_country + incidentSize.category_jump) / 4

/**
 * Card transactions of a population of accounts, each with habits (home country, usual amount,
 * usual merchant categories and channels), with fraud injected at a known rate in four patterns:
 * bursts on one card, amounts far from the habit, a new country, a jump to an unusual category.
 */
export class TransactionStream {
  readonly #rng: Rng
  readonly #options: TransactionOptions
  readonly #accounts: Account[]
  readonly #pick: WeightedChoice<number>
  readonly #totalRate: number
  readonly #queued = new MinHeap<Queued>(q => q.time)
  #clock: number
  /** Live and caught up with the wall clock: from now on arrivals are the caller's `now`. */
  #onWallClock = false
  #merchantSerial = 0
  #lastMs = -1
  #sameMs = 0
  #lastTruth: TransactionTruth | undefined

  constructor (rng: Rng, options: TransactionOptions) {
    this.#rng = rng
    this.#options = options
    this.#accounts = Array.from({ length: options.accounts }, (_, i) => this.#account(i + 1))
    this.#pick = new WeightedChoice(this.#accounts.map((a, i) => [i, a.rate] as const))
    this.#totalRate = this.#accounts.reduce((s, a) => s + a.rate, 0)
    this.#clock = options.start
  }

  #account (n: number): Account {
    const rng = this.#rng
    const [country, currency] = rng.pick(countries)
    const usual = [...merchantCategories].sort(() => rng.next() - 0.5).slice(0, rng.int(3, 5)).filter(c => c !== 'electronics' || rng.chance(0.3))
    return {
      id: `ACC-${pad(n, 6)}`,
      card: `CARD-${pad(rng.int(0, 9999), 4)}-${pad(n, 6)}`,
      country,
      currency,
      amount: rng.lognormal(45, 0.6),
      categories: new WeightedChoice(usual.map((c, i) => [c, 1 / (i + 1)] as const)),
      channels: new WeightedChoice<Channel>([['pos', rng.uniform(1, 5)], ['online', rng.uniform(1, 4)], ['mobile', rng.uniform(0.5, 3)], ['atm', 0.3]]),
      rate: rng.lognormal(1.5, 0.6)
    }
  }

  /** The truth of the transaction `next()` returned last. */
  get lastTruth (): TransactionTruth | undefined {
    return this.#lastTruth
  }

  /** The next transaction; `now` (the wall clock, epoch ms) matters only to a live stream. */
  next (now = Date.now()): SimRecord | undefined {
    const rng = this.#rng
    const nextOrdinary = this.#nextArrival(now)
    const queued = this.#queued.peek()
    if (queued !== undefined && queued.time <= nextOrdinary) {
      this.#queued.pop()
      // The ordinary clock is memoryless: drawing it again later changes nothing. A live stream
      // may release a queued one a little late: it keeps the order, not its earlier time.
      const time = Math.max(queued.time, this.#clock)
      this.#clock = time
      return time > this.#options.end ? undefined : this.#fraud(queued.account, queued.pattern, time)
    }
    this.#clock = nextOrdinary
    if (nextOrdinary > this.#options.end) return undefined
    const account = this.#accounts[this.#pick.draw(rng)] as Account
    if (rng.chance(this.#options.fraudRate / meanIncident)) return this.#startIncident(account, nextOrdinary)
    const category = account.categories.draw(rng)
    return this.#record(account, nextOrdinary, {
      amount: Math.max(0.5, rng.lognormal(account.amount, 0.5)),
      category,
      channel: account.channels.draw(rng),
      country: account.country
    }, null)
  }

  /** When the next ordinary transaction happens: simulated, or in a live stream at most the wall clock. */
  #nextArrival (now: number): number {
    const drawn = this.#clock + this.#rng.exponential(this.#totalRate) * DAY
    if (this.#options.live !== true || (!this.#onWallClock && drawn <= now)) return drawn
    this.#onWallClock = true
    // Never before the last one: times stay in order even if the wall clock steps back.
    return Math.max(this.#clock, now)
  }

  #startIncident (account: Account, time: number): SimRecord {
    const rng = this.#rng
    const pattern = patternChoice.draw(rng)
    const extra = pattern === 'burst' ? rng.int(5, 11) : pattern === 'new_country' ? rng.int(0, 2) : pattern === 'category_jump' ? rng.int(0, 1) : 0
    let t = time
    for (let i = 0; i < extra; i++) {
      t += rng.int(10, 90) * 1000
      this.#queued.push({ time: t, account, pattern })
    }
    return this.#fraud(account, pattern, time)
  }

  #fraud (account: Account, pattern: FraudPattern, time: number): SimRecord {
    const rng = this.#rng
    switch (pattern) {
      case 'burst':
        return this.#record(account, time, { amount: rng.uniform(20, 400), category: rng.pick([...merchantCategories, ...riskyCategories]), channel: 'online', country: account.country }, pattern)
      case 'amount':
        return this.#record(account, time, { amount: account.amount * rng.uniform(8, 30), category: account.categories.draw(rng), channel: rng.pick(['online', 'pos'] as const), country: account.country }, pattern)
      case 'new_country':
        return this.#record(account, time, { amount: rng.lognormal(account.amount * 2, 0.6), category: rng.pick(merchantCategories), channel: rng.pick(['pos', 'atm'] as const), country: rng.pick(farCountries) }, pattern)
      case 'category_jump':
        return this.#record(account, time, { amount: rng.lognormal(Math.max(150, account.amount * 4), 0.5), category: rng.pick(riskyCategories), channel: 'online', country: account.country }, pattern)
    }
  }

  #record (account: Account, time: number, t: { amount: number, category: string, channel: Channel, country: string }, pattern: FraudPattern | null): SimRecord {
    const rng = this.#rng
    const ms = Math.floor(time)
    // Transactions of one millisecond (a live stream at full pace stamps thousands so) get a serial: ids stay unique.
    this.#sameMs = ms === this.#lastMs ? this.#sameMs + 1 : 0
    this.#lastMs = ms
    const id = `TX-${ms.toString(36)}-${pad(rng.int(0, 999_999), 6)}${this.#sameMs === 0 ? '' : `-${this.#sameMs}`}`
    const merchant = `MER-${t.category.slice(0, 3).toUpperCase()}-${pad(pattern === null ? rng.int(1, 400) : 5000 + (this.#merchantSerial++ % 5000), 4)}`
    const value: SimulatedTransaction = {
      transaction_id: id,
      account_id: account.id,
      card_id: account.card,
      amount: round(t.amount, 2),
      currency: account.currency,
      merchant_id: merchant,
      merchant_category: t.category,
      channel: t.channel,
      country: t.country,
      timestamp: isoUtc(ms)
    }
    this.#lastTruth = { transaction_id: id, account_id: account.id, is_fraud: pattern !== null, pattern }
    return { stream: Streams.TRANSACTIONS, key: account.id, value, time: ms }
  }
}
