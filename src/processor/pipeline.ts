import { defaultBands, ModelHolder, shippedChurnModelPath, type RiskBand } from '../churn/index.ts'
import type { Config } from '../config/index.ts'
import type { Logger } from '../logging/index.ts'
import { openProfileStore, type ProfileStore } from '../profile/index.ts'
import { openPredictionStore, type PredictionStore } from '../sql/index.ts'
import { alertPolicy, type AlertPolicy } from './alerts.ts'
import { HttpScorer, type Scorer } from './scoring.ts'
import { silencePolicy, type SilencePolicy } from './silence.ts'

/** The parts of a processor that come from configuration; `Symbol.asyncDispose` closes them, as `close()` does. */
export interface PipelineParts extends AsyncDisposable {
  readonly profiles: ProfileStore
  readonly predictions: PredictionStore
  readonly scorer: Scorer
  readonly alerts: AlertPolicy
  readonly scoredCustomerTypes: ReadonlySet<string>
  readonly silence: SilencePolicy
  /** Watches the model file when scoring in process; stops watching on close. */
  readonly models: ModelHolder | undefined
  close (): Promise<void>
}

/** The bands the at-risk routes filter by: the in-process model's, or the default bands (the shipped model's) when a scoring API scores. */
export function bandsOf (parts: Pick<PipelineParts, 'models'>): readonly RiskBand[] {
  return parts.models?.current.artifact.bands ?? defaultBands
}

/** The model's `high` band start, where alerts begin unless ALERT_THRESHOLD says otherwise. */
export function highBandStart (bands: readonly { name: string, from: number }[]): number {
  return bands.find(b => b.name === 'high')?.from ?? 0.6
}

/**
 * Opens what the configuration names: Redis or in-process profiles, the SQL store, the
 * in-process model or the scoring API (FLASK_API_URL / API_URL / ML_API_URL).
 */
export async function openPipeline (config: Config, log: Logger, options: { table?: string } = {}): Promise<PipelineParts> {
  const models = config.scoringApiUrl === undefined ? new ModelHolder(config.churnModel ?? shippedChurnModelPath, log) : undefined
  const scorer: Scorer = models === undefined
    ? new HttpScorer({ baseUrl: config.scoringApiUrl as string, timeoutMs: config.apiTimeout * 1000, log, ...(config.apiKey === undefined ? {} : { apiKey: config.apiKey }) })
    : { kind: 'model', name: 'in-process model', get current () { return models.current } }
  const bands = models?.current.artifact.bands ?? [{ name: 'high', from: 0.6 }]
  const profiles = await openProfileStore(config, { prefix: config.redisKeyPrefix, log })
  const predictions = openPredictionStore(config, { log, ...(options.table === undefined ? {} : { table: options.table }) })
  const close = async (): Promise<void> => {
    models?.close()
    await Promise.allSettled([profiles.close(), predictions.close()])
  }
  return {
    profiles,
    predictions,
    scorer,
    models,
    alerts: alertPolicy({ enter: config.alertThreshold ?? highBandStart(bands), hysteresis: config.alertHysteresis, cooldownHours: config.alertCooldownHours }),
    scoredCustomerTypes: new Set(config.scoredCustomerEvents),
    silence: silencePolicy({ stepsMs: config.silenceSteps, liveWindowHours: config.silenceLiveWindowHours }),
    close,
    [Symbol.asyncDispose]: close
  }
}
