import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import {
  buildRows, ChurnScorer, evaluateChurnModel, History, loadChurnArtifact, readHistoryFile, readHistoryTopics, saveArtifact, shippedChurnModelPath, trainChurnModel
} from '../../src/churn/index.ts'
import { createProducer } from '../../src/kafka/client/index.ts'
import { largestCalibrationGap } from '../../src/model/index.ts'
import { emptyProfile, applyEvent, profileEventOf } from '../../src/profile/index.ts'
import { Population, type CustomerTruth } from '../../src/simulator/index.ts'
import { Rng } from '../../src/util/rng.ts'
import { binPath, cli, createTopic, deleteTopics, kafkaConfig, uniqueName } from '../helpers/services.ts'

const DAY = 86_400_000
const start = Date.UTC(2025, 0, 1)

function simulated (customers: number, days: number, seed: number): { history: History, truth: Map<string, CustomerTruth>, lines: string[] } {
  const population = new Population(new Rng(seed), { customers, start, end: start + days * DAY })
  const history = new History()
  const lines: string[] = []
  for (let r = population.next(); r !== undefined; r = population.next()) {
    history.add(r.value)
    if (lines.length < 50_000) lines.push(JSON.stringify(r.value))
  }
  return { history, truth: new Map(population.truth().map(t => [t.customer_id, t])), lines }
}

async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'churnflow-train-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('rows split in time: no training label looks past the cutoff, test rows start at it; held-out customers are optional', () => {
  const { history } = simulated(1500, 150, 3)
  const cutoff = start + 100 * DAY
  const byTime = buildRows(history, { horizonDays: 30, cutoff })
  assert.equal(byTime.windows.split, 'time')
  const { train, valid, test } = byTime
  assert.ok(train.data.rows > 1000 && test.data.rows > 300)
  for (const rows of [train, valid]) for (const t of rows.time) assert.ok(t <= cutoff - 30 * DAY, 'training rows end a horizon before the cutoff')
  for (const t of test.time) assert.ok(t >= cutoff && t <= start + 150 * DAY - 30 * DAY)
  for (const c of valid.customer) assert.ok(!new Set(train.customer).has(c), 'validation customers are held out of training')
  // Snapshot rows: customers at weekly times whether or not they did anything then.
  const weekly = [...train.time].filter(t => (t - byTime.windows.warmupEnd) % (7 * DAY) === 0)
  assert.ok(weekly.length > 100, `snapshot rows in training: ${weekly.length}`)

  const heldOut = buildRows(history, { horizonDays: 30, cutoff, testCustomers: 0.2 })
  const trainCustomers = new Set([...heldOut.train.customer, ...heldOut.valid.customer])
  for (const c of heldOut.test.customer) assert.ok(!trainCustomers.has(c), 'with --test-customers, test customers are held out')
})

test('the time split trains on a history where every customer appears before the cutoff, and calibration holds on the later period', () => {
  // The simulator starts every customer on day 0: no customer is new after the cutoff.
  const { history } = simulated(2500, 200, 11)
  for (let c = 0; c < history.customers.length; c++) {
    let first = Number.POSITIVE_INFINITY
    for (let i = 0; i < history.size; i++) if (history.customer[i] === c) { first = Math.min(first, history.time[i] as number); break }
    assert.ok(first < start + 30 * DAY)
  }
  const artifact = trainChurnModel(history, { horizonDays: 30, seed: 3, gbt: { trees: 150 } })
  assert.equal(artifact.training.split, 'time')
  assert.ok(Number(artifact.training.test_rows) > 5000)
  assert.ok(artifact.calibration !== undefined, 'calibrated on the validation period')
  const m = artifact.metrics.test
  assert.ok(m.model.roc_auc > 0.7, `model AUC ${m.model.roc_auc}`)
  const gap = largestCalibrationGap(m.model.deciles ?? [])
  assert.ok(gap <= 0.05, `largest decile gap on the held-out period ${gap.toFixed(3)}`)
  assert.ok(m.recency !== undefined && m.bgnbd !== undefined && m.model.brier !== undefined)
  assert.ok(m.bgnbd.roc_auc > 0.5, `BG/NBD ${m.bgnbd.roc_auc}`)
})

