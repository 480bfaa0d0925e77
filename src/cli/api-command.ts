import { buildApi } from '../api/index.ts'
import { ModelHolder, shippedChurnModelPath } from '../churn/index.ts'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import { FraudScorer, shippedFraudModelPath } from '../fraud/index.ts'
import { RedisProfileStore } from '../profile/index.ts'
import { CustomerReader } from '../processor/customers.ts'
import { listeningUrl } from '../util/listen.ts'
import { stopSignal } from '../util/signals.ts'
import type { Command } from './command.ts'

export const apiCommand: Command = {
  name: 'api',
  summary: 'serve the scoring API (the seeds\' Flask API): POST /predict-churn, /health, /metrics, /model',
  usage: 'churnflow api [--host 127.0.0.1] [--port 5000] [--model FILE]',
  help: [
    'POST /predict-churn        the churn prediction consumer\'s body {"user_id","event_type","timestamp","metadata"} -> {"churn_score", ...}',
    'POST /predict-churn/batch  {"events": [...]} -> {"predictions": [...]}, one round trip',
    'POST /predict              a transaction (the fraud streaming consumer) -> {"fraud_score", "prediction": "fraud"|"legit", ...}',
    'POST /predict/batch        {"transactions": [...]}, each optionally with "account" (its state before it) -> {"predictions": [...]}',
    'GET  /health  /metrics (Prometheus)  /model (version, features, metrics)',
    'The model file is watched: a new artifact written in place (churnflow train --out) is picked up without',
    'dropping a request; SIGHUP reloads it too. API_KEY, when set, is required in the x-api-key header.'
  ].join('\n'),
  async run ({ config, log }) {
    const apiLog = log.child({ component: 'api' })
    const models = new ModelHolder(config.churnModel ?? shippedChurnModelPath, apiLog)
    const fraud = { current: FraudScorer.fromFile(shippedFraudModelPath) }
    const profiles = config.redisHost === undefined
      ? undefined
      : new RedisProfileStore({ host: config.redisHost, port: config.redisPort, prefix: config.redisKeyPrefix, ...(config.redisPassword === undefined ? {} : { password: config.redisPassword }) })
    // Closing the API (at the end of this block, or on an error) closes the model watcher and the store.
    await using app = buildApi({
      models,
      fraud,
      log: apiLog,
      ownsResources: true,
      // With Redis, the processors' current risk sits beside each profile: the /customers routes read it.
      ...(profiles === undefined ? {} : { profiles, customers: new CustomerReader({ profiles, bands: () => models.current.artifact.bands }) }),
      ...(config.apiKey === undefined ? {} : { apiKey: config.apiKey })
    })
    try {
      await app.listen({ host: config.apiHost, port: config.apiPort })
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EADDRINUSE') {
        throw new ChurnflowError(ErrorCodes.PORT_IN_USE, `port ${config.apiPort} on ${config.apiHost} is in use`, { details: ['stop what holds it, or choose another with --port / API_PORT'] })
      }
      throw error
    }
    models.watch()
    apiLog.info(`Scoring API on ${listeningUrl(app.server, config.apiHost, config.apiPort)} (model ${models.current.version}, profiles: ${profiles?.name ?? 'none, each event scored alone'}); Ctrl+C stops it`)
    await stopSignal()
    return 0
  }
}
