import { StoppedWhileWaiting } from '../errors.ts'
import type { Logger } from '../logging/index.ts'
import { backoffDelay, type BackoffOptions } from '../util/backoff.ts'

export const DependencyStates = { UNKNOWN: 'unknown', UP: 'up', DOWN: 'down' } as const
export type DependencyState = (typeof DependencyStates)[keyof typeof DependencyStates]

export interface RetryPolicy {
  /** Retries before the circuit opens (MAX_RETRIES). */
  readonly maxRetries: number
  /** First delay, ms. */
  readonly baseDelayMs: number
  /** Multiplier between retries (RETRY_BACKOFF). */
  readonly factor: number
  /** Largest delay, and the probe interval while the circuit is open, ms. */
  readonly maxDelayMs: number
}

export const defaultRetryPolicy: RetryPolicy = { maxRetries: 3, baseDelayMs: 200, factor: 2, maxDelayMs: 5000 }

/** True when a Kafka client error (or one inside it) says retrying cannot help: a refusal, not an outage. */
export function refusedForGood (error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 8) return false
  const e = error as { canRetry?: unknown, errors?: unknown, cause?: unknown }
  if (e.canRetry === false) return true
  if (Array.isArray(e.errors) && e.errors.some(inner => refusedForGood(inner, depth + 1))) return true
  return refusedForGood(e.cause, depth + 1)
}

/**
 * Whether an error is a dependency being down (retry) rather than a bug or bad input (do not). A
 * Kafka client's aggregate of errors (PLT_KFK_MULTIPLE) with a refusal inside is not: a broker
 * that refused a record for good (too large, a timestamp out of range) refuses it again, and
 * retrying would pause the partitions for ever instead of saying so.
 */
export function isRetriable (error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const e = error as { retriable?: unknown, canRetry?: unknown, code?: unknown }
  if (e.retriable === true) return true
  if (refusedForGood(error)) return false
  if (e.canRetry === true) return true
  return typeof e.code === 'string' && /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|PLT_KFK_NETWORK|PLT_KFK_TIMEOUT|PLT_KFK_MULTIPLE)/.test(e.code)
}

/** The backoff options of a retry policy. */
const delays = (policy: RetryPolicy): BackoffOptions => ({ baseMs: policy.baseDelayMs, factor: policy.factor, maxMs: policy.maxDelayMs })

const sleep = (ms: number, signal: AbortSignal): Promise<void> => new Promise(resolve => {
  if (signal.aborted) { resolve(); return }
  const timer = setTimeout(done, ms)
  function done (): void {
    clearTimeout(timer)
    signal.removeEventListener('abort', done)
    resolve()
  }
  signal.addEventListener('abort', done, { once: true })
})

/**
 * One thing the processor depends on (Kafka, the database, Redis, the scoring API), with its
 * retries and circuit breaker. `run` retries a failing call with backoff and jitter; after
 * `maxRetries` the circuit opens: the dependency is reported down and the call is probed at the
 * longest interval until it succeeds. The processor waits inside `run` meanwhile, so it takes no
 * new records: its partitions are paused behind the breaker, and nothing is skipped.
 */
export class Dependency {
  readonly name: string
  #state: DependencyState = DependencyStates.UNKNOWN
  #lastError: string | undefined
  #since = Date.now()
  #failures = 0
  readonly #policy: RetryPolicy
  readonly #log: Logger
  readonly #onFailure: ((name: string) => void) | undefined

  constructor (name: string, policy: RetryPolicy, log: Logger, onFailure?: (name: string) => void) {
    this.name = name
    this.#policy = policy
    this.#log = log
    this.#onFailure = onFailure
  }

  get state (): DependencyState { return this.#state }
  get lastError (): string | undefined { return this.#lastError }
  /** When the state last changed, epoch ms. */
  get since (): number { return this.#since }
  get failures (): number { return this.#failures }

  #set (state: DependencyState): void {
    if (state !== this.#state) {
      this.#state = state
      this.#since = Date.now()
    }
  }

  markUp (): void {
    if (this.#state === DependencyStates.DOWN) this.#log.info({ dependency: this.name, down_s: Math.round((Date.now() - this.#since) / 1000) }, `${this.name} is back; resuming`)
    this.#set(DependencyStates.UP)
  }

  markDown (error: unknown): void {
    this.#lastError = (error as Error).message
    this.#set(DependencyStates.DOWN)
  }

  /**
   * Runs `call` until it succeeds. A non-retriable error is thrown at once. `signal` ends the
   * waiting (shutdown): the call is then abandoned with `StoppedWhileWaiting`.
   */
  async run<T> (call: () => Promise<T>, signal: AbortSignal): Promise<T> {
    let attempt = 0
    for (;;) {
      try {
        const result = await call()
        this.markUp()
        return result
      } catch (error) {
        if (!isRetriable(error)) throw error
        this.#failures++
        this.#onFailure?.(this.name)
        this.#lastError = (error as Error).message
        attempt++
        if (signal.aborted) throw new StoppedWhileWaiting(this.name)
        if (attempt <= this.#policy.maxRetries) {
          const delay = backoffDelay(attempt, delays(this.#policy))
          this.#log.warn({ dependency: this.name, attempt, of: this.#policy.maxRetries, delay_ms: delay }, `${this.name} failed (${this.#lastError}); retry ${attempt}/${this.#policy.maxRetries} in ${delay} ms`)
          await sleep(delay, signal)
        } else {
          if (this.#state !== DependencyStates.DOWN) {
            this.#set(DependencyStates.DOWN)
            this.#log.error({ dependency: this.name }, `${this.name} is down (${this.#lastError}); partitions paused until it is back, probing every ${Math.round(this.#policy.maxDelayMs / 100) / 10} s`)
          }
          await sleep(backoffDelay(1_000, delays(this.#policy)), signal)
        }
        if (signal.aborted) throw new StoppedWhileWaiting(this.name)
      }
    }
  }
}