test('the defaults train on 281 days of history with a 90-day horizon', () => {
  const { history } = simulated(1500, 281, 12)
  const artifact = trainChurnModel(history, { horizonDays: 90, gbt: { trees: 60 } })
  assert.equal(artifact.training.split, 'time')
  assert.ok(Date.parse(String(artifact.training.cutoff)) - start > 150 * DAY)
  // Shorter than twice the horizon: the same period, split by customers instead.
  const short = simulated(1500, 130, 13)
  const fallback = trainChurnModel(short.history, { horizonDays: 90, gbt: { trees: 40 } })
  assert.equal(fallback.training.split, 'customers')
  assert.throws(() => trainChurnModel(simulated(300, 95, 14).history, { horizonDays: 90 }), /too short for a 90-day horizon/)
})

test('training on simulated history gives a sane model that beats its baseline and sits near the oracle', () => {
  const { history, truth } = simulated(4000, 150, 21)
  const artifact = trainChurnModel(history, { horizonDays: 30, truth, seed: 2, gbt: { trees: 300 } })
  const m = artifact.metrics.test
  assert.ok(m.model.roc_auc > 0.7, `model AUC ${m.model.roc_auc}`)
  assert.ok(m.oracle !== undefined)
  assert.ok(m.model.roc_auc > m.baseline.roc_auc - 0.01, `model ${m.model.roc_auc} vs baseline ${m.baseline.roc_auc}`)
  // Small data: the shipped model's gap, on 20,000 customers, is measured in the README.
  assert.ok(m.oracle.roc_auc - m.model.roc_auc < 0.1, `gap to the oracle ${m.oracle.roc_auc - m.model.roc_auc}`)
  assert.ok(m.model.log_loss < 0.5)
  assert.equal(artifact.features.length, artifact.metrics.importance.length)
  assert.match(artifact.model_version, /^churn-\d{8}-\d{6}-[0-9a-f]{8}$/)

  // The same model measured on another population's history.
  const other = simulated(1500, 120, 99)
  const report = evaluateChurnModel(artifact, other.history, { truth: other.truth })
  assert.ok(report.model.roc_auc > 0.68 && report.oracle !== undefined && report.oracle.roc_auc > report.model.roc_auc)
})

test('the shipped model: the features this code computes, and measured within 0.02 of the oracle on held-out customers', () => {
  // loadChurnArtifact refuses a model whose features differ from churnFeatureNames.
  const shipped = loadChurnArtifact(shippedChurnModelPath)
  const test = shipped.metrics.test
  assert.ok(test.oracle !== undefined, 'trained with --truth, so its report has the oracle')
  assert.ok(Number(shipped.training.customers) >= 15_000 && Number(shipped.training.test_rows) >= 50_000, 'trained and measured on the README\'s 20,000 customers')
  const gap = test.oracle.roc_auc - test.model.roc_auc
  assert.ok(gap <= 0.02, `ROC-AUC gap to the oracle ${gap.toFixed(4)} (target 0.02)`)
  assert.ok(test.model.roc_auc > test.baseline.roc_auc, 'the trees beat the logistic baseline')
})

test('an artifact round-trips through its file and scores with reasons', async t => {
  const dir = await tempDir(t)
  const { history } = simulated(1500, 150, 5)
  const artifact = trainChurnModel(history, { horizonDays: 30, gbt: { trees: 60 } })
  const path = join(dir, 'model.json')
  await saveArtifact(path, artifact)
  const loaded = new ChurnScorer(loadChurnArtifact(path))
  const direct = new ChurnScorer(artifact)
  const p = emptyProfile()
  for (const [type, day] of [['product_view', 0], ['order_placed', 1], ['bounce', 40], ['support_ticket_created', 41]] as const) {
    applyEvent(p, profileEventOf({ event_type: type, timestamp: new Date(start + day * DAY).toISOString(), data: { order_value: 50 } })!)
    const at = start + day * DAY
    assert.deepEqual(loaded.score(p, at), direct.score(p, at))
  }
  const s = loaded.score(p, start + 41 * DAY)
  assert.ok(s.churn_score >= 0 && s.churn_score <= 1)
  assert.ok(s.reasons.length <= 3 && s.reasons.every(r => r.impact > 0))
  assert.ok(['low', 'medium', 'high', 'critical'].includes(s.risk_band))

  await writeFile(path, JSON.stringify({ ...artifact, features: ['something_else'] }))
  assert.throws(() => loadChurnArtifact(path), /trained on other features/)
  await writeFile(path, '{"format": "nope"}')
  assert.throws(() => loadChurnArtifact(path), /not a churnflow churn model/)
})

