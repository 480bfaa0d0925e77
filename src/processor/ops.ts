import Fastify, { LogController } from 'fastify'
import type { Logger } from '../logging/index.ts'
import type { StreamRuntime } from '../stream/index.ts'
import { customerRoutes } from '../api/customer-routes.ts'
import type { CustomerReader } from './customers.ts'

/** What the ops endpoints read of a running processor. */
export type OpsTarget = Pick<StreamRuntime, 'stats' | 'metrics' | 'running' | 'health' | 'lag' | 'highRiskCustomers' | 'stateStats'>

export interface OpsOptions {
  /** A processor (the churn `Processor`, or any pipeline's `StreamRuntime`). */
  readonly processor: OpsTarget
  readonly log: Logger
  /** More figures for /stats (`churnflow up` adds its totals over every run). */
  readonly extraStats?: () => Record<string, number>
  /** The churn processor's customers: GET /customers/at-risk and /customers/:id. */
  readonly customers?: CustomerReader
}

/**
 * The processor's ops endpoints: GET /health (each dependency with its state), GET /metrics
 * (Prometheus), GET /stats (the statistics block as JSON). Built apart from `listen` so tests
 * use `inject()`.
 */
export function buildOps (options: OpsOptions) {
  const { processor } = options
  const app = Fastify({ loggerInstance: options.log.child({ component: 'ops' }), logController: new LogController({ disableRequestLogging: true }) })
  app.get('/health', async (_request, reply) => {
    const health = await processor.health()
    void reply.status(health.healthy ? 200 : 503)
    return { status: health.healthy ? 'ok' : 'degraded', running: processor.running, dependencies: health.dependencies }
  })
  app.get('/stats', async () => ({ ...processor.stats.toJSON(), high_risk_customers: processor.highRiskCustomers(), ...processor.stateStats(), ...options.extraStats?.() }))
  if (options.customers !== undefined) void app.register(customerRoutes, { customers: options.customers })
  app.get('/metrics', async (_request, reply) => {
    await processor.lag().catch(() => undefined)
    await processor.health(1000).catch(() => undefined)
    void reply.header('content-type', processor.metrics.registry.contentType)
    return processor.metrics.registry.metrics()
  })
  return app
}
