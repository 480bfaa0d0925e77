import type { Logger } from '../../logging/index.ts'
import { postToScoringApi, scoringUnavailable } from '../../processor/index.ts'
import { FraudLabels } from '../rows.ts'
import type { FraudScore, FraudScorer } from '../model.ts'

/** Scores with the fraud model in this process. */
export interface LocalFraudScorer {
  readonly kind: 'model'
  readonly name: string
  readonly current: FraudScorer
}

/** One transaction for a remote scorer: its fields as sent and its features against its account. */
export interface FraudRequest {
  readonly transaction: Readonly<Record<string, unknown>>
  readonly account: Readonly<Record<string, number>>
}

/** A remote answer: a score, or the API's refusal of this one transaction (a 4xx). */
export type FraudResult = { readonly ok: true, readonly score: FraudScore } | { readonly ok: false, readonly status: number, readonly message: string }

/** Scores through the scoring API's `POST /predict/batch`. */
export interface RemoteFraudScorer {
  readonly kind: 'http'
  readonly name: string
  scoreMany (requests: readonly FraudRequest[], signal: AbortSignal): Promise<FraudResult[]>
}

export type FraudScoring = LocalFraudScorer | RemoteFraudScorer

export interface FraudHttpScorerOptions {
  /** ML_API_URL. */
  readonly baseUrl: string
  readonly timeoutMs: number
  readonly apiKey?: string
  /** Most transactions in one call. */
  readonly maxBatch?: number
  readonly log?: Logger
}

/** The batch route's path, beside seed 004's `POST /predict`. */
export const FRAUD_BATCH_ROUTE = '/predict/batch'

const labels: ReadonlySet<string> = new Set(Object.values(FraudLabels))

function scoreOf (value: unknown, transactionId: unknown, url: string): FraudScore {
  const v = value as Partial<FraudScore> & { transaction_id?: unknown } | null
  if (v === null || typeof v !== 'object' || typeof v.fraud_score !== 'number' || !(v.fraud_score >= 0 && v.fraud_score <= 1) ||
    typeof v.prediction !== 'string' || !labels.has(v.prediction)) {
    throw scoringUnavailable(url, `answered without a fraud_score in [0, 1] and a prediction fraud|legit: ${JSON.stringify(value)?.slice(0, 200)}`)
  }
  if (v.transaction_id !== undefined && String(v.transaction_id) !== String(transactionId)) {
    throw scoringUnavailable(url, `answered for transaction ${String(v.transaction_id)} where ${String(transactionId)} was asked: predictions out of order`)
  }
  return {
    fraud_score: v.fraud_score,
    prediction: v.prediction,
    model_version: typeof v.model_version === 'string' ? v.model_version : 'remote',
    reasons: Array.isArray(v.reasons) ? v.reasons : []
  }
}

/**
 * The scoring API as the fraud pipeline's scorer: `POST /predict/batch` with
 * `{"transactions": [{...transaction, "account": {feature: value}}]}`, answered by
 * `{"predictions": [{transaction_id, fraud_score, prediction, model_version, reasons}]}` in the
 * same order. The features travel with each transaction, so the API scores exactly what the
 * in-process model would. Connection failures, timeouts, 5xx, 429, 401/403, a missing route and
 * malformed answers are retriable errors (the API is away or misconfigured, not the
 * transactions): the caller's `Dependency` retries them with backoff, then opens its breaker and
 * pauses. A 4xx on a batch is narrowed down by halves to the transactions it refuses.
 */
export class FraudHttpScorer implements RemoteFraudScorer {
  readonly kind = 'http'
  readonly name: string
  readonly #base: string
  readonly #timeoutMs: number
  readonly #headers: Record<string, string>
  readonly #maxBatch: number
  readonly #log: Logger | undefined

  constructor (options: FraudHttpScorerOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, '')
    this.name = `scoring API ${this.#base}`
    this.#timeoutMs = options.timeoutMs
    this.#headers = { 'content-type': 'application/json', ...(options.apiKey === undefined ? {} : { 'x-api-key': options.apiKey }) }
    this.#maxBatch = options.maxBatch ?? 1000
    this.#log = options.log
  }

  async #post (body: unknown, signal: AbortSignal): Promise<{ status: number, json: unknown }> {
    const answer = await postToScoringApi(this.#base, FRAUD_BATCH_ROUTE, body, { headers: this.#headers, timeoutMs: this.#timeoutMs, signal })
    if (answer.status === 404 || answer.status === 405) {
      throw scoringUnavailable(this.#base, `has no POST ${FRAUD_BATCH_ROUTE} (HTTP ${answer.status}): run a churnflow api that has it`)
    }
    return answer
  }

  async scoreMany (requests: readonly FraudRequest[], signal: AbortSignal): Promise<FraudResult[]> {
    const results: FraudResult[] = []
    for (let i = 0; i < requests.length; i += this.#maxBatch) results.push(...await this.#chunk(requests.slice(i, i + this.#maxBatch), signal))
    return results
  }

  async #chunk (requests: readonly FraudRequest[], signal: AbortSignal): Promise<FraudResult[]> {
    if (requests.length === 0) return []
    const { status, json } = await this.#post({ transactions: requests.map(r => ({ ...r.transaction, account: r.account })) }, signal)
    if (status === 200) {
      const predictions = (json as { predictions?: unknown } | undefined)?.predictions
      if (!Array.isArray(predictions) || predictions.length !== requests.length) {
        throw scoringUnavailable(this.#base, `answered a batch of ${requests.length} without as many predictions`)
      }
      return predictions.map((p, i) => ({ ok: true, score: scoreOf(p, requests[i]?.transaction.transaction_id, this.#base) }))
    }
    const message = (json as { message?: unknown } | undefined)?.message
    if (requests.length === 1) return [{ ok: false, status, message: typeof message === 'string' ? message : `HTTP ${status}` }]
    // A refused batch does not say which transactions are wrong in a way every server shares: halve it.
    this.#log?.warn({ status }, `${this.name} refused a batch of ${requests.length} (${String(message ?? status)}); narrowing it down`)
    const half = Math.ceil(requests.length / 2)
    return [...await this.#chunk(requests.slice(0, half), signal), ...await this.#chunk(requests.slice(half), signal)]
  }
}