test('history files skip what is not an event, and count it', async t => {
  const dir = await tempDir(t)
  const path = join(dir, 'h.jsonl')
  await writeFile(path, [
    '{"user_id": 1, "event_type": "bounce", "timestamp": "2024-01-15T10:30:00Z"}',
    'not json',
    '{"user_id": 2, "event_type": "teleport", "timestamp": "2024-01-15T10:30:00Z"}',
    '{"customer_id": "CUST-001", "event_type": "order_placed", "timestamp": "2024-01-15T10:31:00", "data": {"order_value": 12.5}}',
    '{"user_id": 3, "event_type": "bounce", "timestamp": "2024-13-15T10:30:00Z"}'
  ].join('\n'))
  const history = await readHistoryFile(path)
  assert.equal(history.size, 2)
  assert.equal(history.skipped, 3)
  assert.deepEqual(history.event(1), { type: 'order_placed', time: Date.UTC(2024, 0, 15, 10, 31), orderValue: 12.5 })
})

test('training reads history from Kafka topics to their end', async t => {
  const topic = uniqueName('history')
  const config = await kafkaConfig(t)
  if (config === undefined) return
  await createTopic(config, topic, 3)
  t.after(() => deleteTopics(config, [topic]))
  const { lines } = simulated(200, 20, 8)
  const producer = createProducer(config)
  try {
    for (let i = 0; i < lines.length; i += 2000) {
      await producer.send({ messages: lines.slice(i, i + 2000).map(v => ({ topic, key: Buffer.from((JSON.parse(v) as { user_id?: string, customer_id?: string }).user_id ?? (JSON.parse(v) as { customer_id: string }).customer_id), value: Buffer.from(v) })) })
    }
  } finally {
    await producer.close()
  }
  const history = await readHistoryTopics(config, [topic])
  assert.equal(history.size, lines.length)
})

test('churnflow train and evaluate on files print the comparison and write the artifact', async t => {
  const dir = await tempDir(t)
  const events = join(dir, 'history.jsonl')
  const truth = join(dir, 'truth.jsonl')
  const produced = await cli(['produce', '--mode', 'population', '--customers', '1500', '--days', '150', '--seed', '4', '--output', events, '--truth', truth])
  assert.equal(produced.code, 0, produced.stderr)
  const model = join(dir, 'model.json')
  const trained = await cli(['train', '--events', events, '--truth', truth, '--out', model, '--trees', '120'], {}, 300_000)
  assert.equal(trained.code, 0, trained.stderr)
  assert.match(trained.stdout, /^gradient-boosted trees +0\.\d{4} +0\.\d{4} +0\.\d{4} +0\.\d{4}$/m)
  assert.match(trained.stdout, /^recency alone +0\.\d{4}/m)
  assert.match(trained.stdout, /^BG\/NBD P\(no purchase\) +0\.\d{4}/m)
  assert.match(trained.stdout, /^ {2}\d\.\d{3}-\d\.\d{3} +rows +\d+ +predicted \d\.\d{3} +observed \d\.\d{3} +gap [+-]\d\.\d{3}$/m)
  assert.match(trained.stdout, /^logistic regression +0\.\d{4}/m)
  assert.match(trained.stdout, /^oracle \(true prob\.\) +0\.\d{4}/m)
  assert.match(trained.stdout, /^ROC-AUC gap to the oracle: -?0\.\d{4}$/m)
  assert.match(trained.stdout, /Features that matter most, trees \(share of split gain\): \w+ 0\.\d{3}/)
  assert.match(trained.stdout, /Features that matter most, baseline \(standardised coefficient\): \w+ [+-]\d+\.\d{3}/)
  assert.match(trained.stdout, new RegExp(`Wrote ${model.replaceAll('/', '\\/')}`))
  const evaluated = await cli(['evaluate', '--model', model, '--events', events, '--truth', truth], {}, 300_000)
  assert.equal(evaluated.code, 0, evaluated.stderr)
  assert.match(evaluated.stdout, /^Model churn-\S+ on \d+ rows/m)
  const bad = await cli(['train', '--events', join(dir, 'missing.jsonl')])
  assert.equal(bad.code, 2)
})

test('churnflow train without --out writes to the working directory and leaves the shipped model alone', async t => {
  const dir = await tempDir(t)
  const events = join(dir, 'history.jsonl')
  const { lines } = simulated(400, 120, 6)
  await writeFile(events, lines.join('\n'))
  const before = await readFile(shippedChurnModelPath, 'utf8')
  const trained = await promisify(execFile)(process.execPath, [binPath, 'train', '--events', events, '--trees', '20'], { cwd: dir, timeout: 300_000 })
  assert.match(trained.stdout, /Wrote churn-model\.json \(the shipped model is unchanged/)
  assert.ok(existsSync(join(dir, 'churn-model.json')))
  assert.equal(await readFile(shippedChurnModelPath, 'utf8'), before)
})
