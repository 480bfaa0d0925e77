import { ChurnflowError, ErrorCodes } from '../errors.ts'
import { describeCluster } from '../kafka/client/index.ts'
import { PoisonCodes } from '../processor/index.ts'
import type { Command, CommandContext } from './command.ts'
import { usage, wholeNumberFlag } from './flags.ts'
import { DeadLetterHeaders, NO_TARGET, replayDeadLetters, replayGroupId, type ReplayResult, ReplayStops } from '../stream/index.ts'

const actions = ['replay', 'count'] as const
const knownCodes: readonly string[] = Object.values(PoisonCodes)
/** How many records a dry run shows. */
const sampleCount = 5

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

function stringFlag (values: CommandContext['values'], name: string): string | undefined {
  const raw = values[name]
  if (raw === undefined || typeof raw === 'boolean') return undefined
  if (raw.trim() === '') throw usage(`--${name} needs a value`)
  return raw.trim()
}

/** `--code a,b`: error codes the processor writes, nothing else (a typo would skip every record for good). */
function codesFlag (values: CommandContext['values']): Set<string> | undefined {
  const raw = stringFlag(values, 'code')
  if (raw === undefined) return undefined
  const codes = raw.split(',').map(c => c.trim()).filter(c => c !== '')
  const unknown = codes.filter(c => !knownCodes.includes(c))
  if (codes.length === 0 || unknown.length > 0) {
    throw usage(`--code="${raw}" is invalid: expected a comma-separated list of ${knownCodes.join(', ')}`)
  }
  return new Set(codes)
}

function codeLines (result: ReplayResult, codes: ReadonlySet<string> | undefined): string[] {
  const rows = [...result.byCode].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
  const width = Math.max(...rows.map(([code]) => code.length))
  return rows.map(([code, n]) => `  ${code.padEnd(width)}  ${String(n).padStart(7)}${codes !== undefined && !codes.has(code) ? '  (skipped: not in --code)' : ''}`)
}

function nothingToReplay (result: ReplayResult, fromBeginning: boolean): string {
  return fromBeginning
    ? `nothing to replay: ${result.topic} is empty`
    : `nothing to replay: ${result.topic} has no record after where the last replay stopped (consumer group ${result.groupId})`
}

