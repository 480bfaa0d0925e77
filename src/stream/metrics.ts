import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

const fast = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * The stream runtime's Prometheus metrics, in a registry of their own. Every series carries the
 * `pipeline` label (churn, fraud), so pipelines running in one process share one registry and
 * one /metrics. The names keep the churn processor's `churnflow_processor_` prefix.
 */
export function streamMetrics () {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'churnflow_processor_' })
  const r = [registry]
  return {
    registry,
    events: new Counter({ name: 'churnflow_processor_events_total', help: 'Records handled, by outcome (processed, dead_lettered, duplicate)', labelNames: ['pipeline', 'outcome'] as const, registers: r }),
    predictions: new Counter({ name: 'churnflow_processor_predictions_total', help: 'Predictions written to every sink', labelNames: ['pipeline'] as const, registers: r }),
    inactivityChecks: new Counter({ name: 'churnflow_processor_inactivity_checks_total', help: 'Silence steps re-scored (inactivity_check predictions)', labelNames: ['pipeline'] as const, registers: r }),
    alerts: new Counter({ name: 'churnflow_processor_alerts_total', help: 'Alerts published, by kind', labelNames: ['pipeline', 'kind'] as const, registers: r }),
    failures: new Counter({ name: 'churnflow_processor_failures_total', help: 'Failures by reason: a dependency call that failed (and was retried) or a poison record', labelNames: ['pipeline', 'reason'] as const, registers: r }),
    eventsPerSecond: new Gauge({ name: 'churnflow_processor_events_per_second', help: 'Events processed per second over the last progress interval', labelNames: ['pipeline'] as const, registers: r }),
    batch: new Histogram({ name: 'churnflow_processor_batch_duration_seconds', help: 'Time to process one batch, from taking it to committing it', labelNames: ['pipeline'] as const, buckets: fast, registers: r }),
    database: new Histogram({ name: 'churnflow_processor_database_write_seconds', help: 'Time to write a batch\'s rows', labelNames: ['pipeline'] as const, buckets: fast, registers: r }),
    scoring: new Histogram({ name: 'churnflow_processor_scoring_seconds', help: 'Time to apply and score a batch\'s events', labelNames: ['pipeline'] as const, buckets: fast, registers: r }),
    endToEnd: new Histogram({ name: 'churnflow_processor_event_to_commit_seconds', help: 'From the record timestamp to its offset being committed', labelNames: ['pipeline'] as const, buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: r }),
    lag: new Gauge({ name: 'churnflow_processor_consumer_lag', help: 'Records behind the end of each held partition', labelNames: ['pipeline', 'topic', 'partition'] as const, registers: r }),
    up: new Gauge({ name: 'churnflow_processor_dependency_up', help: '1 when the dependency answers, 0 when it is down', labelNames: ['pipeline', 'dependency'] as const, registers: r }),
    stateCustomers: new Gauge({ name: 'churnflow_processor_state_keys', help: 'Keys in the in-process state of the partitions held here', labelNames: ['pipeline', 'store'] as const, registers: r })
  }
}

export type StreamMetrics = ReturnType<typeof streamMetrics>
