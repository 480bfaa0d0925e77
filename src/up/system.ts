import { rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { buildApi, type ProfileReader } from '../api/index.ts'
import type { Config, LoadedConfig } from '../config/index.ts'
import { ChurnflowError, ErrorCodes, PartStopped } from '../errors.ts'
import { FraudScorer, shippedFraudModelPath } from '../fraud/index.ts'
import { createAdmin, describeCluster } from '../kafka/client/index.ts'
import { HOST, localKafkaStatus, startLocalKafka, stopLocalKafka } from '../kafka/local/index.ts'
import { ensureTopics } from '../kafka/topics/index.ts'
import type { Logger } from '../logging/index.ts'
import { bandsOf, buildOps, openPipeline, Processor, type CustomerReader, type OpsTarget, type PipelineParts } from '../processor/index.ts'
import type { ProducerStats } from '../producer/index.ts'
import { Streams } from '../events/index.ts'
import { defaultSqlitePath, migrateAtStart } from '../sql/index.ts'
import { customerPredictionReader, serveDashboard } from '../dashboard/index.ts'
import { startFraud, type FraudPart } from './fraud.ts'
import { livePopulationSource } from './population-source.ts'
import { startPacedProducer } from './producing.ts'
import { noFraudTotals, readUpState, upStatePath, writeUpState, type UpState } from './state.ts'
import { startTicker } from '../util/ticker.ts'
import { churnflowTopics } from '../stream/index.ts'
import { listeningUrl } from '../util/listen.ts'

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
  /** Run the fraud pipeline beside churn (`--no-fraud`: false). */
  readonly fraud: boolean
  /** Simulated transactions per second for the fraud pipeline. 0 runs no transaction producer. */
  readonly txRate: number
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

/** What every start step of `up` reads: the configuration, the loggers and the saved state. */
interface UpContext {
  readonly options: UpOptions
  readonly config: Config
  /** The configuration the parts run with: KAFKA_BROKER replaced by the local broker when up runs one. */
  readonly runConfig: Config
  readonly log: Logger
  /** A component's logger: at warning level unless LOG_LEVEL was asked for (the status line tells the rest). */
  readonly part: (component: string) => Logger
  readonly localKafka: boolean
  readonly bootstrapLocal: string
  readonly statePath: string
  readonly state: UpState
}

/** What `up` reports when it ends: the exit code, and the parts whose statistics it prints. */
interface UpRun {
  exitCode: number
  kafkaStarted: boolean
  processor: Processor | undefined
  producerStats: ProducerStats | undefined
  fraud: FraudPart | undefined
}

/**
 * The whole system in one process: the local Apache Kafka (unless KAFKA_BROKER names a cluster),
 * churnflow's topics, the scoring API, a processor with its ops endpoints and a producer of a
 * simulated population, the fraud pipeline with a producer of simulated transactions (unless
 * --no-fraud), with a status line until the stop signal. Each part is started by a
 * function of its own and registers its stop on one AsyncDisposableStack, so everything stops in
 * the reverse order of starting, whether up is stopped, a part fails, or a start fails.
 */
export async function runUp (options: UpOptions): Promise<number> {
  const { config } = options.loaded
  await assertPortFree(config.apiHost, config.apiPort, 'the scoring API', 'stop what holds it, or choose another with --port / API_PORT')
  await assertPortFree(config.apiHost, config.opsPort, 'the ops endpoints', 'stop what holds it, or choose another with --ops-port / OPS_PORT (0 picks a free one)')
  const localKafka = options.loaded.sources.kafkaBrokers.layer === 'default'
  const log = options.log.child({ component: 'up' })
  if (options.fresh) await wipe(config, localKafka, log)
  const ctx = await upContext(options, localKafka, log)

  const run: UpRun = { exitCode: 0, kafkaStarted: false, processor: undefined, producerStats: undefined, fraud: undefined }
  const stack = new AsyncDisposableStack()
  try {
    await startAll(ctx, stack, run)
  } catch (error) {
    if (!(error instanceof PartStopped)) {
      await stack.disposeAsync()
      throw error
    }
    log.error(error.message)
    run.exitCode = 1
  }
  await stack.disposeAsync()
  if (run.producerStats !== undefined) for (const line of run.producerStats.block()) options.out(line)
  if (run.processor !== undefined) for (const line of run.processor.stats.block()) options.out(line)
  if (run.fraud !== undefined) for (const line of fraudBlock(run.fraud)) options.out(line)
  if (localKafka && !run.kafkaStarted) options.out(`The local Kafka at ${ctx.bootstrapLocal} keeps running (churnflow kafka stop stops it).`)
  options.out('Everything is stopped. churnflow up continues from here; churnflow up --fresh starts over.')
  return run.exitCode
}

/** The context of one `up`: its configuration, loggers, and the saved state or a new population. */
async function upContext (options: UpOptions, localKafka: boolean, log: Logger): Promise<UpContext> {
  const { loaded } = options
  const config = loaded.config
  const quiet = loaded.sources.logLevel.layer === 'default'
  const bootstrapLocal = `${HOST}:${options.kafkaPort}`
  const statePath = upStatePath(config.stateDir)
  const saved = await readUpState(statePath)
  const state: UpState = saved ?? {
    producer: { seed: Math.floor(Math.random() * 2 ** 32), customers: options.customers ?? 2000, start: Math.floor((Date.now() - options.historyDays * DAY) / DAY) * DAY, produced: 0 },
    totals: { events: 0, predictions: 0, alerts: 0, deadLettered: 0 },
    fraud: noFraudTotals()
  }
  if (saved !== undefined && options.customers !== undefined && options.customers !== saved.producer.customers) {
    log.warn(`resuming the saved population of ${saved.producer.customers} customers; --customers ${options.customers} takes effect with --fresh`)
  }
  return {
    options,
    config,
    runConfig: localKafka ? { ...config, kafkaBrokers: [bootstrapLocal] } : config,
    log,
    part: component => options.log.child({ component }, quiet ? { level: 'warn' } : {}),
    localKafka,
    bootstrapLocal,
    statePath,
    state
  }
}

/** A stop step for the stack: a failure to stop one part is a warning, and the others still stop. */
function stopStep (log: Logger, what: string, stop: () => Promise<unknown>): () => Promise<void> {
  return async () => {
    try {
      await stop()
    } catch (error) {
      log.warn(`stopping ${what}: ${(error as Error).message}`)
    }
  }
}

/** Starts every part in order, prints the banner, then shows the status line until the stop signal or a part fails. */
async function startAll (ctx: UpContext, stack: AsyncDisposableStack, run: UpRun): Promise<void> {
  const kafka = await startKafka(ctx, stack)
  run.kafkaStarted = kafka.started
  await createTopics(ctx, kafka.brokers)
  const parts = await openPipeline(ctx.runConfig, ctx.part('processor'))
  stack.defer(stopStep(ctx.log, 'the database and profile store', () => parts.close()))
  // The fraud tables, before any part writes: on SQLite a migration and a pipeline's write would wait on each other.
  if (ctx.options.fraud) await migrateAtStart(ctx.runConfig, ctx.part('fraud'))
  const proc = newProcessor(ctx, parts)
  const customers = customerReader(ctx, stack, proc, parts)
  const apiUrl = await startApi(ctx, stack, parts, customers)
  run.processor = proc
  const produced = (): number => ctx.state.producer.produced + (run.producerStats?.sent ?? 0)
  const totals = (): UpState['totals'] => totalsOf(ctx.state, proc)
  const fraudTotals = (): UpState['fraud'] => fraudTotalsOf(ctx.state, run.fraud)
  const opsUrl = await startOps(ctx, stack, upOpsTarget(proc, () => run.fraud), () => {
    const t = totals()
    return { total_events_processed: t.events, total_predictions_saved: t.predictions, total_alerts: t.alerts, total_dead_lettered: t.deadLettered, events_produced: produced(), ...fraudStats(run.fraud, fraudTotals()) }
  }, customers)
  const dashboardUrl = await startDashboard(ctx, stack, opsUrl)
  parts.models?.watch()
  const saveState = (): Promise<void> => writeUpState(ctx.statePath, { producer: { ...ctx.state.producer, produced: produced() }, totals: totals(), fraud: fraudTotals() })
  stack.defer(stopStep(ctx.log, 'the state file', saveState))
  const processing = startProcessing(ctx, stack, proc)
  const producer = startProducer(ctx, stack)
  run.producerStats = producer.stats
  run.fraud = ctx.options.fraud ? startFraudPart(ctx, stack, proc) : undefined
  printBanner(ctx, { kafka: kafka.where, api: apiUrl, dashboard: dashboardUrl, ops: opsUrl, parts, producer: producer.line, fraud: run.fraud?.line ?? 'off (--no-fraud)' })
  await statusUntilStop(ctx, { proc, totals, fraud: run.fraud, fraudTotals, saveState, processing, producing: producer.producing })
}

/** 1. Kafka: the local broker, started unless it runs already (then it keeps running), or the configured cluster. */
async function startKafka (ctx: UpContext, stack: AsyncDisposableStack): Promise<{ brokers: number, where: string, started: boolean }> {
  const { config, options, log } = ctx
  if (!ctx.localKafka) return { ...await describeConfigured(ctx), started: false }
  const before = await localKafkaStatus({ stateDir: config.stateDir })
  const kafka = await startLocalKafka({ stateDir: config.stateDir, cacheDir: config.cacheDir, log: options.log.child({ component: 'kafka' }), env: options.env, brokerPort: options.kafkaPort, heapOpts: config.kafkaHeapOpts })
  const started = !kafka.alreadyRunning
  if (started) stack.defer(stopStep(log, 'Kafka', () => stopLocalKafka({ stateDir: config.stateDir, log: ctx.part('kafka') })))
  else if (before.running) log.info(`the local Kafka at ${kafka.bootstrap} was running already; it keeps running after up stops`)
  const where = `${kafka.bootstrap} (local Apache Kafka ${kafka.version}${kafka.alreadyRunning ? ', already running' : `, started in ${(kafka.startedInMs / 1000).toFixed(1)} s`}; data in ${kafka.clusterDir})`
  return { brokers: kafka.nodes.length, where, started }
}

/** The cluster KAFKA_BROKER names, which up neither starts nor stops. */
async function describeConfigured (ctx: UpContext): Promise<{ brokers: number, where: string }> {
  const { config } = ctx
  let brokers: number
  try {
    brokers = (await describeCluster(ctx.runConfig, 10_000)).brokers.length
  } catch (error) {
    throw new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE, `no Kafka broker answered at ${config.kafkaBrokers.join(',')} (KAFKA_BROKER)`, {
      cause: error,
      details: ['start that cluster, or unset KAFKA_BROKER and up runs a local one']
    })
  }
  return { brokers, where: `${config.kafkaBrokers.join(',')} (your cluster, ${brokers} broker${brokers === 1 ? '' : 's'}; up starts no broker)` }
}