export const dlqCommand: Command = {
  name: 'dlq',
  summary: 'dead-letter records: count them, or replay them to their source topic after a fix',
  usage: 'churnflow dlq replay|count [--topic DLQ_TOPIC] [--to TOPIC] [--dry-run] [--from-beginning] [--code CODE,...] [--limit N]',
  options: {
    topic: { type: 'string' },
    to: { type: 'string' },
    'dry-run': { type: 'boolean' },
    'from-beginning': { type: 'boolean' },
    code: { type: 'string' },
    limit: { type: 'string' }
  },
  help: [
    '`churnflow process` (churn and fraud: `--streams transactions`) and `churnflow up` send records they cannot',
    'use to <topic>-failed (user-events-failed, customer-events-failed, transactions-failed) or KAFKA_ERROR_TOPIC,',
    'value and key unchanged, with churnflow-error-code, churnflow-error-message and the source topic, partition',
    'and offset in headers. Once the cause is fixed, replay sends them back:',
    '',
    '  replay   reads DLQ_TOPIC from where the last replay of it stopped up to its end as of the start',
    '           (records that arrive meanwhile wait for the next replay), and produces each record to',
    '           its churnflow-source-topic header\'s topic (or DLQ_TOPIC without -failed) with the same',
    '           value, key and timestamp, the headers it had, and churnflow-replayed-from:',
    '           <dlq topic>:<partition>:<offset> instead of the churnflow-* dead-letter headers.',
    '           Where it stopped is the offsets of the consumer group <KAFKA_GROUP_ID>-dlq-replay',
    '           (churn-consumer-group-dlq-replay by default; for transactions-failed',
    '           <FRAUD_CONSUMER_GROUP>-dlq-replay), committed only after the records',
    '           before them are acknowledged (acks=all): a crash or Ctrl+C sends again at most the last',
    '           batch and never skips one. Run one replay of a topic at a time.',
    '  count    how many records wait for the next replay, by error code; reads, changes nothing.',
    '',
    '  --topic DLQ_TOPIC    the dead-letter topic, e.g. user-events-failed or transactions-failed (here --topic',
    '                       names the dead-letter topic, not KAFKA_TOPIC); KAFKA_ERROR_TOPIC when not given,',
    '                       required when that is not set',
    '  --to TOPIC           produce every record to TOPIC instead of its source topic',
    '  --dry-run            read the same records, print their count by error code and the first few;',
    '                       produce nothing, commit nothing',
    '  --from-beginning     start at the earliest offset instead of where the last replay stopped',
    '  --code CODE,...      replay only records with these error codes; the others are counted as skipped',
    '                       and the position moves past them, so a later replay does not see them again',
    '                       (--from-beginning --code ... does). Codes:',
    `                       ${knownCodes.join(', ')}`,
    '  --limit N            stop after replaying N records; the next replay goes on from there',
    '',
    'Ends with: Replayed N records from DLQ_TOPIC to TOPIC (skipped M), or "nothing to replay".'
  ].join('\n'),
  async run ({ positionals, values, config, out }) {
    const action = positionals[0]
    if (action === undefined || !(actions as readonly string[]).includes(action) || positionals.length > 1) {
      throw usage(`${action === undefined ? 'no dlq action given' : `unknown dlq action "${positionals.join(' ')}"`}: expected ${actions.join(' or ')}; churnflow dlq --help tells more`)
    }
    // KAFKA_ERROR_TOPIC is every pipeline's one dead-letter topic: the one to read unless told otherwise.
    const topic = stringFlag(values, 'topic') ?? config.errorTopic
    if (topic === undefined) throw usage('--topic is required: the dead-letter topic to read, e.g. --topic user-events-failed or --topic transactions-failed')
    const to = stringFlag(values, 'to')
    const codes = codesFlag(values)
    const limit = wholeNumberFlag(values, 'limit', 1, Number.MAX_SAFE_INTEGER)
    const fromBeginning = values['from-beginning'] === true
    const counting = action === 'count'
    if (counting) {
      const extra = ['to', 'code', 'limit', 'dry-run'].filter(f => values[f] !== undefined)
      if (extra.length > 0) throw usage(`dlq count takes --topic and --from-beginning only, not ${extra.map(f => `--${f}`).join(', ')}`)
    }
    if (to !== undefined && to === topic) throw usage(`--to ${to} is the dead-letter topic itself`)
    const dryRun = counting || values['dry-run'] === true

    try {
      await describeCluster(config)
    } catch (error) {
      throw new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE, `no Kafka broker answered at ${config.kafkaBrokers.join(',')}`, {
        cause: error,
        retriable: true,
        details: ['start the local one with `churnflow kafka start`, or set KAFKA_BROKER to a running cluster']
      })
    }

    const abort = new AbortController()
    let signals = 0
    const onSignal = (signal: NodeJS.Signals): void => {
      if (++signals === 1) {
        out(`${signal}: stopping after the batch in hand (again to force)`)
        abort.abort()
      } else {
        process.exit(130)
      }
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    let result: ReplayResult
    try {
      result = await replayDeadLetters({
        connection: config,
        groupId: replayGroupId(config, topic),
        topic,
        ...(to === undefined ? {} : { to }),
        dryRun,
        fromBeginning,
        ...(codes === undefined ? {} : { codes }),
        ...(limit === undefined ? {} : { limit }),
        compression: config.compression,
        samples: counting ? 0 : sampleCount,
        batchSize: config.batchSize,
        signal: abort.signal,
        onProgress: p => {
          const rate = p.read / Math.max(0.001, p.elapsedMs / 1000)
          out(`${dryRun ? 'reading' : 'replaying'} ${topic}: ${p.read} of ${p.pending} records read, ${p.replayed} ${dryRun ? 'to replay' : 'replayed'}, ${p.skipped} skipped, ${Math.round(rate)} records/s`)
        }
      })
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }

    if (result.pending === 0) {
      out(nothingToReplay(result, fromBeginning))
      return 0
    }
    const toText = result.targets.size > 0 ? ` to ${[...result.targets.keys()].join(', ')}` : ''
    if (counting) {
      const read = result.replayed + result.skipped
      out(`${plural(read, 'record')} wait in ${topic}${fromBeginning ? ' (from the beginning)' : ` (after where consumer group ${result.groupId} stopped)`}, by error code:`)
      for (const line of codeLines(result, codes)) out(line)
    } else if (dryRun) {
      out(`Dry run: ${plural(result.replayed, 'record')} from ${topic} would be replayed${toText} (skipped ${result.skipped}); nothing was produced or committed`)
      out('By error code:')
      for (const line of codeLines(result, codes)) out(line)
      if (result.samples.length > 0) out(`First ${result.samples.length}:`)
      for (const s of result.samples) {
        out(`  ${topic}:${s.partition}:${s.offset}  ${s.code} -> ${s.target ?? '?'}: ${s.message}`)
        out(`    value: ${JSON.stringify(s.value)}`)
      }
      for (const missing of result.missingTargets) {
        out(missing === NO_TARGET
          ? `warning: some records have no ${DeadLetterHeaders.SOURCE_TOPIC} header and ${topic} does not end in -failed: a replay would stop at the first (pass --to TOPIC)`
          : `warning: ${missing} does not exist: a replay would stop at its first record (create it, or pass --to TOPIC)`)
      }
    } else {
      out(`Replayed ${plural(result.replayed, 'record')} from ${topic}${toText} (skipped ${result.skipped})`)
    }
    if (result.stop === ReplayStops.LIMIT) out(`stopped at --limit ${limit ?? ''}: ${plural(result.remaining, 'more record')} wait in ${topic}${dryRun ? '' : ' for the next replay'}`)
    if (result.stop === ReplayStops.SIGNAL) out(`stopped early: ${plural(result.remaining, 'more record')} wait in ${topic}${dryRun ? '' : ' for the next replay'}`)
    return 0
  }
}
