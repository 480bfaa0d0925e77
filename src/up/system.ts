import { rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { buildApi, type ProfileReader } from '../api/index.ts'
import type { Config, LoadedConfig } from '../config/index.ts'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import { FraudScorer, shippedFraudModelPath } from '../fraud/index.ts'
import { createAdmin, createProducer, describeCluster } from '../kafka/client/index.ts'
import { HOST, localKafkaStatus, startLocalKafka, stopLocalKafka } from '../kafka/local/index.ts'
import { churnflowTopics, ensureTopics } from '../kafka/topics/index.ts'
import type { Logger } from '../logging/index.ts'
import { buildOps, EventStreams, openPipeline, Processor, type PipelineParts } from '../processor/index.ts'
import { KafkaSink, Paces, ProducerStats, runProducer, type DeliveryReport } from '../producer/index.ts'
import { Streams } from '../events/index.ts'
import { defaultSqlitePath } from '../sql/index.ts'
import { serveDashboard } from '../dashboard/index.ts'
import { livePopulationSource } from './population-source.ts'
import { readUpState, upStatePath, writeUpState, type UpState } from './state.ts'
import { startTicker } from '../util/ticker.ts'

const DAY = 86_400_000

export interface UpOptions {
  readonly loaded: LoadedConfig
  readonly env: Readonly<Record<string, string | undefined>>
  /** Lines for the person at the terminal. */
  readonly out: (line: string) => void
  readonly log: Logger
  /** Delete the local data (Kafka, SQLite, profiles, producer state) first. */
  readonly fresh: boolean
  /** Producer pace, events per second while the history catches up. 0 runs no producer. */
  readonly rate: number
  /** Customers in the simulated population (first run; later runs keep the saved population); 2,000 when not given. */
  readonly customers: number | undefined
  /** Days of history the first run replays before going live. */
  readonly historyDays: number
  /** The local broker's port, when `up` runs one (KAFKA_BROKER not set). */
  readonly kafkaPort: number
  readonly statusIntervalMs: number
  /** Resolves when it is time to stop (Ctrl+C). */
  readonly stopSignal: Promise<string>
}

/** Says clearly when a port `up` needs is taken, before anything starts. */
async function assertPortFree (host: string, port: number, what: string, fix: string): Promise<void> {
  if (port === 0) return
  await new Promise<void>((resolve, reject) => {
    const server = createServer()
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' || error.code === 'EACCES'
        ? new ChurnflowError(ErrorCodes.PORT_IN_USE, `port ${port} on ${host} (${what}) is ${error.code === 'EACCES' ? 'not allowed' : 'in use'}`, { details: [fix] })
        : error)
    })
    server.listen({ host, port, exclusive: true }, () => { server.close(() => { resolve() }) })
  })
}

const count = (n: number): string => n.toLocaleString('en-US')
const plural = (n: number, one: string, many = `${one}s`): string => `${count(n)} ${n === 1 ? one : many}`

/**
 * The whole system in one process: the local Apache Kafka (unless KAFKA_BROKER names a cluster),
 * churnflow's topics, the scoring API, a processor with its ops endpoints and a producer of a
 * simulated population, with a status line until the stop signal; then everything stops in order.
 */
