import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Config } from '../config/index.ts'
import {
  churnGbtDefaults, ChurnScorer, evaluateChurnModel, History, readHistoryFile, readHistoryTopics, readTruthFile, saveArtifact,
  shippedChurnModelPath, trainChurnModel, type ModelMetrics
} from '../churn/index.ts'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import { parseEventTime, Streams } from '../events/index.ts'
import { ReplayFormats, replaySource } from '../producer/index.ts'
import { readFraudTruth, readTransactions, shippedFraudModelPath, trainFraudModel } from '../fraud/index.ts'
import type { Logger } from '../logging/index.ts'
import type { CalibrationBin } from '../model/index.ts'
import { parseDuration } from '../util/backoff.ts'
import type { Command, CommandContext } from './command.ts'
import { mapFlag, usage, wholeNumberFlag } from './flags.ts'

const seedOf = (values: CommandContext['values']): number => wholeNumberFlag(values, 'seed', 0, 2 ** 32 - 1) ?? 1

const DAY = 86_400_000

/** Reads a CSV file of events into a history, its columns mapped to event fields as `produce --from-file` maps them. */
async function readHistoryCsv (path: string, mapping: Readonly<Record<string, string>>, config: Config, log: Logger): Promise<History> {
  const history = new History()
  const topics = { [Streams.USER_EVENTS]: config.userEventsTopic, [Streams.CUSTOMER_EVENTS]: config.customerEventsTopic, [Streams.TRANSACTIONS]: config.transactionsTopic }
  const source = replaySource({ path, format: ReplayFormats.CSV, topics, mapping, onInvalid: (line, reason) => { history.skipped++; log.debug(`Line ${line} of ${path} is not an event (${reason})`) } })
  try {
    for (let batch = await source.take(10_000, Date.now()); batch.length > 0; batch = await source.take(10_000, Date.now())) {
      for (const record of batch) history.add(record.event)
    }
  } finally {
    await source.close?.()
  }
  return history
}

/**
 * A file when one exists at that path (JSON lines; CSV when it ends in .csv, its columns mapped
 * by `mapping`), else a comma-separated list of topics.
 */
export async function loadHistory (source: string, config: Config, log: Logger, mapping: Readonly<Record<string, string>> = {}): Promise<History> {
  const started = Date.now()
  // A topic name has no slash and no file extension: such a source is a file that is missing.
  if (!existsSync(source) && (/[/\\]/.test(source) || /\.(jsonl|json|ndjson|txt|csv)$/.test(source))) {
    throw usage(`${source} does not exist`)
  }
  const history = !existsSync(source)
    ? await readHistoryTopics(config, source.split(',').map(t => t.trim()).filter(t => t !== ''), new History(), n => { log.info(`Reading ${source}: ${n} records`) })
    : source.endsWith('.csv')
      ? await readHistoryCsv(source, mapping, config, log)
      : await readHistoryFile(source, new History(), n => { log.info(`Reading ${source}: ${n} lines`) })
  log.info(`Read ${history.size} events of ${history.customers.length} customers in ${((Date.now() - started) / 1000).toFixed(1)} s${history.skipped > 0 ? ` (${history.skipped} records were not usable events and were skipped)` : ''}`)
  if (history.size === 0) throw new ChurnflowError(ErrorCodes.TRAINING_FAILED, `${source} holds no usable events`)
  return history
}

/** A `--cutoff`/`--at` value: a date (midnight UTC) or an ISO 8601 time. */
export function timeFlag (name: string, raw: string): number {
  const t = parseEventTime(/^\d{4}-\d{2}-\d{2}$/.test(raw) ? `${raw}T00:00:00Z` : raw)
  if (t === undefined) throw usage(`--${name}="${raw}" is invalid: expected a date (2025-05-01) or an ISO 8601 time`)
  return t
}

function horizonOf (values: CommandContext['values'], fallback: number | undefined): number {
  const raw = values.horizon
  if (typeof raw !== 'string') {
    if (fallback !== undefined) return fallback
    return 30
  }
  const ms = parseDuration(raw.endsWith('d') || raw.endsWith('h') ? raw : `${raw}d`)
  if (ms === undefined || ms < DAY) throw usage(`--horizon="${raw}" is invalid: expected days, such as 30d`)
  return ms / DAY
}

