import type { Config } from '../config/index.ts'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import { Streams, type EventStream } from '../events/index.ts'
import { openFraudPipeline, type FraudPipeline } from '../fraud/index.ts'
import type { Logger } from '../logging/index.ts'
import { customerPredictionReader } from '../dashboard/index.ts'
import { bandsOf, buildOps, openPipeline, Processor } from '../processor/index.ts'
import { StreamRuntime } from '../stream/index.ts'
import type { Command, CommandContext } from './command.ts'
import { usage, wholeNumberFlag } from './flags.ts'
import { stopSignals } from './signals.ts'

const streamNames: Readonly<Record<string, readonly EventStream[]>> = {
  both: [Streams.USER_EVENTS, Streams.CUSTOMER_EVENTS],
  'user-events': [Streams.USER_EVENTS],
  'customer-events': [Streams.CUSTOMER_EVENTS]
}

/** Listens on the ops port, or says clearly that it is taken. */
export async function listenOps (app: { listen (o: { host: string, port: number }): Promise<string> }, host: string, port: number): Promise<string> {
  try {
    return await app.listen({ host, port })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ChurnflowError(ErrorCodes.PORT_IN_USE, `the ops port ${port} on ${host} is in use`, { details: ['stop what holds it, or choose another with --ops-port / OPS_PORT (0 picks a free one)'] })
    }
    throw error
  }
}

export const processCommand: Command = {
  name: 'process',
  summary: 'run a processor: churn (events -> profiles -> scores -> SQL rows, predictions, alerts) or fraud (transactions -> accounts -> scores -> SQL)',
  usage: 'churnflow process [--streams both|user-events|customer-events|transactions] [--exit-when-idle SECONDS] [--batch-size N] [--ops-port 3000]',
  options: {
    streams: { type: 'string' },
    'exit-when-idle': { type: 'string' },
    table: { type: 'string' }
  },
  help: [
    'One member of the consumer group KAFKA_GROUP_ID (churn-consumer-group): start more to share the partitions.',
    'Each batch is validated (poison records go to <topic>-failed with the reason in headers), applied to the',
    'customers\' profiles exactly once, scored (in process, or through FLASK_API_URL), written to SQL',
    '(churn_predictions), to the churn-predictions and churn-alerts topics, and only then committed.',
    'An outage of Kafka, the database, Redis or the scoring API pauses processing until it is back.',
    '',
    '  --streams S             both (default), user-events or customer-events; transactions runs the fraud',
    '                          pipeline instead: one member of FRAUD_CONSUMER_GROUP (transaction-consumer-group),',
    '                          reading KAFKA_TOPIC_TRANSACTIONS into the transactions and predictions tables',
    '  --exit-when-idle SECS   exit 0 once nothing new came for that long (backfills)',
    '  --table NAME            SQL table (default churn_predictions)',
    '',
    'Ops endpoints on --ops-port (3000): GET /health, /metrics (Prometheus), /stats.',
    'SIGINT/SIGTERM: finish the batch in hand, commit, close, print the statistics.'
  ].join('\n'),
  async run ({ config, log, values, out }) {
    if (values.streams === Streams.TRANSACTIONS) return runFraud(config, log, wholeNumberFlag(values, 'exit-when-idle', 1, 86_400))
    const { streams, idle, table } = processFlags(values)
    const plog = log.child({ component: 'processor' })
    // What opens here closes in reverse order, whatever happens: signal handlers, ops server, pipeline.
    const opened = new AsyncDisposableStack()
    let processor: Processor | undefined
    try {
      const parts = opened.use(await openPipeline(config, plog, table === undefined ? {} : { table }))
      processor = new Processor({
        config,
        log: plog,
        streams,
        profiles: parts.profiles,
        predictions: parts.predictions,
        scorer: parts.scorer,
        alerts: parts.alerts,
        scoredCustomerTypes: parts.scoredCustomerTypes,
        silence: parts.silence,
        batchSize: config.batchSize,
        ...(idle === undefined ? {} : { exitWhenIdleMs: idle * 1000 })
      })
      const sql = customerPredictionReader(config, table ?? 'churn_predictions')
      opened.defer(() => sql.close())
      const ops = opened.use(buildOps({ processor, log, customers: processor.customers({ bands: () => bandsOf(parts), predictions: sql.read }) }))
      const running = processor
      opened.use(stopSignals(plog, 'uncommitted events will be processed again on restart', signal => {
        plog.info(`${signal}: finishing the batch in hand, committing, closing (again to force)`)
        running.stop()
      }))
      const url = await listenOps(ops, config.apiHost, config.opsPort)
      parts.models?.watch()
      plog.info(`Ops endpoints on ${url} (/health, /metrics, /stats, /customers/at-risk, /customers/:id)`)
      await processor.run()
    } finally {
      await opened.disposeAsync()
      if (processor !== undefined) for (const line of processor.stats.block()) out(line)
    }
    return 0
  }
}

/**
 * `process --streams transactions`: the fraud pipeline on the stream runtime, with the fraud
 * streaming consumer's console lines and variables (FRAUD_CONSUMER_GROUP, KAFKA_TOPIC_TRANSACTIONS,
 * KAFKA_ERROR_TOPIC, ML_API_URL, MAX_RETRIES, RETRY_BACKOFF, FRAUD_BATCH_SIZE or BATCH_SIZE, DATABASE_URL).
 */
async function runFraud (config: Config, log: Logger, idle: number | undefined): Promise<number> {
  const flog = log.child({ component: 'fraud' })
  const opened = new AsyncDisposableStack()
  let pipeline: FraudPipeline | undefined
  try {
    const fraud = openFraudPipeline(config, flog, { migrate: true })
    opened.use(fraud.store)
    pipeline = fraud.pipeline
    const settings = fraud.settings
    const runtime = new StreamRuntime({ pipeline, config, log: flog, batchSize: settings.batchSize, retry: settings.retry, ...(idle === undefined ? {} : { exitWhenIdleMs: idle * 1000 }) })
    const ops = opened.use(buildOps({ processor: runtime, log }))
    opened.use(stopSignals(flog, 'uncommitted transactions will be processed again on restart', signal => {
      flog.info(`${signal}: finishing the batch in hand, committing, closing (again to force)`)
      runtime.stop()
    }))
    const url = await listenOps(ops, config.apiHost, config.opsPort)
    flog.info(`Ops endpoints on ${url} (/health, /metrics, /stats)`)
    await runtime.run()
  } finally {
    await opened.disposeAsync()
    // The fraud streaming consumer's last line: `Consumer stopped. Total messages: N`.
    pipeline?.stopped()
  }
  return 0
}

/** The flags of `churnflow process`, checked. */
function processFlags (values: CommandContext['values']): { streams: readonly EventStream[], idle: number | undefined, table: string | undefined } {
  const streamsFlag = typeof values.streams === 'string' ? values.streams : 'both'
  const streams = streamNames[streamsFlag]
  if (streams === undefined) throw usage(`--streams="${streamsFlag}" is invalid: expected both, user-events, customer-events or transactions`)
  const idle = wholeNumberFlag(values, 'exit-when-idle', 1, 86_400)
  const table = typeof values.table === 'string' ? values.table : undefined
  return { streams, idle, table }
}
