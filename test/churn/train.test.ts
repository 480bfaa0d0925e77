import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import {
  buildRows, ChurnScorer, evaluateChurnModel, History, loadChurnArtifact, readHistoryFile, readHistoryTopics, saveArtifact, shippedChurnModelPath, trainChurnModel
} from '../../src/churn/index.ts'
import { createProducer } from '../../src/kafka/client/index.ts'
import { emptyProfile, applyEvent, profileEventOf } from '../../src/profile/index.ts'
import { Population, type CustomerTruth } from '../../src/simulator/index.ts'
import { Rng } from '../../src/util/rng.ts'
import { cli, createTopic, deleteTopics, kafkaConfig, uniqueName } from '../helpers/services.ts'

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

test('rows split in time and by customer: no training label looks past the cutoff, no test customer trains', () => {
  const { history } = simulated(1500, 150, 3)
  const cutoff = start + 100 * DAY
  const { train, valid, test } = buildRows(history, { horizonDays: 30, cutoff })
  assert.ok(train.data.rows > 1000 && test.data.rows > 300)
  for (const rows of [train, valid]) for (const t of rows.time) assert.ok(t <= cutoff - 30 * DAY, 'training rows end a horizon before the cutoff')
  for (const t of test.time) assert.ok(t > cutoff && t <= start + 150 * DAY - 30 * DAY)
  const trainCustomers = new Set([...train.customer, ...valid.customer])
  for (const c of test.customer) assert.ok(!trainCustomers.has(c), 'test customers are held out')
  for (const c of valid.customer) assert.ok(!new Set(train.customer).has(c), 'validation customers are held out too')
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
  assert.match(trained.stdout, /^gradient-boosted trees +0\.\d{4} +0\.\d{4} +0\.\d{4}$/m)
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
