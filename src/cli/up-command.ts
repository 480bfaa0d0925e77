import { runUp } from '../up/index.ts'
import type { Command } from './command.ts'
import { wholeNumberFlag } from './flags.ts'
import { stopSignals } from './signals.ts'

export const upCommand: Command = {
  name: 'up',
  summary: 'the whole system in one command: Kafka, topics, scoring API, the churn and fraud pipelines, the dashboard and their producers, with a live status line',
  usage: 'churnflow up [--fresh] [--rate 20] [--customers 2000] [--history-days 30] [--tx-rate 5] [--no-fraud] [--kafka-port 9092] [--status-interval 5]',
  help: [
    'Starts, in this terminal: the local Apache Kafka (downloaded from Maven Central on first use; none when',
    'KAFKA_BROKER names a cluster), churnflow\'s topics, the scoring API (API_PORT, 5000), a processor with its',
    'ops endpoints (OPS_PORT, 3000: /health, /metrics, /stats), the dashboard (DASHBOARD_PORT, 8080) and a producer',
    'of a simulated customer population. Beside it runs the fraud pipeline (as `process --streams transactions`,',
    'group FRAUD_CONSUMER_GROUP) with a producer of simulated transactions, fraud included, into the',
    'transactions and predictions tables of the same database and the fraud-predictions and fraud-alerts topics.',
    'Predictions go to SQLite and profiles stay in process under the state directory, unless DATABASE_URL or',
    'DB_HOST (MySQL/MariaDB, PostgreSQL) and REDIS_HOST name real services. Ctrl+C stops everything in order',
    '(producers, processors after committing, API, broker) and prints the statistics; up again continues.',
    '',
    '  --fresh                delete the local data first (Kafka, SQLite with the fraud tables, profiles and accounts, the producer\'s position)',
    '  --rate N               producer pace, events/s, while the history catches up (default 20; 0: no producer)',
    '  --customers N          simulated customers (default 2000; a later up keeps the saved population)',
    '  --history-days D       days of history replayed before the stream goes live (default 30)',
    '  --tx-rate N            simulated transactions per second for the fraud pipeline (default 5; 0: no producer)',
    '  --no-fraud             run no fraud pipeline and no transaction producer',
    '  --kafka-port N         port of the local broker (default 9092)',
    '  --status-interval S    seconds between status lines (default 5)'
  ].join('\n'),
  options: {
    fresh: { type: 'boolean' },
    rate: { type: 'string' },
    customers: { type: 'string' },
    'history-days': { type: 'string' },
    'tx-rate': { type: 'string' },
    'no-fraud': { type: 'boolean' },
    'kafka-port': { type: 'string' },
    'status-interval': { type: 'string' }
  },
  async run ({ values, loaded, env, log, out }) {
    const rate = wholeNumberFlag(values, 'rate', 0, 1_000_000) ?? 20
    const customers = wholeNumberFlag(values, 'customers', 1, 1_000_000)
    const historyDays = wholeNumberFlag(values, 'history-days', 0, 3650) ?? 30
    const txRate = wholeNumberFlag(values, 'tx-rate', 0, 100_000) ?? 5
    const kafkaPort = wholeNumberFlag(values, 'kafka-port', 1, 65535) ?? 9092
    const statusInterval = wholeNumberFlag(values, 'status-interval', 1, 3600) ?? 5
    const stop = Promise.withResolvers<string>()
    const signals = stopSignals(log, 'uncommitted events will be processed again on the next up', signal => { stop.resolve(signal) })
    try {
      return await runUp({
        loaded,
        env,
        log,
        out,
        fresh: values.fresh === true,
        rate,
        customers,
        historyDays,
        fraud: values['no-fraud'] !== true,
        txRate,
        kafkaPort,
        statusIntervalMs: statusInterval * 1000,
        stopSignal: stop.promise
      })
    } finally {
      signals[Symbol.dispose]()
    }
  }
}
