import type { ModelHolder } from '../churn/index.ts'
import type { FraudScorer } from '../fraud/index.ts'
import type { ApiMetrics } from './metrics.ts'
import type { ApiPlugin, ProfileReader } from './types.ts'

export interface ServiceRoutesOptions {
  readonly models: ModelHolder
  readonly metrics: ApiMetrics
  readonly profiles: ProfileReader | undefined
  readonly fraud: { readonly current: FraudScorer } | undefined
}

const strip = (m: { roc_auc: number, pr_auc: number, log_loss: number }): { roc_auc: number, pr_auc: number, log_loss: number } =>
  ({ roc_auc: m.roc_auc, pr_auc: m.pr_auc, log_loss: m.log_loss })

/** The profile store's state for /health: its name and up, or down with why. */
async function storeHealth (profiles: ProfileReader | undefined): Promise<{ store: string, healthy: boolean }> {
  if (profiles === undefined) return { store: 'none', healthy: true }
  try {
    await profiles.ping()
    return { store: `${profiles.name}: up`, healthy: true }
  } catch (error) {
    return { store: `${profiles.name}: down (${(error as Error).message})`, healthy: false }
  }
}

/** The service's own routes: GET /health, /metrics (Prometheus) and /model. */
export const serviceRoutes: ApiPlugin<ServiceRoutesOptions> = async (app, options) => {
  const { models, metrics } = options

  app.get('/health', async (_request, reply) => {
    const { store, healthy } = await storeHealth(options.profiles)
    void reply.status(healthy ? 200 : 503)
    return { status: healthy ? 'ok' : 'degraded', model_loaded: true, model_version: models.current.version, fraud_model_version: options.fraud?.current.artifact.model_version ?? null, profile_store: store }
  })

  app.get('/metrics', async (_request, reply) => {
    metrics.modelInfo.reset()
    metrics.modelInfo.set({ version: models.current.version }, 1)
    void reply.header('content-type', metrics.registry.contentType)
    return metrics.registry.metrics()
  })

  app.get('/model', async () => {
    const a = models.current.artifact
    return {
      model_version: a.model_version,
      created_at: a.created_at,
      kind: a.kind,
      horizon_days: a.horizon_days,
      qualifying: a.qualifying,
      features: a.features,
      bands: a.bands,
      training: a.training,
      metrics: { test: { model: strip(a.metrics.test.model), baseline: strip(a.metrics.test.baseline), ...(a.metrics.test.oracle === undefined ? {} : { oracle: strip(a.metrics.test.oracle) }) }, importance: a.metrics.importance }
    }
  })
}
