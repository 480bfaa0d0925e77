import { createWriteStream, type WriteStream } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Config } from '../config/index.ts'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import { parseEventTime, Streams, type Stream } from '../events/index.ts'
import { createAdmin, createProducer, describeCluster } from '../kafka/client/index.ts'
import { ensureTopics } from '../kafka/topics/index.ts'
import { createLogger, type Logger } from '../logging/index.ts'
import {
  FileSink, KafkaSink, Paces, ProducerStats, ReplayFormats, replaySource, runProducer, simulatorSource,
  type DeliveryReport, type Generator, type Pace, type RecordSink, type RecordSource, type TopicNames
} from '../producer/index.ts'
import { Population, RandomCustomerEvents, RandomUserEvents, transactionDefaults, TransactionStream, UserEventShapes, type SimRecord, type UserEventShape } from '../simulator/index.ts'
import { Rng } from '../util/rng.ts'
import { attemptsWithin, backoffDelay, parseDuration } from '../util/backoff.ts'
import type { Command, CommandContext } from './command.ts'
import { decimalOrMaxFlag, mapFlag, usage, wholeNumberFlag } from './flags.ts'
import { churnflowTopics } from '../stream/index.ts'

const DAY = 86_400_000
/** At or below this many events per second, each event gets its own console line. */
const PER_EVENT_LINES_UP_TO = 10

/** What the seeds print for each event sent. */
function eventLine (event: Readonly<Record<string, unknown>>, report: DeliveryReport): string {
  const where = report.partition === undefined ? '' : `, Partition: ${report.partition}, Offset: ${String(report.offset)}`
  const meta = (event.metadata ?? {}) as Record<string, unknown>
  if (event.transaction_id !== undefined) {
    return `Transaction sent successfully - Account: ${String(event.account_id)}, Amount: ${Number(event.amount).toFixed(2)} ${String(event.currency)}, Category: ${String(event.merchant_category)}, Country: ${String(event.country)}${where}`
  }
  if (event.customer_id !== undefined) {
    return `Event sent successfully - Customer: ${String(event.customer_id)}, Event: ${String(event.event_type)}${where}`
  }
  const product = meta.product_id === undefined ? '' : `, Product: ${String(meta.product_id)}`
  const session = meta.session_length === undefined ? '' : `, Session: ${String(meta.session_length)}min`
  return `Event sent successfully - User: ${String(event.user_id)}, Event: ${String(event.event_type)}${product}${session}${where}`
}

/** How a batch failed, as measured: refused at once, or given up on after retrying for so long. */
function failureTiming (report: DeliveryReport): string {
  const seconds = ((report.elapsedMs ?? 0) / 1000).toFixed(1)
  return report.retriable === false
    ? `(refused by the broker after ${seconds} s; not retried, as retrying cannot help)`
    : `after retrying for ${seconds} s`
}

function rootMessage (error: unknown): string {
  let e = error as { message?: string, cause?: unknown, errors?: unknown[] } | undefined
  for (let i = 0; i < 6 && e !== undefined; i++) {
    const inner = e.errors?.[e.errors.length - 1] ?? e.cause
    if (inner === undefined) break
    e = inner as typeof e
  }
  return e?.message ?? String(error)
}

async function waitForBroker (config: Config, log: Logger, budgetMs: number, signal: AbortSignal): Promise<number> {
  const started = Date.now()
  for (let attempt = 1; ; attempt++) {
    try {
      return (await describeCluster(config, 3000)).brokers.length
    } catch (error) {
      if (signal.aborted || Date.now() - started >= budgetMs) {
        throw new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE, `no Kafka broker answered at ${config.kafkaBrokers.join(',')} for ${Math.round((Date.now() - started) / 1000)} s`, {
          retriable: true,
          details: ['start the local one with `churnflow kafka start`, or set KAFKA_BROKER to a running cluster']
        })
      }
      const delay = backoffDelay(attempt, { baseMs: 500, maxMs: 5000 })
      log.warn(`Kafka at ${config.kafkaBrokers.join(',')} is not reachable (${rootMessage(error)}); retrying in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1})`)
      try {
        await sleep(delay, undefined, { signal })
      } catch {
        // aborted; the next round ends it
      }
    }
  }
}

function startOf (values: CommandContext['values'], days: number | undefined): number {
  const raw = values.start
  if (typeof raw === 'string') {
    const t = parseEventTime(/^\d{4}-\d{2}-\d{2}$/.test(raw) ? `${raw}T00:00:00Z` : raw)
    if (t === undefined) throw usage(`--start="${raw}" is invalid: expected a date (2025-01-01) or an ISO 8601 time`)
    return t
  }
  const now = Date.now()
  return days === undefined ? now : Math.floor((now - days * DAY) / DAY) * DAY
}