async function createTopics (ctx: UpContext, brokers: number): Promise<void> {
  const admin = createAdmin(ctx.runConfig)
  try {
    const topics = await ensureTopics(admin, churnflowTopics(ctx.runConfig, brokers))
    if (topics.created.length > 0) ctx.log.info(`created topics ${topics.created.map(t => t.name).join(', ')}`)
  } finally {
    await admin.close().catch(() => undefined)
  }
}

/** 2. The scoring API, reading the processor's own profiles; none when FLASK_API_URL names another API. */
/** The processor's customers for the /customers routes, with their latest predictions from SQL. */
function customerReader (ctx: UpContext, stack: AsyncDisposableStack, proc: Processor, parts: PipelineParts): CustomerReader {
  const sql = customerPredictionReader(ctx.runConfig, 'churn_predictions')
  stack.defer(stopStep(ctx.log, 'the customer predictions reader', sql.close))
  return proc.customers({ bands: () => bandsOf(parts), predictions: sql.read })
}

async function startApi (ctx: UpContext, stack: AsyncDisposableStack, parts: PipelineParts, customers: CustomerReader): Promise<string> {
  const { config } = ctx
  const models = parts.models
  if (models === undefined) return 'not started (FLASK_API_URL points at a scoring API already)'
  const profiles = parts.profiles
  const reader: ProfileReader = {
    name: profiles.name,
    get: async id => (await profiles.getMany([id])).get(id)?.profile,
    ping: () => profiles.ping()
  }
  const api = buildApi({
    models,
    fraud: { current: FraudScorer.fromFile(shippedFraudModelPath) },
    log: ctx.part('api'),
    profiles: reader,
    customers,
    ...(config.apiKey === undefined ? {} : { apiKey: config.apiKey })
  })
  await api.listen({ host: config.apiHost, port: config.apiPort })
  stack.defer(stopStep(ctx.log, 'the scoring API', () => api.close()))
  return `${listeningUrl(api.server, config.apiHost, config.apiPort)} (POST /predict-churn, /predict-churn/batch, /predict, /predict/batch; GET /health, /metrics, /model)`
}

