import type { ChurnScore, ChurnScorer } from '../churn/index.ts'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import type { Logger } from '../logging/index.ts'
import type { CustomerProfile } from '../profile/index.ts'
import { Streams } from '../events/index.ts'
import type { DecodedEvent } from './decode.ts'

/** Scores with the model in this process: synchronous, on the profile with the event applied. */
export interface LocalScorer {
  readonly kind: 'model'
  readonly name: string
  readonly current: ChurnScorer
}

/** One event for a remote scorer, with the customer's profile before it. */
export interface RemoteRequest {
  readonly event: DecodedEvent
  readonly profile: CustomerProfile
}

/** A remote answer: a score, or the API's refusal of this event (a 4xx that names it). */
export type RemoteResult = { readonly ok: true, readonly score: ChurnScore } | { readonly ok: false, readonly status: number, readonly message: string }

/** Scores through the scoring API (seed 000's Flask API contract), a batch per call. */
export interface RemoteScorer {
  readonly kind: 'http'
  readonly name: string
  scoreMany (requests: readonly RemoteRequest[], signal: AbortSignal): Promise<RemoteResult[]>
  ping (signal?: AbortSignal): Promise<void>
}

export type Scorer = LocalScorer | RemoteScorer

export interface HttpScorerOptions {
  readonly baseUrl: string
  readonly timeoutMs: number
  readonly apiKey?: string
  /** Single-route calls in flight at once, when the server has no batch route. */
  readonly concurrency?: number
  /** Most events in one batch call (churnflow api accepts 1,000). */
  readonly maxBatch?: number
  readonly log?: Logger
}

/** Why a fetch failed, in a word when there is one (ECONNREFUSED), from undici's nested causes. */
export function whyFetchFailed (error: unknown): string {
  const e = error as Error & { cause?: { code?: string, message?: string, errors?: { code?: string }[] } }
  return e.cause?.code ?? e.cause?.errors?.[0]?.code ?? e.cause?.message ?? e.message
}

/** The scoring API is away or answered nonsense: a retriable error, so the caller's `Dependency` waits it out. */
export const scoringUnavailable = (url: string, message: string, cause?: unknown): ChurnflowError =>
  new ChurnflowError(ErrorCodes.SCORING_API_UNAVAILABLE, `scoring API ${url}: ${message}`, { retriable: true, cause })

/**
 * POSTs JSON to the scoring API at `base` and reads the answer. The API being away (no
 * connection, no answer within `timeoutMs`, 5xx, 429, 401/403) is a retriable ChurnflowError; any
 * other status comes back with its body (JSON when it parses, else the text).
 */
export async function postToScoringApi (base: string, path: string, body: unknown, options: { readonly headers: Record<string, string>, readonly timeoutMs: number, readonly signal: AbortSignal }): Promise<{ status: number, json: unknown }> {
  let response: Response
  try {
    response = await fetch(`${base}${path}`, { method: 'POST', headers: options.headers, body: JSON.stringify(body), signal: AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]) })
  } catch (error) {
    const why = (error as Error).name === 'TimeoutError' ? `no answer within ${options.timeoutMs} ms` : whyFetchFailed(error)
    throw scoringUnavailable(base, why, error)
  }
  let json: unknown
  const text = await response.text().catch(() => '')
  try {
    json = text === '' ? undefined : JSON.parse(text)
  } catch {
    json = text
  }
  if (response.status >= 500 || response.status === 429 || response.status === 401 || response.status === 403) {
    throw scoringUnavailable(base, `HTTP ${response.status} ${text.slice(0, 200)}`)
  }
  return { status: response.status, json }
}

function bodyOf (r: RemoteRequest): Record<string, unknown> {
  const e = r.event
  const id = e.stream === Streams.USER_EVENTS ? { user_id: e.rawId } : { customer_id: e.customerId }
  const details = e.stream === Streams.USER_EVENTS ? { metadata: e.details } : { data: e.details ?? {} }
  return { ...id, event_type: e.eventType, timestamp: e.timestamp, ...details, profile: r.profile }
}

function scoreOf (value: unknown, url: string): ChurnScore {
  const v = value as Partial<ChurnScore> | null
  if (v === null || typeof v !== 'object' || typeof v.churn_score !== 'number' || !(v.churn_score >= 0 && v.churn_score <= 1)) {
    throw scoringUnavailable(url, `answered without a churn_score in [0, 1]: ${JSON.stringify(value).slice(0, 200)}`)
  }
  return {
    churn_score: v.churn_score,
    risk_band: typeof v.risk_band === 'string' ? v.risk_band : '',
    model_version: typeof v.model_version === 'string' ? v.model_version : 'remote',
    reasons: Array.isArray(v.reasons) ? v.reasons : []
  }
}