export async function runUp (options: UpOptions): Promise<number> {
  const { loaded, out, env } = options
  const config = loaded.config
  const log = options.log.child({ component: 'up' })
  // Components speak at warning level unless LOG_LEVEL was asked for: the status line tells the rest.
  const quiet = loaded.sources.logLevel.layer === 'default'
  const part = (component: string): Logger => options.log.child({ component }, quiet ? { level: 'warn' } : {})
  const localKafka = loaded.sources.kafkaBrokers.layer === 'default'
  const bootstrapLocal = `${HOST}:${options.kafkaPort}`
  const runConfig: Config = localKafka ? { ...config, kafkaBrokers: [bootstrapLocal] } : config
  const statePath = upStatePath(config.stateDir)
  const cleanups: { what: string, run: () => Promise<unknown> }[] = []

  await assertPortFree(config.apiHost, config.apiPort, 'the scoring API', 'stop what holds it, or choose another with --port / API_PORT')
  await assertPortFree(config.apiHost, config.opsPort, 'the ops endpoints', 'stop what holds it, or choose another with --ops-port / OPS_PORT (0 picks a free one)')

  if (options.fresh) await wipe(config, localKafka, log)

  const saved = await readUpState(statePath)
  const state: UpState = saved ?? {
    producer: { seed: Math.floor(Math.random() * 2 ** 32), customers: options.customers ?? 2000, start: Math.floor((Date.now() - options.historyDays * DAY) / DAY) * DAY, produced: 0 },
    totals: { events: 0, predictions: 0, alerts: 0, deadLettered: 0 }
  }
  if (saved !== undefined && options.customers !== undefined && options.customers !== saved.producer.customers) {
    log.warn(`resuming the saved population of ${saved.producer.customers} customers; --customers ${options.customers} takes effect with --fresh`)
  }

  let exitCode = 0
  let processor: Processor | undefined
  let producerStats: ProducerStats | undefined
  let kafkaStarted = false
  try {
    // 1. Kafka.
    let brokers: number
    let kafkaWhere: string
    if (localKafka) {
      const before = await localKafkaStatus({ stateDir: config.stateDir })
      const kafka = await startLocalKafka({ stateDir: config.stateDir, cacheDir: config.cacheDir, log: options.log.child({ component: 'kafka' }), env, brokerPort: options.kafkaPort, heapOpts: config.kafkaHeapOpts })
      kafkaStarted = !kafka.alreadyRunning
      if (kafkaStarted) cleanups.push({ what: 'Kafka', run: () => stopLocalKafka({ stateDir: config.stateDir, log: part('kafka') }) })
      else if (before.running) log.info(`the local Kafka at ${kafka.bootstrap} was running already; it keeps running after up stops`)
      brokers = kafka.nodes.length
      kafkaWhere = `${kafka.bootstrap} (local Apache Kafka ${kafka.version}${kafka.alreadyRunning ? ', already running' : `, started in ${(kafka.startedInMs / 1000).toFixed(1)} s`}; data in ${kafka.clusterDir})`
    } else {
      try {
        brokers = (await describeCluster(runConfig, 10_000)).brokers.length
      } catch (error) {
        throw new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE, `no Kafka broker answered at ${config.kafkaBrokers.join(',')} (KAFKA_BROKER)`, {
          cause: error,
          details: ['start that cluster, or unset KAFKA_BROKER and up runs a local one']
        })
      }
      kafkaWhere = `${config.kafkaBrokers.join(',')} (your cluster, ${brokers} broker${brokers === 1 ? '' : 's'}; up starts no broker)`
    }
    const admin = createAdmin(runConfig)
    try {
      const topics = await ensureTopics(admin, churnflowTopics(runConfig, brokers))
      if (topics.created.length > 0) log.info(`created topics ${topics.created.map(t => t.name).join(', ')}`)
    } finally {
      await admin.close().catch(() => undefined)
    }

    // 2. The processor's parts, then the scoring API (which reads the same profiles when they are in process).
    const parts: PipelineParts = await openPipeline(runConfig, part('processor'))
    cleanups.push({ what: 'the database and profile store', run: () => parts.close() })
    const profiles = parts.profiles
    const reader: ProfileReader = {
      name: profiles.name,
      get: async id => (await profiles.getMany([id])).get(id)?.profile,
      ping: () => profiles.ping()
    }
    const apiModels = parts.models
    let apiUrl = 'not started (FLASK_API_URL points at a scoring API already)'
    if (apiModels !== undefined) {
      const api = buildApi({
        models: apiModels,
        fraud: { current: FraudScorer.fromFile(shippedFraudModelPath) },
        log: part('api'),
        profiles: reader,
        ...(config.apiKey === undefined ? {} : { apiKey: config.apiKey })
      })
      await api.listen({ host: config.apiHost, port: config.apiPort })
      cleanups.push({ what: 'the scoring API', run: () => api.close() })
      apiUrl = `http://${config.apiHost}:${config.apiPort} (POST /predict-churn, /predict-churn/batch, /predict; GET /health, /metrics, /model)`
    }

    processor = new Processor({
      config: runConfig,
      log: part('processor'),
      streams: [EventStreams.USER_EVENTS, EventStreams.CUSTOMER_EVENTS],
      profiles,
      predictions: parts.predictions,
      scorer: parts.scorer,
      alerts: parts.alerts,
      scoredCustomerTypes: parts.scoredCustomerTypes,
      batchSize: config.batchSize
    })
    const proc = processor
    const totals = (): UpState['totals'] => ({
      events: state.totals.events + proc.stats.eventsProcessed,
      predictions: state.totals.predictions + proc.stats.predictionsSaved,
      alerts: state.totals.alerts + proc.stats.alerts,
      deadLettered: state.totals.deadLettered + proc.stats.deadLettered
    })
    const ops = buildOps({
      processor: proc,
      log: part('ops'),
      extraStats: () => {
        const t = totals()
        return { total_events_processed: t.events, total_predictions_saved: t.predictions, total_alerts: t.alerts, total_dead_lettered: t.deadLettered, events_produced: state.producer.produced + (producerStats?.sent ?? 0) }
      }
    })
    let opsUrl: string
    try {
      opsUrl = await ops.listen({ host: config.apiHost, port: config.opsPort })
    } catch (error) {
      await ops.close()
      throw error
    }
    cleanups.push({ what: 'the ops endpoints', run: () => ops.close() })
    const dashboard = await serveDashboard(runConfig, part('dashboard'), [opsUrl])
    cleanups.push({ what: 'the dashboard', run: dashboard.close })
    apiModels?.watch()
    const saveState = (): Promise<void> => writeUpState(statePath, { producer: { ...state.producer, produced: state.producer.produced + (producerStats?.sent ?? 0) }, totals: totals() })
    cleanups.push({ what: 'the state file', run: saveState })
    const processing = proc.run()
    // Awaited below; a failure must not count as unhandled before then.
    processing.catch(() => undefined)
    cleanups.push({ what: 'the processor', run: async () => { proc.stop(); await processing } })

    // 3. The producer: the saved population, from where the last run stopped.
    const abort = new AbortController()
    let producing: Promise<void> = Promise.resolve()
    let producerLine = 'none (--rate 0)'
    if (options.rate > 0) {
      const stats = new ProducerStats()
      producerStats = stats
      const source = livePopulationSource({
        ...state.producer,
        skip: state.producer.produced,
        onCaughtUp: () => { log.info('the history has caught up with the present: the population runs live from now on, in real time') },
        topics: { [Streams.USER_EVENTS]: config.userEventsTopic, [Streams.CUSTOMER_EVENTS]: config.customerEventsTopic, [Streams.TRANSACTIONS]: config.transactionsTopic }
      })
      const plog = part('producer')
      const sink = new KafkaSink(createProducer(runConfig, { suffix: 'up-producer', compression: config.compression }), {
        onDelivery: (report: DeliveryReport) => {
          if (report.error === undefined) stats.sent += report.records.length
          else {
            stats.failed += report.records.length
            plog.error(`failed to send ${report.records.length} events: ${report.error.message}`)
          }
        }
      })
      producing = (async () => {
        try {
          await runProducer({ source, sink, pace: { kind: Paces.RATE, perSecond: options.rate }, stats, batchSize: 500, signal: abort.signal })
        } finally {
          await sink.close()
        }
      })()
      producing.catch(() => undefined)
      const from = new Date(state.producer.start).toISOString().slice(0, 10)
      producerLine = `${count(state.producer.customers)} simulated customers, history from ${from} at ${options.rate} events/s, then live` +
        (state.producer.produced > 0 ? ` (resuming after ${count(state.producer.produced)} events)` : '')
    }
    cleanups.push({ what: 'the producer', run: async () => { abort.abort(); await producing } })

    const rule = '='.repeat(60)
    for (const line of [
      rule, 'churnflow is up', rule,
      `Kafka:        ${kafkaWhere}`,
      `Scoring API:  ${apiUrl}`,
      `Dashboard:    ${dashboard.url}`,
      `Ops:          ${opsUrl}/health  ${opsUrl}/metrics  ${opsUrl}/stats`,
      `Predictions:  ${parts.predictions.name}, table ${parts.predictions.table}; topics ${config.predictionsTopic}, ${config.alertsTopic}`,
      `Profiles:     ${profiles.name}`,
      `Producer:     ${producerLine}`,
      `State:        ${config.stateDir} (up --fresh starts over)`,
      'Stop:         Ctrl+C (stops the producer, then the processor after its last commit, the API and the broker)',
      rule
    ]) out(line)

    // 4. The status line, until the stop signal or a part fails.
    let lastEvents = 0
    let lastAt = Date.now()
    const tick = async (): Promise<void> => {
      const now = Date.now()
      const rate = (proc.stats.eventsProcessed - lastEvents) / Math.max(0.001, (now - lastAt) / 1000)
      lastEvents = proc.stats.eventsProcessed
      lastAt = now
      const lag = await proc.lag().then(held => String(held.reduce((sum, p) => sum + p.lag, 0)), () => '?')
      const t = totals()
      out(`status: ${Math.round(rate)} events/s, ${plural(t.events, 'event')} processed, ${plural(t.predictions, 'prediction')} saved, ` +
        `${plural(proc.highRiskCustomers(), 'high-risk customer')}, ${plural(t.alerts, 'alert')}, lag ${lag}` +
        (t.deadLettered > 0 ? `, ${count(t.deadLettered)} dead-lettered` : ''))
      await saveState()
    }
    const ticker = startTicker(tick, options.statusIntervalMs)
    try {
      const reason = await Promise.race([
        options.stopSignal,
        processing.then(() => { throw new PartStopped('the processor', new Error('it ended on its own')) }, (error: unknown) => { throw new PartStopped('the processor', error) }),
        producing.then(() => new Promise<never>(() => undefined), (error: unknown) => { throw new PartStopped('the producer', error) }),
        ticker.failed.catch((error: unknown) => { throw new PartStopped('the status line', error) })
      ])
      log.info(`${reason}: stopping the producer, then the processor (after its last commit), the API and the broker`)
    } finally {
      ticker.stop()
    }
  } catch (error) {
    if (!(error instanceof PartStopped)) throw await cleanup(cleanups, log, error)
    log.error(error.message)
    exitCode = 1
  }
  await cleanup(cleanups, log, undefined)
  if (producerStats !== undefined) for (const line of producerStats.block()) out(line)
  if (processor !== undefined) for (const line of processor.stats.block()) out(line)
  if (localKafka && !kafkaStarted) out(`The local Kafka at ${bootstrapLocal} keeps running (churnflow kafka stop stops it).`)
  out('Everything is stopped. churnflow up continues from here; churnflow up --fresh starts over.')
  return exitCode
}