function newProcessor (ctx: UpContext, parts: PipelineParts): Processor {
  return new Processor({
    config: ctx.runConfig,
    log: ctx.part('processor'),
    streams: [Streams.USER_EVENTS, Streams.CUSTOMER_EVENTS],
    profiles: parts.profiles,
    predictions: parts.predictions,
    scorer: parts.scorer,
    alerts: parts.alerts,
    scoredCustomerTypes: parts.scoredCustomerTypes,
    silence: parts.silence,
    batchSize: ctx.config.batchSize
  })
}

/** Every run's totals: the saved ones plus this run's. */
function totalsOf (state: UpState, proc: Processor): UpState['totals'] {
  return {
    events: state.totals.events + proc.stats.eventsProcessed,
    predictions: state.totals.predictions + proc.stats.predictionsSaved,
    alerts: state.totals.alerts + proc.stats.alerts,
    deadLettered: state.totals.deadLettered + proc.stats.deadLettered
  }
}

/**
 * What up's ops endpoints read: the churn processor, and once the fraud pipeline runs, its
 * dependencies in /health (as fraud_kafka, fraud_database, ...) and its lag in /metrics beside churn's.
 */
function upOpsTarget (proc: Processor, fraud: () => FraudPart | undefined): OpsTarget {
  return {
    get stats () { return proc.stats },
    get metrics () { return proc.metrics },
    get running () { return proc.running },
    highRiskCustomers: () => proc.highRiskCustomers(),
    stateStats: () => proc.stateStats(),
    lag: async () => [...await proc.lag(), ...await (fraud()?.runtime.lag() ?? [])],
    health: async timeoutMs => {
      const [churn, other] = await Promise.all([proc.health(timeoutMs), fraud()?.runtime.health(timeoutMs)])
      if (other === undefined) return churn
      const dependencies = { ...churn.dependencies }
      for (const [key, d] of Object.entries(other.dependencies)) dependencies[`fraud_${key}`] = d
      return { healthy: churn.healthy && other.healthy, dependencies }
    }
  }
}

