import { createHash } from 'node:crypto'
import { createClient, ErrorReply, RESP_TYPES } from 'redis'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import { profileFields, profileFromRow, type CustomerProfile } from '../profile.ts'
import { asciiBulk, bulk, RespBuffer, RespConnection, RespError, RespTimeout, type RespReply } from './resp.ts'
import type { CurrentRisk, ProfileRecord, ProfileStore, SilenceState } from './types.ts'

export interface RedisProfileStoreOptions {
  readonly host: string
  readonly port: number
  readonly password?: string
  /** Prefix of the profile keys; one hash per customer at `<prefix><customer id>`. */
  readonly prefix?: string
  /** The sorted set of customers by current score (default `churnflow:at-risk`, or `churnflow:at-risk:<prefix>` beside another prefix). */
  readonly rankKey?: string
  /** How long a command may wait for Redis before it fails, in ms. */
  readonly timeoutMs?: number
}

/** Hash fields next to the profile's own: the processor's bookkeeping, which `get()` leaves out. */
const OFFSET_PREFIX = 'o:'
const ALERT_HIGH = 'alert_high'
const ALERT_AT = 'alert_at'
const VERSION = 'v'
/** The current risk and the silence state, as JSON, beside the profile ("fast access to customer profiles and predictions"). */
const RISK = 'risk'
const SILENCE = 'silence'

/**
 * Compare-and-set of one customer's hash: ARGV[1] is the version the writer read (a missing `v`
 * is 0), the rest field/value pairs that replace the whole hash, `v` among them. One key per call,
 * so it runs on a Redis Cluster as well. DEL first so the hash holds exactly what was written
 * (zero fields are left out, and an offset key the writer dropped must not linger).
 */
const CAS_SCRIPT = `local stored = tonumber(redis.call('HGET', KEYS[1], '${VERSION}') or '0')
if stored ~= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1`
const CAS_SHA = createHash('sha1').update(CAS_SCRIPT).digest('hex')

/** Server replies that mean "not now" rather than "wrong": worth retrying like a lost connection. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY)\b/

/** `String(n)` reads back exactly through `Number()` for every double but -0. */
const encode = (n: number): string => Object.is(n, -0) ? '-0' : String(n)

/** Counts the arguments the compiled writers below add. */
const written = { args: 0 }

/**
 * The profile's non-zero fields as RESP field/value arguments of the CAS script, with their count
 * added to `written.args`: compiled from the field list into named accesses, since a keyed loop
 * boxed every fractional field it read (as in the memory store). A field read back as missing is 0
 * (emptyProfile), so zeros (but not -0) need not travel or be stored.
 */
const profileArguments = new Function('p', 'encode', 'written', 'let v, s = ""\n' + profileFields.map(f =>
  `v = p.${f}; if (v !== 0 || 1 / v < 0) { v = encode(v); s += ${JSON.stringify(asciiBulk(f))} + "$" + v.length + "\\r\\n" + v + "\\r\\n"; written.args += 2 }`).join('\n') + '\nreturn s') as
  (profile: CustomerProfile, encoder: typeof encode, count: typeof written) => string

/**
 * The CAS script call for one record, as RESP: the version it read, then the hash it writes
 * (non-zero profile fields, offsets, alert, version + 1). Everything but the key and the offsets'
 * topic names is ASCII by construction (field names, numbers), so only those are measured in bytes.
 */