export const produceCommand: Command = {
  name: 'produce',
  summary: 'produce events: the seeds\' random streams, a customer population that churns, transactions, or a file replay',
  usage: 'churnflow produce [--stream user-events|customer-events|transactions] [--mode random|population] [pace] [options]',
  help: [
    'What:',
    '  --stream S          user-events (default), customer-events or transactions; population mode: both event',
    '                      streams unless this picks one',
    '  --mode M            random (default): independent events as the seeds\' producers send them;',
    '                      population: customers with hidden traits who drift away and churn',
    '  --shape S           user-events in seed003 (default) or seed002 shape (random mode)',
    '  --users N           random user-events: user_id from 1 to N (default 1000)',
    '  --customers N       customer population / customer-events ids (default 1000)',
    '  --accounts N        transactions: accounts (default 1000)   --fraud-rate F  share of fraud (default 0.01)',
    '  --days D            simulate D days of history (population, transactions), as fast as possible',
    '  --start DATE        simulated start (default: D days ago, or now for a live stream)',
    '  --seed N            same seed, same events',
    '  --truth FILE        write the simulator\'s truth as JSON lines (population: per customer; transactions:',
    '                      per transaction)',
    'Pace (default: one event every PRODUCER_INTERVAL seconds, 3):',
    '  --interval S        seconds between events       --rate N|max   events per second, or as fast as possible',
    '  --count N           stop after N events          --duration T   stop after T (90s, 5m, 2h)',
    'Where:',
    '  Kafka (KAFKA_BROKER, topics from KAFKA_TOPIC and friends), or --output FILE (JSON lines; - is stdout)',
    'Replay:',
    '  --from-file FILE    replay recorded events (JSON lines, or CSV with --format csv) with their keys and',
    '                      timestamps; --speed X replays X times faster than recorded, --speed max at once',
    '  --map f=col,...     CSV: which column holds user_id, customer_id, event_type, timestamp; other columns',
    '                      become metadata (user-events) or data (customer-events)',
    'Failures:',
    '  --retry-timeout S   how long to keep retrying an absent broker or a failed batch (default 60)'
  ].join('\n'),
  options: {
    stream: { type: 'string' },
    mode: { type: 'string', default: 'random' },
    shape: { type: 'string', default: UserEventShapes.SEED003 },
    users: { type: 'string' },
    customers: { type: 'string' },
    accounts: { type: 'string' },
    'fraud-rate': { type: 'string' },
    days: { type: 'string' },
    start: { type: 'string' },
    seed: { type: 'string' },
    truth: { type: 'string' },
    rate: { type: 'string' },
    count: { type: 'string' },
    duration: { type: 'string' },
    output: { type: 'string' },
    'from-file': { type: 'string' },
    format: { type: 'string' },
    map: { type: 'string' },
    speed: { type: 'string' },
    'retry-timeout': { type: 'string' }
  },
  async run (context) {
    const { values, config } = context
    const toStdout = values.output === '-'
    // Events on stdout leave the console lines to stderr.
    const log = toStdout ? createLogger({ level: config.logLevel, format: config.logFormat, destination: process.stderr }) : context.log
    const topics: TopicNames = { [Streams.USER_EVENTS]: config.userEventsTopic, [Streams.CUSTOMER_EVENTS]: config.customerEventsTopic, [Streams.TRANSACTIONS]: config.transactionsTopic }
    const stats = new ProducerStats()
    const fromFile = typeof values['from-file'] === 'string' ? values['from-file'] : undefined
    const mode = String(values.mode)
    if (mode !== 'random' && mode !== 'population') throw usage(`--mode="${mode}" is invalid: expected random or population`)
    const streamArg = typeof values.stream === 'string' ? values.stream : undefined
    const knownStreams: readonly string[] = Object.values(Streams)
    if (streamArg !== undefined && !knownStreams.includes(streamArg)) throw usage(`--stream="${streamArg}" is invalid: expected one of ${knownStreams.join(', ')}`)
    const shape = String(values.shape)
    if (shape !== UserEventShapes.SEED003 && shape !== UserEventShapes.SEED002) throw usage(`--shape="${shape}" is invalid: expected seed003 or seed002`)
    const days = wholeNumberFlag(values, 'days', 1, 3650)
    const count = wholeNumberFlag(values, 'count', 1, Number.MAX_SAFE_INTEGER)
    const durationText = typeof values.duration === 'string' ? values.duration : undefined
    const durationMs = durationText === undefined ? undefined : parseDuration(durationText)
    if (durationText !== undefined && durationMs === undefined) throw usage(`--duration="${durationText}" is invalid: expected a time such as 90s, 5m or 2h`)
    const retryText = typeof values['retry-timeout'] === 'string' ? values['retry-timeout'] : '60'
    const retryMs = parseDuration(retryText)
    if (retryMs === undefined) throw usage(`--retry-timeout="${retryText}" is invalid: expected seconds, or a time such as 2m`)
    const seed = wholeNumberFlag(values, 'seed', 0, 2 ** 32 - 1) ?? Math.floor(Math.random() * 2 ** 32)
    const rng = new Rng(seed)
    const rate = decimalOrMaxFlag(values, 'rate')
    const speed = decimalOrMaxFlag(values, 'speed')
    const fraudText = typeof values['fraud-rate'] === 'string' ? values['fraud-rate'] : String(transactionDefaults.fraudRate)
    const fraudRate = Number(fraudText)
    if (!(fraudRate >= 0 && fraudRate <= 0.5) || !/^\d*\.?\d+$/.test(fraudText)) throw usage(`--fraud-rate="${fraudText}" is invalid: expected a share from 0 to 0.5`)
    const truthPath = typeof values.truth === 'string' ? values.truth : undefined

    let pace: Pace
    if (rate === 'max' || (rate === undefined && days !== undefined && fromFile === undefined)) pace = { kind: Paces.MAX }
    else if (rate !== undefined) pace = { kind: Paces.RATE, perSecond: rate }
    else if (fromFile !== undefined) pace = speed === 'max' ? { kind: Paces.MAX } : { kind: Paces.RECORDED, speed: speed ?? 1 }
    else pace = { kind: Paces.INTERVAL, seconds: config.producerInterval }
    const perEvent = pace.kind === Paces.INTERVAL || (pace.kind === Paces.RATE && pace.perSecond <= PER_EVENT_LINES_UP_TO) ||
      (pace.kind === Paces.RECORDED && pace.speed <= 1)

    // The source, and the streams it writes.
    const writtenStreams: Stream[] = fromFile !== undefined
      ? (streamArg === undefined ? Object.values(Streams) : [streamArg as Stream])
      : streamArg !== undefined ? [streamArg as Stream]
        : mode === 'population' ? [Streams.USER_EVENTS, Streams.CUSTOMER_EVENTS] : [Streams.USER_EVENTS]
    let source: RecordSource
    let description: string
    let truthOut: WriteStream | undefined
    const invalid = (line: number, reason: string): void => {
      stats.generated++
      stats.failed++
      log.warn(`Line ${line} of ${fromFile ?? ''} is not an event (${reason}); counted as failed`)
    }
    if (fromFile !== undefined) {
      const format = typeof values.format === 'string' ? values.format : fromFile.endsWith('.csv') ? ReplayFormats.CSV : ReplayFormats.JSONL
      if (format !== ReplayFormats.CSV && format !== ReplayFormats.JSONL) throw usage(`--format="${format}" is invalid: expected jsonl or csv`)
      const mapping = mapFlag(values)
      source = replaySource({
        path: fromFile,
        format,
        topics,
        mapping,
        ...(streamArg === undefined ? {} : { stream: streamArg as Stream }),
        onInvalid: invalid
      })
      description = `replay of ${fromFile} (${format})`
    } else {
      let generator: Generator
      let streams: ReadonlySet<Stream> | undefined
      let onRecord: ((r: SimRecord) => void) | undefined
      let close: (() => Promise<void>) | undefined
      const start = startOf(values, days)
      const end = days === undefined ? Infinity : start + days * DAY
      if (truthPath !== undefined && mode !== 'population' && streamArg !== Streams.TRANSACTIONS) {
        throw usage('--truth needs --mode population or --stream transactions: independent random events have no hidden truth')
      }
      if (streamArg === Streams.TRANSACTIONS) {
        const accounts = wholeNumberFlag(values, 'accounts', 1, 10_000_000) ?? transactionDefaults.accounts
        const stream = new TransactionStream(rng, { accounts, fraudRate, start, end, live: end === Infinity })
        generator = { next: now => stream.next(now) }
        if (truthPath !== undefined) {
          const out = createWriteStream(truthPath)
          truthOut = out
          onRecord = () => { out.write(JSON.stringify(stream.lastTruth) + '\n') }
        }
        description = `transactions of ${accounts} accounts, fraud rate ${fraudRate}`
      } else if (mode === 'population') {
        const customers = wholeNumberFlag(values, 'customers', 1, 10_000_000) ?? 1000
        const population = new Population(rng, { customers, start, end })
        generator = { next: () => population.next() }
        if (streamArg !== undefined) streams = new Set([streamArg as Stream])
        if (truthPath !== undefined) {
          close = async () => {
            const out = createWriteStream(truthPath)
            for (const truth of population.truth()) {
              if (!out.write(JSON.stringify(truth) + '\n')) await new Promise<void>(resolve => out.once('drain', () => { resolve() }))
            }
            await new Promise<void>(resolve => out.end(resolve))
          }
        }
        description = `population of ${customers} customers${days === undefined ? ', live' : `, ${days} days from ${new Date(start).toISOString().slice(0, 10)}`}`
      } else if (streamArg === Streams.CUSTOMER_EVENTS) {
        const customers = wholeNumberFlag(values, 'customers', 1, 10_000_000) ?? 1000
        const random = new RandomCustomerEvents(rng, { customers })
        generator = { next: now => random.next(now) }
        description = `random customer-events of ${customers} customers`
      } else {
        const users = wholeNumberFlag(values, 'users', 1, 100_000_000) ?? 1000
        const random = new RandomUserEvents(rng, { users, shape: shape as UserEventShape })
        generator = { next: now => random.next(now) }
        description = `random user-events (${shape} shape) of users 1 to ${users}`
      }
      source = simulatorSource(generator, topics, {
        // Simulated time must not run ahead of the wall clock in a live run (the random streams stamp `now`).
        live: end === Infinity,
        ...(streams === undefined ? {} : { streams }),
        ...(onRecord === undefined ? {} : { onRecord }),
        ...(close === undefined ? {} : { close })
      })
    }

    const abort = new AbortController()
    const onSignal = (): void => {
      if (!abort.signal.aborted) log.info('Stopping: finishing the batches in flight')
      abort.abort()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)

    const onDelivery = (report: DeliveryReport): void => {
      if (report.error === undefined) {
        stats.sent += report.records.length
        if (perEvent) for (const r of report.records) log.info(eventLine(r.event, report))
      } else {
        stats.failed += report.records.length
        log.error(`Failed to send ${report.records.length} event${report.records.length === 1 ? '' : 's'} ${failureTiming(report)}: ${rootMessage(report.error)}`)
      }
    }

    const rule = '='.repeat(60)
    const paceText = pace.kind === Paces.INTERVAL ? `one event every ${pace.seconds.toFixed(1)} seconds`
      : pace.kind === Paces.RATE ? `${pace.perSecond} events per second`
        : pace.kind === Paces.RECORDED ? (pace.speed === 1 ? 'as recorded' : `${pace.speed} times faster than recorded`) : 'as fast as possible'
    let sink: RecordSink
    let progress: ReturnType<typeof setInterval> | undefined
    try {
      for (const line of [rule, 'churnflow event producer', rule,
        ...(values.output === undefined ? [`Kafka Bootstrap Servers: ${config.kafkaBrokers.join(',')}`] : [`Output: ${toStdout ? 'stdout' : String(values.output)}`]),
        `Events: ${description}`, `Pace: ${paceText}${count === undefined ? '' : `, ${count} events`}${durationMs === undefined ? '' : `, for ${durationText ?? ''}`}`,
        ...(fromFile === undefined ? [`Seed: ${seed}`] : []), rule]) log.info(line)

      if (typeof values.output === 'string') {
        sink = new FileSink(values.output, onDelivery)
      } else {
        const brokers = await waitForBroker(config, log, retryMs, abort.signal)
        const admin = createAdmin(config)
        try {
          const written = new Set(writtenStreams.map(s => topics[s]))
          const result = await ensureTopics(admin, churnflowTopics(config, brokers).filter(t => written.has(t.name)))
          for (const t of result.created) log.info(`Created topic '${t.name}' (${t.partitions} partitions)`)
          log.info(`Successfully connected to Kafka. ${[...result.created, ...result.existing]
            .map(t => `Topic '${t.name}' has ${t.partitions} partitions`).join('; ')}`)
        } finally {
          await admin.close()
        }
        const producer = createProducer(config, {
          compression: config.compression,
          retries: attemptsWithin(retryMs, { baseMs: 250, maxMs: 5000 }),
          retryDelay: attempt => backoffDelay(attempt, { baseMs: 250, maxMs: 5000 })
        })
        sink = new KafkaSink(producer, { onDelivery, lingerMs: config.lingerMs })
      }
      log.info(`Starting to produce events ${paceText}...`)
      log.info('Press Ctrl+C to stop')
      if (!perEvent) {
        let last = 0
        progress = setInterval(() => {
          log.info(`Progress - ${stats.sent - last} events/s, sent ${stats.sent}, failed ${stats.failed}, generated ${stats.generated}`)
          last = stats.sent
        }, 1000)
        progress.unref()
      }
      try {
        await runProducer({ source, sink, pace, stats, batchSize: pace.kind === Paces.MAX ? 4000 : 1000, signal: abort.signal, ...(count === undefined ? {} : { count }), ...(durationMs === undefined ? {} : { durationMs }) })
      } finally {
        await sink.close()
      }
    } finally {
      if (progress !== undefined) clearInterval(progress)
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      await source.close?.()
      if (truthOut !== undefined) {
        const out = truthOut
        await new Promise<void>(resolve => out.end(resolve))
      }
      for (const line of stats.block()) log.info(line)
    }
    return stats.failed === 0 ? 0 : 1
  }
}