function metricsTable (rows: [string, ModelMetrics | undefined][]): string[] {
  const f = (v: number | undefined): string => (v === undefined ? '-'.padStart(8) : v.toFixed(4).padStart(8))
  return [
    `${''.padEnd(26)} ${'ROC-AUC'.padStart(8)} ${'PR-AUC'.padStart(8)} ${'log loss'.padStart(8)} ${'Brier'.padStart(8)}`,
    ...rows.filter((r): r is [string, ModelMetrics] => r[1] !== undefined).map(([name, m]) => `${name.padEnd(26)} ${f(m.roc_auc)} ${f(m.pr_auc)} ${f(m.log_loss)} ${f(m.brier)}`)
  ]
}

/** A reliability table: the rows in ten groups by prediction, each group's mean prediction beside its observed rate. */
function calibrationLines (bins: readonly CalibrationBin[]): string[] {
  return bins.map(b => `  ${b.lower.toFixed(3)}-${b.upper.toFixed(3)}  rows ${String(b.count).padStart(7)}  predicted ${b.meanPredicted.toFixed(3)}  observed ${b.observedRate.toFixed(3)}  gap ${(b.meanPredicted - b.observedRate >= 0 ? '+' : '')}${(b.meanPredicted - b.observedRate).toFixed(3)}`)
}

/** Where `train` writes a churn model unless --out says: the working directory, never the shipped model. */
export const defaultChurnModelOut = 'churn-model.json'
/** Where `train --kind fraud` writes unless --out says: the working directory, never the shipped fraud model. */
export const defaultFraudModelOut = 'fraud-model.json'