function casCommand (head: string, key: string, record: ProfileRecord): string {
  written.args = 0
  let body = asciiBulk(String(record.version)) + profileArguments(record.profile, encode, written)
  for (const k in record.offsets) {
    body += bulk(OFFSET_PREFIX + k) + asciiBulk(encode(record.offsets[k] as number))
    written.args += 2
  }
  if (record.risk !== undefined) {
    body += RISK_ARG + bulk(JSON.stringify(record.risk))
    written.args += 2
  }
  if (record.silence !== undefined) {
    body += SILENCE_ARG + bulk(JSON.stringify(record.silence))
    written.args += 2
  }
  body += `${ALERT_HIGH_ARG}${record.alert.high ? ONE : ZERO}${ALERT_AT_ARG}${asciiBulk(encode(record.alert.lastAt))}${VERSION_ARG}${asciiBulk(String(record.version + 1))}`
  // EVAL(SHA), the script, numkeys and the key; the version read; the hash; alert_high, alert_at and v with their values.
  return `*${4 + 1 + written.args + 6}\r\n${head}${bulk(key)}${body}`
}
const ALERT_HIGH_ARG = asciiBulk(ALERT_HIGH)
const ALERT_AT_ARG = asciiBulk(ALERT_AT)
const VERSION_ARG = asciiBulk(VERSION)
const RISK_ARG = asciiBulk(RISK)
const SILENCE_ARG = asciiBulk(SILENCE)
const ONE = asciiBulk('1')
const ZERO = asciiBulk('0')
const ZADD = asciiBulk('ZADD')
const HGETALL_HEAD = `*2\r\n${asciiBulk('HGETALL')}`
const EVALSHA_HEAD = `${asciiBulk('EVALSHA')}${asciiBulk(CAS_SHA)}${asciiBulk('1')}`
const EVAL_HEAD = `${asciiBulk('EVAL')}${bulk(CAS_SCRIPT)}${asciiBulk('1')}`

const fieldIndex = new Map<string, number>(profileFields.map((f, i) => [f, i]))
/** recordOf's row of field values, reused: filled, read into a profile, cleared. */
const scratch = new Float64Array(profileFields.length)

/**
 * A hash as HGETALL's flat reply (field, value, field, value, …) into a record, in one pass: the
 * processor reads thousands per batch. The values go through a row of numbers into a profile
 * built at once, rather than stored field by field under computed names.
 */
function recordOf (tuples: readonly string[]): ProfileRecord {
  const offsets: Record<string, number> = {}
  let high = false
  let lastAt = 0
  let version = 0
  let risk: CurrentRisk | undefined
  let silence: SilenceState | undefined
  for (let i = 0; i + 1 < tuples.length; i += 2) {
    const field = tuples[i] as string
    const value = tuples[i + 1] as string
    const index = fieldIndex.get(field)
    if (index !== undefined) scratch[index] = Number(value)
    else if (field.startsWith(OFFSET_PREFIX)) offsets[field.slice(OFFSET_PREFIX.length)] = Number(value)
    else if (field === ALERT_HIGH) high = value === '1'
    else if (field === ALERT_AT) lastAt = Number(value)
    else if (field === VERSION) version = Number(value)
    else if (field === RISK) risk = JSON.parse(value) as CurrentRisk
    else if (field === SILENCE) silence = JSON.parse(value) as SilenceState
  }
  const profile = profileFromRow(scratch, 0)
  scratch.fill(0)
  return { profile, offsets, alert: { high, lastAt }, version, ...(risk === undefined ? {} : { risk }), ...(silence === undefined ? {} : { silence }) }
}

/**
 * Customer profiles in Redis, one hash per customer whose fields are the profile's fields, plus
 * the processor's bookkeeping in the same hash: `o:<topic>:<partition>` (last applied offset),
 * `alert_high`, `alert_at` and `v` (the write count). The scoring API reads it with `get()`; the
 * processor reads and writes whole batches with `getMany()`/`putMany()`, so both see one layout.
 */
export class RedisProfileStore implements ProfileStore {
  readonly kind = 'redis' as const
  readonly name: string
  /** A resolved write is in Redis: the processor may commit its offsets at once. */
  readonly durableOnWrite = true
  readonly #client: ReturnType<typeof createClient>
  /** The same connection, answering maps (HGETALL) as flat arrays. */
  readonly #tuples: ReturnType<ReturnType<typeof createClient>['withTypeMapping']>
  readonly #prefix: string
  readonly #rankKey: string
  readonly #timeoutMs: number
  #connecting: Promise<unknown> | undefined
  #lastError: Error | undefined
  /** A connection of its own for the batch reads and writes: each batch one write, one read. */
  readonly #batches: RespConnection
  #batchesConnecting: Promise<void> | undefined
  #closed = false