/** The processor's ops endpoints, with up's totals in /stats; resolves to their URL. */
async function startOps (ctx: UpContext, stack: AsyncDisposableStack, target: OpsTarget, extraStats: () => Record<string, number>, customers: CustomerReader): Promise<string> {
  const ops = buildOps({ processor: target, log: ctx.part('ops'), extraStats, customers })
  // Registered before listening: a listen that fails still closes the instance.
  stack.defer(stopStep(ctx.log, 'the ops endpoints', () => ops.close()))
  return ops.listen({ host: ctx.config.apiHost, port: ctx.config.opsPort })
}

/** The dashboard, reading the SQL database, Kafka and the processor's ops endpoints; resolves to its URL. */
async function startDashboard (ctx: UpContext, stack: AsyncDisposableStack, opsUrl: string): Promise<string> {
  const dashboard = await serveDashboard(ctx.runConfig, ctx.part('dashboard'), [opsUrl])
  stack.defer(stopStep(ctx.log, 'the dashboard', dashboard.close))
  return dashboard.url
}

/** 3. The processor, running until stopped; stopping it waits for its last commit. */
function startProcessing (ctx: UpContext, stack: AsyncDisposableStack, proc: Processor): Promise<void> {
  const processing = proc.run()
  // Awaited later; a failure must not count as unhandled before then.
  processing.catch(() => undefined)
  stack.defer(stopStep(ctx.log, 'the processor', async () => { proc.stop(); await processing }))
  return processing
}