async function truthOf (values: CommandContext['values']): Promise<Awaited<ReturnType<typeof readTruthFile>> | undefined> {
  return typeof values.truth === 'string' ? await readTruthFile(values.truth) : undefined
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'train the churn model on event history (a JSON-lines file or Kafka topics) and report its quality',
  usage: 'churnflow train --events FILE_OR_TOPICS [--horizon 30d] [--cutoff DATE] [--out FILE] [--truth FILE] | --kind fraud --events TX_FILE --truth TRUTH_FILE',
  help: [
    'Replays the history into customer profiles. Rows are customers right after each event (as the processor scores',
    'them) and, every --snapshot-days, every active customer (as score --at scores them), labelled churned when no',
    'qualifying event of the customer follows within the horizon. Rows whose horizon ends before the cutoff train;',
    'rows at or after it test. A history too short to split in time is split by customers instead, and says so.',
    'The trees are calibrated (isotonic) on a validation period and set beside logistic regression, recency alone and',
    'BG/NBD (fitted by maximum likelihood; ranked by its probability of no purchase within the horizon).',
    '  --events F        a JSON-lines file of user-events and customer-events, a .csv file (--map f=col,... names the',
    '                    columns, as produce --from-file takes them), or topics (user-events,customer-events)',
    '  --horizon D       days without qualifying activity that count as churn (default 30d)',
    '  --cutoff DATE     where the test period starts (default: the last third of the labelled time, at most',
    '                    max(horizon, a quarter of the history))',
    '  --snapshot-days N days between snapshots of every active customer (default 7; 0: event rows only)',
    '  --test-customers S  also hold out a share S of customers from training (default 0)',
    '  --qualifying T,T  event types that count as activity (default order_placed,checkout)',
    '  --truth FILE      the simulator\'s truth: also report the oracle\'s ROC-AUC on the same test rows',
    `  --trees N         most trees (default ${String(churnGbtDefaults.trees)}; early stopping may pick fewer)   --seed N`,
    `  --out FILE        where to write the artifact (default ./${defaultChurnModelOut}; the shipped model changes only when named)`,
    '  --kind fraud      train the fraud model instead, on transactions (JSON lines) and the simulator\'s truth',
    `                    (--truth, from churnflow produce --stream transactions --truth FILE); writes ./${defaultFraudModelOut}`,
    '                    unless --out names another file (the shipped fraud model changes only when named)'
  ].join('\n'),
  options: {
    kind: { type: 'string', default: 'churn' },
    events: { type: 'string' },
    horizon: { type: 'string' },
    cutoff: { type: 'string' },
    'snapshot-days': { type: 'string' },
    'test-customers': { type: 'string' },
    qualifying: { type: 'string' },
    truth: { type: 'string' },
    trees: { type: 'string' },
    seed: { type: 'string' },
    map: { type: 'string' },
    out: { type: 'string' }
  },
  async run ({ values, config, log, out }) {
    if (typeof values.events !== 'string') throw usage('train needs --events FILE_OR_TOPICS')
    if (values.kind === 'fraud') return await trainFraud(values, log, out)
    if (values.kind !== 'churn') throw usage(`--kind="${String(values.kind)}" is invalid: expected churn or fraud`)
    const horizonDays = horizonOf(values, undefined)
    const cutoff = typeof values.cutoff === 'string' ? timeFlag('cutoff', values.cutoff) : undefined
    const trees = wholeNumberFlag(values, 'trees', 1, 5000)
    const seed = seedOf(values)
    const outPath = typeof values.out === 'string' ? values.out : defaultChurnModelOut
    const snapshotDays = wholeNumberFlag(values, 'snapshot-days', 0, 365)
    const testCustomers = typeof values['test-customers'] === 'string' ? Number(values['test-customers']) : undefined
    if (testCustomers !== undefined && !(testCustomers >= 0 && testCustomers < 1)) throw usage(`--test-customers="${String(values['test-customers'])}" is invalid: expected a share from 0 to below 1`)
    const truth = await truthOf(values)
    const history = await loadHistory(values.events, config, log, mapFlag(values))
    let artifact
    try {
      artifact = trainChurnModel(history, {
        horizonDays,
        ...(cutoff === undefined ? {} : { cutoff }),
        ...(snapshotDays === undefined ? {} : { snapshotDays }),
        ...(testCustomers === undefined ? {} : { testCustomers }),
        ...(typeof values.qualifying === 'string' ? { qualifying: values.qualifying.split(',').map(s => s.trim()) } : {}),
        ...(truth === undefined ? {} : { truth }),
        seed,
        gbt: { ...(trees === undefined ? {} : { trees }), seed },
        onProgress: message => { log.info(message) }
      })
    } catch (error) {
      if (error instanceof ChurnflowError) throw error
      throw new ChurnflowError(ErrorCodes.TRAINING_FAILED, (error as Error).message, { cause: error })
    }
    await mkdir(dirname(outPath), { recursive: true })
    await saveArtifact(outPath, artifact)
    const t = artifact.training
    const m = artifact.metrics.test
    out(`Trained ${artifact.model_version} on ${String(t.events)} events of ${String(t.customers)} customers (${String(t.history_from).slice(0, 10)} to ${String(t.history_to).slice(0, 10)}), horizon ${horizonDays} days, cutoff ${String(t.cutoff).slice(0, 10)}`)
    out(`Rows: ${String(t.train_rows)} training, ${String(t.validation_rows)} validation, ${String(t.test_rows)} test (${t.split === 'time' ? 'at or after the cutoff' : 'held-out customers: the history is too short to split in time'}; ${(100 * Number(t.test_churn_rate)).toFixed(1)}% churned); ${String(t.trees)} trees in ${Number(t.seconds).toFixed(1)} s; calibration: ${String(t.calibration)}`)
    for (const line of metricsTable([
      ['gradient-boosted trees', m.model], ['  before calibration', m.uncalibrated], ['logistic regression', m.baseline], ['recency alone', m.recency],
      ['BG/NBD P(no purchase)', m.bgnbd], ['oracle (true prob.)', m.oracle]
    ])) out(line)
    if (m.oracle !== undefined) out(`ROC-AUC gap to the oracle: ${(m.oracle.roc_auc - m.model.roc_auc).toFixed(4)}`)
    if (t.bgnbd_r !== undefined) out(`BG/NBD fitted on the training customers: r ${Number(t.bgnbd_r).toFixed(3)}, alpha ${Number(t.bgnbd_alpha).toFixed(3)}, a ${Number(t.bgnbd_a).toFixed(3)}, b ${Number(t.bgnbd_b).toFixed(3)} (weeks)`)
    out('Reliability of the model on the test rows (deciles by prediction):')
    for (const line of calibrationLines(m.model.deciles ?? [])) out(line)
    out(`Features that matter most, trees (share of split gain): ${artifact.metrics.importance.slice(0, 8).map(i => `${i.feature} ${i.importance.toFixed(3)}`).join(', ')}`)
    out(`Features that matter most, baseline (standardised coefficient): ${(artifact.metrics.baseline_coefficients ?? []).slice(0, 8).map(c => `${c.feature} ${c.coefficient >= 0 ? '+' : ''}${c.coefficient.toFixed(3)}`).join(', ')}`)
    out(`Wrote ${outPath}${typeof values.out === 'string' ? '' : ` (the shipped model is unchanged: serve this one with --model ${outPath} or CHURN_MODEL=${outPath})`}`)
    return 0
  }
}

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: 'measure a trained churn model on other event history',
  usage: 'churnflow evaluate --model FILE --events FILE_OR_TOPICS [--map f=col,...] [--horizon 30d] [--truth FILE]',
  help: 'Every sampled event and weekly snapshot after a warm-up, with the horizon after it, is a row; reports the model\n(as it scores, calibrated), its logistic-regression baseline and recency alone side by side (and the oracle, with --truth).',
  options: {
    events: { type: 'string' },
    horizon: { type: 'string' },
    truth: { type: 'string' },
    seed: { type: 'string' },
    map: { type: 'string' }
  },
  async run ({ values, config, log, out }) {
    if (typeof values.events !== 'string') throw usage('evaluate needs --events FILE_OR_TOPICS')
    const scorer = ChurnScorer.fromFile(config.churnModel ?? shippedChurnModelPath)
    const horizonDays = horizonOf(values, scorer.artifact.horizon_days)
    const truth = await truthOf(values)
    const history = await loadHistory(values.events, config, log, mapFlag(values))
    let report
    try {
      report = evaluateChurnModel(scorer.artifact, history, { horizonDays, ...(truth === undefined ? {} : { truth }), seed: seedOf(values) })
    } catch (error) {
      throw new ChurnflowError(ErrorCodes.TRAINING_FAILED, (error as Error).message, { cause: error })
    }
    out(`Model ${scorer.version} on ${report.rows} rows (${(100 * report.churnRate).toFixed(1)}% churned within ${horizonDays} days)`)
    for (const line of metricsTable([['gradient-boosted trees', report.model], ['logistic regression', report.baseline], ['recency alone', report.recency], ['oracle (true prob.)', report.oracle]])) out(line)
    out('Reliability of the model (deciles by prediction):')
    for (const line of calibrationLines(report.model.deciles)) out(line)
    return 0
  }
}

