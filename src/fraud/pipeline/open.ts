import type { Config } from '../../config/index.ts'
import type { Logger } from '../../logging/index.ts'
import { migrateAtStart, openFraudStore, type FraudStore } from '../../sql/index.ts'
import { FraudScorer, shippedFraudModelPath } from '../model.ts'
import { FraudConsole } from './console.ts'
import { FraudPipeline } from './pipeline.ts'
import { fraudScoring, fraudSettings, type FraudSettings } from './settings.ts'
import type { FraudScoring } from './scoring.ts'

export interface OpenedFraudPipeline {
  readonly pipeline: FraudPipeline
  /** The database it writes; the caller closes it once the runtime has stopped. */
  readonly store: FraudStore
  readonly settings: FraudSettings
  readonly scoring: FraudScoring
  readonly console: FraudConsole
}

export interface OpenFraudPipelineOptions {
  /** Apply the migrations at start (DB_MIGRATE decides how); false when the caller migrated already (`up`). */
  readonly migrate: boolean
  /** Wraps the store the pipeline writes through (a benchmark times its writes). */
  readonly wrapStore?: (store: FraudStore) => FraudStore
}

/**
 * The fraud pipeline the configuration names: its settings (FRAUD_CONSUMER_GROUP,
 * KAFKA_TOPIC_TRANSACTIONS, ...), the `transactions` and `predictions` store, the shipped fraud
 * model in process or the API at ML_API_URL, and the fraud streaming consumer's console lines.
 * The one place `process --streams transactions`, `up` and `bench:fraud` build it.
 */
export function openFraudPipeline (config: Config, log: Logger, options: OpenFraudPipelineOptions): OpenedFraudPipeline {
  const settings = fraudSettings(config)
  const opened = openFraudStore(config, { log })
  const store = options.wrapStore?.(opened) ?? opened
  const scoring = fraudScoring(settings, FraudScorer.fromFile(shippedFraudModelPath), { log, ...(config.apiKey === undefined ? {} : { apiKey: config.apiKey }) })
  const console = new FraudConsole(log, { server: config.kafkaBrokers.join(','), group: settings.group, topic: settings.sourceTopic })
  const pipeline = new FraudPipeline({
    settings,
    store,
    scoring,
    migrate: options.migrate ? () => migrateAtStart(config, log) : async () => undefined,
    console,
    log
  })
  return { pipeline, store, settings, scoring, console }
}