/** 4. The producer: the saved population, from where the last run stopped; none at --rate 0. */
function startProducer (ctx: UpContext, stack: AsyncDisposableStack): { producing: Promise<void>, stats: ProducerStats | undefined, line: string } {
  const { options, config, state } = ctx
  if (options.rate <= 0) return { producing: Promise.resolve(), stats: undefined, line: 'none (--rate 0)' }
  const source = livePopulationSource({
    ...state.producer,
    skip: state.producer.produced,
    onCaughtUp: () => { ctx.log.info('the history has caught up with the present: the population runs live from now on, in real time') },
    topics: { [Streams.USER_EVENTS]: config.userEventsTopic, [Streams.CUSTOMER_EVENTS]: config.customerEventsTopic, [Streams.TRANSACTIONS]: config.transactionsTopic }
  })
  const { producing, stats } = startPacedProducer({
    config: ctx.runConfig, source, rate: options.rate, suffix: 'up-producer', log: ctx.part('producer'), what: 'the producer', defer: deferOn(ctx, stack)
  })
  const from = new Date(state.producer.start).toISOString().slice(0, 10)
  const line = `${count(state.producer.customers)} simulated customers, history from ${from} at ${options.rate} events/s, then live` +
    (state.producer.produced > 0 ? ` (resuming after ${count(state.producer.produced)} events)` : '')
  return { producing, stats, line }
}

/** Registers a part's stop on the stack, as a stop step. */
function deferOn (ctx: UpContext, stack: AsyncDisposableStack): (what: string, stop: () => Promise<unknown>) => void {
  return (what, stop) => { stack.defer(stopStep(ctx.log, what, stop)) }
}

/** 5. The fraud pipeline and its producer of transactions, on the churn processor's metrics. */
function startFraudPart (ctx: UpContext, stack: AsyncDisposableStack, proc: Processor): FraudPart {
  return startFraud({ config: ctx.runConfig, log: ctx.part('fraud'), metrics: proc.metrics, seed: ctx.state.producer.seed, rate: ctx.options.txRate, defer: deferOn(ctx, stack) })
}

/** The fraud counts over every run: the saved ones plus this run's. */
function fraudTotalsOf (state: UpState, fraud: FraudPart | undefined): UpState['fraud'] {
  const s = fraud?.stats
  return { scored: state.fraud.scored + (s?.scored ?? 0), flagged: state.fraud.flagged + (s?.fraud ?? 0), deadLettered: state.fraud.deadLettered + (s?.deadLettered ?? 0) }
}

/** The fraud figures of /stats: this run's and every run's. */
function fraudStats (fraud: FraudPart | undefined, totals: UpState['fraud']): Record<string, number> {
  if (fraud === undefined) return {}
  return {
    transactions_produced: fraud.producerStats?.sent ?? 0,
    transactions_scored: fraud.stats.scored,
    transactions_flagged: fraud.stats.fraud,
    transactions_dead_lettered: fraud.stats.deadLettered,
    total_transactions_scored: totals.scored,
    total_transactions_flagged: totals.flagged,
    total_transactions_dead_lettered: totals.deadLettered
  }
}

/** The fraud part's statistics when up stops: its pipeline's block, with what its producer sent. */
function fraudBlock (fraud: FraudPart): string[] {
  const lines = fraud.stats.block()
  if (fraud.producerStats === undefined) return lines
  return [...lines.slice(0, 4), `Transactions Produced: ${fraud.producerStats.sent}`, ...lines.slice(4)]
}

function printBanner (ctx: UpContext, where: { kafka: string, api: string, dashboard: string, ops: string, parts: PipelineParts, producer: string, fraud: string }): void {
  const { config } = ctx
  const rule = '='.repeat(60)
  for (const line of [
    rule, 'churnflow is up', rule,
    `Kafka:        ${where.kafka}`,
    `Scoring API:  ${where.api}`,
    `Dashboard:    ${where.dashboard}`,
    `Ops:          ${where.ops}/health  ${where.ops}/metrics  ${where.ops}/stats`,
    `Predictions:  ${where.parts.predictions.name}, table ${where.parts.predictions.table}; topics ${config.predictionsTopic}, ${config.alertsTopic}`,
    `Profiles:     ${where.parts.profiles.name}`,
    `Producer:     ${where.producer}`,
    `Fraud:        ${where.fraud}`,
    `State:        ${config.stateDir} (up --fresh starts over)`,
    'Stop:         Ctrl+C (stops the producers, then the processors after their last commit, the API and the broker)',
    rule
  ]) ctx.options.out(line)
}