async function trainFraud (values: CommandContext['values'], log: Logger, out: (line: string) => void): Promise<number> {
  if (typeof values.truth !== 'string') throw usage('train --kind fraud needs --truth FILE (churnflow produce --stream transactions --truth FILE writes one)')
  const { rows, skipped } = await readTransactions(String(values.events))
  const truth = await readFraudTruth(values.truth)
  log.info(`Read ${rows.length} transactions${skipped > 0 ? ` (${skipped} lines skipped)` : ''} and ${truth.size} labels`)
  const trees = wholeNumberFlag(values, 'trees', 1, 5000) ?? 300
  let artifact
  try {
    artifact = trainFraudModel(rows, truth, { gbt: { trees, seed: seedOf(values) }, onProgress: m => { log.info(m) } })
  } catch (error) {
    throw new ChurnflowError(ErrorCodes.TRAINING_FAILED, (error as Error).message, { cause: error })
  }
  const outPath = typeof values.out === 'string' ? values.out : defaultFraudModelOut
  await mkdir(dirname(outPath), { recursive: true })
  await saveArtifact(outPath, artifact)
  const m = artifact.metrics.test
  out(`Trained ${artifact.model_version} on ${String(artifact.training.transactions)} transactions of ${String(artifact.training.accounts)} accounts; test: the latest 30%, ${(100 * m.fraud_rate).toFixed(2)}% fraud`)
  for (const line of metricsTable([['gradient-boosted trees', m.model], ['logistic regression', m.baseline]])) out(line)
  out(`At threshold ${artifact.threshold.toFixed(3)}: precision ${m.precision_at_threshold.toFixed(3)}, recall ${m.recall_at_threshold.toFixed(3)}`)
  out(`Features that matter most: ${artifact.metrics.importance.slice(0, 6).map(i => `${i.feature} ${i.importance.toFixed(3)}`).join(', ')}`)
  out(`Wrote ${outPath}${typeof values.out === 'string' ? '' : ` (the shipped fraud model is unchanged: to ship this one, train with --out ${shippedFraudModelPath})`}`)
  return 0
}