  constructor (options: RedisProfileStoreOptions) {
    this.name = `redis ${options.host}:${options.port}`
    this.#prefix = options.prefix ?? 'churnflow:profile:'
    // Never under the prefix, where it could be a customer's hash.
    this.#rankKey = options.rankKey ?? (this.#prefix === 'churnflow:profile:' ? 'churnflow:at-risk' : `churnflow:at-risk:${this.#prefix}`)
    this.#timeoutMs = options.timeoutMs ?? 2000
    this.#client = createClient({
      socket: {
        host: options.host,
        port: options.port,
        connectTimeout: this.#timeoutMs,
        // Keep trying in the background with a bounded backoff; commands fail fast meanwhile.
        reconnectStrategy: retries => Math.min(2000, 50 * 2 ** Math.min(retries, 6))
      },
      ...(options.password === undefined ? {} : { password: options.password }),
      // No per-command timeout: #run gives each call one deadline. A batch is thousands of
      // commands, and a timeout on each (an AbortSignal and a timer apiece) held a 300,000-event
      // drain to 17,800 events/s; with one deadline per call it ran at 21,800.
      disableOfflineQueue: true
    })
    // Errors surface on the commands that fail; the client's own error events would otherwise
    // crash. The last one says why a connection is not coming up (refused, a wrong password).
    this.#client.on('error', (error: Error) => { this.#lastError = error })
    this.#client.on('ready', () => { this.#lastError = undefined })
    this.#tuples = this.#client.withTypeMapping({ [RESP_TYPES.MAP]: Array })
    this.#batches = new RespConnection({ host: options.host, port: options.port, ...(options.password === undefined ? {} : { password: options.password }) })
  }

  #assertOpen (): void {
    if (this.#closed) throw new ChurnflowError(ErrorCodes.PROFILE_STORE_UNAVAILABLE, `${this.name}: the store is closed`)
  }

  /**
   * Sends a pipeline on the batch connection (opened first if need be) and gives back its replies,
   * all within the store's timeout, with the same errors as `#run`: a connection that is refused
   * or lost, no answer in time, or a "not now" reply is a retriable PROFILE_STORE_UNAVAILABLE;
   * another error reply is thrown as it is. A pipeline past its deadline is left to Redis (its
   * writes are compare-and-set); the connection reads and drops its late replies.
   */
  async #pipeline (payload: Buffer, replies: number): Promise<RespReply[]> {
    this.#assertOpen()
    const started = performance.now()
    try {
      if (!this.#batches.connected) {
        this.#batchesConnecting ??= this.#batches.connect(this.#timeoutMs).finally(() => { this.#batchesConnecting = undefined })
        await this.#batchesConnecting
      }
      const left = Math.max(1, this.#timeoutMs - (performance.now() - started))
      const out = await this.#batches.request(payload, replies, left)
      for (const r of out) {
        if (r instanceof RespError) {
          if (TRANSIENT_REPLY.test(r.message)) throw this.#unavailable(`failed: ${r.message}`, r)
          if (!r.message.startsWith('NOSCRIPT')) throw r
        }
      }
      return out
    } catch (error) {
      if (error instanceof ChurnflowError || (error instanceof RespError && !TRANSIENT_REPLY.test(error.message))) throw error
      if (error instanceof RespTimeout) throw this.#unavailable(`did not answer within ${this.#timeoutMs} ms`, error)
      throw this.#unavailable(this.#batches.connected ? `failed: ${(error as Error).message}` : `is not reachable (${(error as Error).message})`, error)
    }
  }

  /**
   * Connects if need be, but waits at most the timeout: the client keeps reconnecting in the
   * background, and a caller learns now that Redis is not there rather than waiting for it.
   */
  async #ready (): Promise<void> {
    this.#assertOpen()
    if (this.#client.isReady) return
    this.#connecting ??= this.#client.connect().catch(() => undefined).finally(() => { this.#connecting = undefined })
    const unreachable = (): ChurnflowError => this.#unavailable(`is not reachable${this.#lastError === undefined ? '' : `: ${this.#lastError.message}`}`, this.#lastError)
    try {
      await this.#within(this.#connecting)
    } catch (error) {
      // A timeout says only that no answer came; the client's last error says why.
      throw this.#lastError === undefined ? error : unreachable()
    }
    if (!this.#client.isReady) throw unreachable()
  }

  /** `pending`, or a retriable PROFILE_STORE_UNAVAILABLE once the store's timeout has passed (`pending` then goes on unobserved). */
  async #within<T> (pending: Promise<T>): Promise<T> {
    pending.catch(() => undefined)
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(this.#unavailable(`did not answer within ${this.#timeoutMs} ms`)) }, this.#timeoutMs)
    })
    try {
      return await Promise.race([pending, deadline])
    } finally {
      clearTimeout(timer)
    }
  }

  #unavailable (what: string, cause?: unknown): ChurnflowError {
    return new ChurnflowError(ErrorCodes.PROFILE_STORE_UNAVAILABLE, `${this.name} ${what}`, { retriable: true, ...(cause === undefined ? {} : { cause }) })
  }

  /**
   * Runs `call` once Redis is ready, within the store's timeout. A lost connection, a timeout or
   * a "not now" reply becomes a retriable PROFILE_STORE_UNAVAILABLE; any other reply error (a bug,
   * a wrong type) passes as is. A call past its deadline is left to finish in the background; its
   * writes are compare-and-set, so a later retry of the same batch is refused or finds them done.
   */
  async #run<T> (call: () => Promise<T>): Promise<T> {
    await this.#ready()
    try {
      return await this.#within(call())
    } catch (error) {
      if (error instanceof ChurnflowError) throw error
      if (error instanceof ErrorReply && !TRANSIENT_REPLY.test(error.message)) throw error
      throw this.#unavailable(`failed: ${(error as Error).message}`, error)
    }
  }

  key (customerId: string): string {
    return `${this.#prefix}${customerId}`
  }

  /** The customer's profile alone (the bookkeeping fields left out), or undefined when there is none. */
  async get (customerId: string): Promise<CustomerProfile | undefined> {
    const tuples = await this.#run(() => this.#tuples.hGetAll(this.key(customerId)) as unknown as Promise<string[]>)
    return tuples.length === 0 ? undefined : recordOf(tuples).profile
  }

  /** Writes a profile outside the processor's versioning (tests, seeding); the bookkeeping fields stay. */
  async put (customerId: string, profile: CustomerProfile): Promise<void> {
    await this.#run(() => this.#client.hSet(this.key(customerId), Object.fromEntries(profileFields.map(f => [f, encode(profile[f])]))))
  }

  async delete (customerId: string): Promise<void> {
    await this.#run(() => this.#client.del(this.key(customerId)))
  }

  /** One HGETALL per customer, the whole batch as one pipeline (one write, one round trip). */
  async getMany (ids: readonly string[]): Promise<Map<string, ProfileRecord>> {
    const records = new Map<string, ProfileRecord>()
    if (ids.length === 0) return records
    const payload = new RespBuffer(ids.length * 64)
    for (const id of ids) payload.add(HGETALL_HEAD + bulk(this.key(id)))
    const hashes = await this.#pipeline(payload.bytes, ids.length)
    for (let i = 0; i < ids.length; i++) {
      const hash = hashes[i]
      if (!Array.isArray(hash)) throw new Error(`${this.name}: HGETALL ${this.key(ids[i] as string)} answered ${String(hash)}, not a hash`)
      if (hash.length > 0) records.set(ids[i] as string, recordOf(hash as string[]))
    }
    return records
  }

  /**
   * One compare-and-set script call per customer, the whole batch as one pipeline. EVALSHA first;
   * a Redis that has not cached the script (restarted, SCRIPT FLUSH) answers NOSCRIPT without
   * running anything, and those customers are sent again with EVAL, which caches it for the next batch.
   */
  async putMany (records: ReadonlyMap<string, ProfileRecord>): Promise<string[]> {
    const entries = [...records]
    if (entries.length === 0) return []
    const payload = new RespBuffer(entries.length * 1024)
    for (const [id, record] of entries) payload.add(casCommand(EVALSHA_HEAD, this.key(id), record))
    const results = await this.#pipeline(payload.bytes, entries.length)
    const uncached: number[] = []
    results.forEach((r, i) => { if (r instanceof RespError) uncached.push(i) })
    if (uncached.length > 0) {
      const again = new RespBuffer(uncached.length * 1024)
      for (const i of uncached) {
        const [id, record] = entries[i] as [string, ProfileRecord]
        again.add(casCommand(EVAL_HEAD, this.key(id), record))
      }
      const retried = await this.#pipeline(again.bytes, uncached.length)
      uncached.forEach((index, j) => { results[index] = retried[j] as RespReply })
    }
    const conflicts: string[] = []
    const ranked = new RespBuffer(entries.length * 64)
    let ranks = 0
    entries.forEach(([id, record], i) => {
      if (results[i] !== 1) conflicts.push(id)
      else if (record.risk !== undefined) {
        ranked.add(`*4\r\n${ZADD}${bulk(this.#rankKey)}${asciiBulk(encode(record.risk.score))}${bulk(id)}`)
        ranks++
      }
    })
    // The ranking follows the hashes: a write lost between the two is redone by the next score of the customer.
    if (ranks > 0) await this.#pipeline(ranked.bytes, ranks)
    return conflicts
  }

  async topRisk (limit: number, range?: { from: number, to: number }): Promise<{ id: string, score: number }[]> {
    const max = range === undefined || range.to === Number.POSITIVE_INFINITY ? '+inf' : `(${range.to}`
    const min = range === undefined ? '-inf' : String(range.from)
    const reply = await this.#run(() => this.#client.sendCommand(['ZRANGE', this.#rankKey, max, min, 'BYSCORE', 'REV', 'LIMIT', '0', String(limit), 'WITHSCORES'])) as string[]
    const out: { id: string, score: number }[] = []
    for (let i = 0; i + 1 < reply.length; i += 2) out.push({ id: String(reply[i]), score: Number(reply[i + 1]) })
    return out
  }

  /** Every resolved putMany is already in Redis. */
  async flush (): Promise<void> {}

  async ping (): Promise<void> {
    await this.#run(() => this.#client.ping())
  }

  /** Deletes every profile under this store's prefix (SCAN, then DEL in batches), each step within the timeout. */
  async clear (): Promise<number> {
    let deleted = 0
    let cursor = '0'
    do {
      const page = await this.#run(() => this.#client.scan(cursor, { MATCH: `${this.#prefix}*`, COUNT: 500 }))
      cursor = page.cursor
      if (page.keys.length > 0) deleted += await this.#run(() => this.#client.del(page.keys))
    } while (cursor !== '0')
    await this.#run(() => this.#client.del(this.#rankKey))
    return deleted
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#batches.close()
    // A client still trying to connect has nothing to flush: stop its reconnecting at once.
    if (this.#client.isReady) await this.#client.close()
    else if (this.#client.isOpen) this.#client.destroy()
  }

  /** Closes the store as `close()` does, for `await using` and an `AsyncDisposableStack`. */
  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }
}