interface Running {
  readonly proc: Processor
  readonly totals: () => UpState['totals']
  readonly fraud: FraudPart | undefined
  readonly fraudTotals: () => UpState['fraud']
  readonly saveState: () => Promise<void>
  readonly processing: Promise<void>
  readonly producing: Promise<void>
}

/** 6. The status line, until the stop signal (resolves) or a part stops on its own (PartStopped). */
async function statusUntilStop (ctx: UpContext, running: Running): Promise<void> {
  const { proc, totals } = running
  let lastEvents = 0
  let lastAt = Date.now()
  const tick = async (): Promise<void> => {
    const now = Date.now()
    const rate = (proc.stats.eventsProcessed - lastEvents) / Math.max(0.001, (now - lastAt) / 1000)
    lastEvents = proc.stats.eventsProcessed
    lastAt = now
    const lag = await proc.lag().then(held => String(held.reduce((sum, p) => sum + p.lag, 0)), () => '?')
    const t = totals()
    ctx.options.out(`status: ${Math.round(rate)} events/s, ${plural(t.events, 'event')} processed, ${plural(t.predictions, 'prediction')} saved, ` +
      `${plural(proc.highRiskCustomers(), 'high-risk customer')}, ${plural(t.alerts, 'alert')}, lag ${lag}` +
      (t.deadLettered > 0 ? `, ${count(t.deadLettered)} dead-lettered` : '') +
      (running.fraud === undefined ? '' : fraudStatus(running.fraudTotals())))
    await running.saveState()
  }
  const ticker = startTicker(tick, ctx.options.statusIntervalMs)
  try {
    const reason = await Promise.race([
      ctx.options.stopSignal,
      running.processing.then(() => { throw new PartStopped('the processor', new Error('it ended on its own')) }, (error: unknown) => { throw new PartStopped('the processor', error) }),
      running.producing.then(() => new Promise<never>(() => undefined), (error: unknown) => { throw new PartStopped('the producer', error) }),
      ...fraudEnds(running.fraud),
      ticker.failed.catch((error: unknown) => { throw new PartStopped('the status line', error) })
    ])
    ctx.log.info(`${reason}: stopping the producers, then the processors (after their last commit), the API and the broker`)
  } finally {
    ticker.stop()
  }
}

/** The status line's fraud figures, over every run. */
function fraudStatus (f: UpState['fraud']): string {
  return `; fraud: ${plural(f.scored, 'transaction')} scored, ${count(f.flagged)} flagged` + (f.deadLettered > 0 ? `, ${count(f.deadLettered)} dead-lettered` : '')
}

/** The fraud part stopping on its own, as the status line's race sees it. */
function fraudEnds (fraud: FraudPart | undefined): Promise<never>[] {
  if (fraud === undefined) return []
  return [
    fraud.processing.then(() => { throw new PartStopped('the fraud pipeline', new Error('it ended on its own')) }, (error: unknown) => { throw new PartStopped('the fraud pipeline', error) }),
    fraud.producing.then(() => new Promise<never>(() => undefined), (error: unknown) => { throw new PartStopped('the transaction producer', error) })
  ]
}

/** `up --fresh`: the local broker and data, the SQLite file, the profiles' local checkpoints and up's own state. */
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
    gone.push('the SQLite database (churn predictions, fraud transactions and predictions)')
  }
  // Checkpoints of the state in the changelog topics (the profiles, unless Redis holds them, and
  // the fraud accounts): gone with the local Kafka's data; a configured cluster restores them.
  await rm(join(dir, 'state'), { recursive: true, force: true })
  gone.push(config.redisHost === undefined ? 'the profiles\' and accounts\' checkpoints' : 'the accounts\' checkpoints')
  await rm(join(dir, 'up'), { recursive: true, force: true })
  gone.push('the producer\'s position')
  const kept = [
    ...(localKafka ? [] : ['your Kafka cluster\'s topics and offsets']),
    ...(config.databaseUrl !== undefined || config.dbHost !== undefined ? ['the configured database\'s tables'] : []),
    ...(config.redisHost === undefined ? [] : ['the Redis profiles'])
  ]
  log.info(`--fresh: deleted ${gone.join(', ')} in ${dir}${kept.length > 0 ? `; kept ${kept.join(', ')} (configured services are never wiped)` : ''}`)
}
