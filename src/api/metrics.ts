import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { ModelHolder } from '../churn/index.ts'

/** The scoring API's Prometheus metrics, in a registry of its own. */
export interface ApiMetrics {
  readonly registry: Registry
  readonly requests: Counter<'route' | 'status'>
  readonly latency: Histogram<'route'>
  readonly scores: Histogram
  readonly modelInfo: Gauge<'version'>
}

/** Creates the API's metrics; the model reload count is read from `models` at each scrape. */
export function apiMetrics (models: ModelHolder): ApiMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'churnflow_api_' })
  const requests = new Counter({ name: 'churnflow_api_requests_total', help: 'Requests by route and status', labelNames: ['route', 'status'] as const, registers: [registry] })
  const latency = new Histogram({
    name: 'churnflow_api_request_duration_seconds',
    help: 'Request latency by route',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry]
  })
  const scores = new Histogram({ name: 'churnflow_churn_score', help: 'Distribution of churn scores served', buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1], registers: [registry] })
  const modelInfo = new Gauge({ name: 'churnflow_model_info', help: 'The model version serving (value 1)', labelNames: ['version'] as const, registers: [registry] })
  new Gauge({ name: 'churnflow_model_reloads_total', help: 'Models reloaded since start', registers: [registry], collect () { this.set(models.reloads) } })
  return { registry, requests, latency, scores, modelInfo }
}
