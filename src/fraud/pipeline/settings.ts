import type { Config } from '../../config/index.ts'
import type { Logger } from '../../logging/index.ts'
import { deadLetterTopic, defaultRetryPolicy, type RetryPolicy } from '../../stream/index.ts'
import type { FraudScorer } from '../model.ts'
import { FraudHttpScorer, type FraudScoring } from './scoring.ts'

/** What the fraud pipeline reads from the configuration, with the fraud streaming consumer's names and defaults. */
export interface FraudSettings {
  /** KAFKA_TOPIC_TRANSACTIONS: `transactions`. */
  readonly sourceTopic: string
  /** KAFKA_ERROR_TOPIC, else `<source topic>-failed`: `transactions-failed`. */
  readonly deadLetterTopic: string
  /** FRAUD_CONSUMER_GROUP: `transaction-consumer-group`. */
  readonly group: string
  /** FRAUD_BATCH_SIZE, else BATCH_SIZE, else 100. */
  readonly batchSize: number
  readonly predictionsTopic: string
  readonly alertsTopic: string
  /** ML_API_URL (or its other spellings): score through the API; unset: in process. */
  readonly scoringApiUrl: string | undefined
  /** MAX_RETRIES and RETRY_BACKOFF, as the churn pipeline reads them. */
  readonly retry: RetryPolicy
  readonly apiTimeoutMs: number
}

export type FraudConfig = Pick<Config,
  'transactionsTopic' | 'errorTopic' | 'fraudGroupId' | 'fraudBatchSize' | 'fraudPredictionsTopic' | 'fraudAlertsTopic' |
  'scoringApiUrl' | 'maxRetries' | 'retryBackoff' | 'apiTimeout'>

export function fraudSettings (config: FraudConfig): FraudSettings {
  return {
    sourceTopic: config.transactionsTopic,
    deadLetterTopic: deadLetterTopic(config, config.transactionsTopic),
    group: config.fraudGroupId,
    batchSize: config.fraudBatchSize,
    predictionsTopic: config.fraudPredictionsTopic,
    alertsTopic: config.fraudAlertsTopic,
    scoringApiUrl: config.scoringApiUrl,
    retry: { ...defaultRetryPolicy, maxRetries: config.maxRetries, factor: Math.max(1, config.retryBackoff) },
    apiTimeoutMs: config.apiTimeout * 1000
  }
}

/** The scorer the settings ask for: the scoring API when ML_API_URL is set, else `model` in process. */
export function fraudScoring (settings: FraudSettings, model: FraudScorer, options: { apiKey?: string, log?: Logger } = {}): FraudScoring {
  if (settings.scoringApiUrl === undefined) return { kind: 'model', name: `fraud model ${model.artifact.model_version}`, current: model }
  return new FraudHttpScorer({
    baseUrl: settings.scoringApiUrl,
    timeoutMs: settings.apiTimeoutMs,
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    ...(options.log === undefined ? {} : { log: options.log })
  })
}