/**
 * The scoring API as a remote scorer: POST /predict-churn/batch when the server has it, seed
 * 000's POST /predict-churn one event at a time otherwise. Each event carries the profile the
 * processor keeps, so the API scores exactly what the in-process model would. Connection
 * failures, timeouts, 5xx and malformed answers are retriable ChurnflowErrors (the API is down,
 * not the events); a 4xx refuses the event it names.
 */
export class HttpScorer implements RemoteScorer {
  readonly kind = 'http'
  readonly name: string
  readonly #base: string
  readonly #timeoutMs: number
  readonly #headers: Record<string, string>
  readonly #concurrency: number
  readonly #maxBatch: number
  readonly #log: Logger | undefined
  #batchRoute: boolean | undefined

  constructor (options: HttpScorerOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, '')
    this.name = `scoring API ${this.#base}`
    this.#timeoutMs = options.timeoutMs
    this.#headers = { 'content-type': 'application/json', ...(options.apiKey === undefined ? {} : { 'x-api-key': options.apiKey }) }
    this.#concurrency = options.concurrency ?? 8
    this.#maxBatch = options.maxBatch ?? 1000
    this.#log = options.log
  }

  async #post (path: string, body: unknown, signal: AbortSignal): Promise<{ status: number, json: unknown }> {
    return postToScoringApi(this.#base, path, body, { headers: this.#headers, timeoutMs: this.#timeoutMs, signal })
  }

  async #single (r: RemoteRequest, signal: AbortSignal): Promise<RemoteResult> {
    const { status, json } = await this.#post('/predict-churn', bodyOf(r), signal)
    if (status === 200) return { ok: true, score: scoreOf(json, this.#base) }
    if (status === 404 || status === 405) throw scoringUnavailable(this.#base, `has no POST /predict-churn (HTTP ${status})`)
    return { ok: false, status, message: (json as { message?: string } | undefined)?.message ?? `HTTP ${status}` }
  }

  async #singles (requests: readonly RemoteRequest[], signal: AbortSignal): Promise<RemoteResult[]> {
    const results: RemoteResult[] = new Array<RemoteResult>(requests.length)
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < requests.length) {
        const i = next++
        results[i] = await this.#single(requests[i] as RemoteRequest, signal)
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, requests.length) }, worker))
    return results
  }

  async scoreMany (requests: readonly RemoteRequest[], signal: AbortSignal): Promise<RemoteResult[]> {
    if (requests.length <= this.#maxBatch) return this.#scoreChunk(requests, signal)
    // The API takes at most maxBatch events a call (churnflow api: 1,000); a few calls at once keep its cores busy.
    const chunks: RemoteRequest[][] = []
    for (let i = 0; i < requests.length; i += this.#maxBatch) chunks.push(requests.slice(i, i + this.#maxBatch))
    const results: RemoteResult[][] = new Array<RemoteResult[]>(chunks.length)
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < chunks.length) {
        const i = next++
        results[i] = await this.#scoreChunk(chunks[i] as RemoteRequest[], signal)
      }
    }
    await Promise.all(Array.from({ length: Math.min(4, chunks.length) }, worker))
    return results.flat()
  }

  async #scoreChunk (requests: readonly RemoteRequest[], signal: AbortSignal): Promise<RemoteResult[]> {
    if (requests.length === 0) return []
    if (this.#batchRoute === false) return this.#singles(requests, signal)
    const { status, json } = await this.#post('/predict-churn/batch', { events: requests.map(bodyOf) }, signal)
    if (status === 404 || status === 405) {
      this.#batchRoute = false
      this.#log?.info(`${this.name} has no batch route; scoring one event per call (seed 000's /predict-churn)`)
      return this.#singles(requests, signal)
    }
    this.#batchRoute = true
    // A refused batch does not say which events are wrong in a way every server shares: ask one by one.
    if (status !== 200) {
      this.#log?.warn({ status }, `${this.name} refused a batch of ${requests.length} (${JSON.stringify(json).slice(0, 200)}); scoring its events one by one`)
      return this.#singles(requests, signal)
    }
    const predictions = (json as { predictions?: unknown } | undefined)?.predictions
    if (!Array.isArray(predictions) || predictions.length !== requests.length) {
      throw scoringUnavailable(this.#base, `answered the batch of ${requests.length} without as many predictions`)
    }
    return predictions.map(p => ({ ok: true, score: scoreOf(p, this.#base) }))
  }

  async ping (signal?: AbortSignal): Promise<void> {
    let response: Response
    try {
      response = await fetch(`${this.#base}/health`, { headers: this.#headers, signal: signal ?? AbortSignal.timeout(Math.min(this.#timeoutMs, 5000)) })
    } catch (error) {
      throw scoringUnavailable(this.#base, whyFetchFailed(error), error)
    }
    await response.body?.cancel()
    if (!response.ok) throw scoringUnavailable(this.#base, `GET /health answered HTTP ${response.status}`)
  }
}