/** A part of the system stopped on its own: everything else is stopped and up exits 1. */
class PartStopped extends Error {
  constructor (what: string, cause: unknown) {
    super(`${what} stopped: ${(cause as Error).message}`, { cause })
  }
}

/** Stops what started, newest first; returns the error to throw (the first one). */
async function cleanup (cleanups: { what: string, run: () => Promise<unknown> }[], log: Logger, error: unknown): Promise<unknown> {
  while (cleanups.length > 0) {
    const step = cleanups.pop() as { what: string, run: () => Promise<unknown> }
    try {
      await step.run()
    } catch (e) {
      log.warn(`stopping ${step.what}: ${(e as Error).message}`)
    }
  }
  return error
}

/** `up --fresh`: the local broker and data, the SQLite file, the profile snapshot and up's own state. */
async function wipe (config: Config, localKafka: boolean, log: Logger): Promise<void> {
  const dir = config.stateDir
  const gone: string[] = []
  if (localKafka) {
    const status = await localKafkaStatus({ stateDir: dir })
    if (status.nodes.some(n => n.running)) await stopLocalKafka({ stateDir: dir, log })
    await rm(join(dir, 'kafka'), { recursive: true, force: true })
    gone.push('the local Kafka\'s data')
  }
  const sqlite = defaultSqlitePath(dir)
  if (config.databaseUrl === undefined && config.dbHost === undefined) {
    for (const f of [sqlite, `${sqlite}-wal`, `${sqlite}-shm`]) await rm(f, { force: true })
    gone.push('the SQLite predictions')
  }
  if (config.redisHost === undefined) {
    await rm(join(dir, 'profiles'), { recursive: true, force: true })
    gone.push('the profiles')
  }
  await rm(join(dir, 'up'), { recursive: true, force: true })
  gone.push('the producer\'s position')
  const kept = [
    ...(localKafka ? [] : ['your Kafka cluster\'s topics and offsets']),
    ...(config.databaseUrl !== undefined || config.dbHost !== undefined ? ['the configured database\'s table'] : []),
    ...(config.redisHost === undefined ? [] : ['the Redis profiles'])
  ]
  log.info(`--fresh: deleted ${gone.join(', ')} in ${dir}${kept.length > 0 ? `; kept ${kept.join(', ')} (configured services are never wiped)` : ''}`)
}
