import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import {
  applyTransaction, emptyAccount, factsOf, FRAUD_FEATURES, fraudFeatureNames, fraudFeatures, FraudScorer, shippedFraudModelPath, trainFraudModel,
  type TrainingTransaction
} from '../../src/fraud/index.ts'
import { TransactionStream, type SimulatedTransaction } from '../../src/simulator/index.ts'
import { Rng } from '../../src/util/rng.ts'
import { binPath } from '../helpers/services.ts'

test('fraud features see the account as it was before the transaction', () => {
  const a = emptyAccount()
  const t0 = Date.UTC(2025, 0, 1)
  for (let i = 0; i < 10; i++) applyTransaction(a, { time: t0 + i * 3_600_000, amount: 40, country: 'DE', category: 'grocery', channel: 'pos' })
  const out = new Float64Array(FRAUD_FEATURES)
  const f = (name: string): number => out[fraudFeatureNames.indexOf(name as typeof fraudFeatureNames[number])]!
  fraudFeatures(a, { time: t0 + 10 * 3_600_000 + 60_000, amount: 800, country: 'BR', category: 'jewelry', channel: 'online' }, out)
  assert.ok(Math.abs(f('amount_ratio') - 20) < 0.01)
  assert.equal(f('new_country'), 1)
  assert.equal(f('new_category'), 1)
  assert.equal(f('risky_category'), 1)
  assert.equal(f('transactions_total'), Math.log1p(10))
  // Ten transactions an hour apart, the last 61 minutes ago, each decayed with a one-hour half-life.
  const expected = Array.from({ length: 10 }, (_, k) => 2 ** -(k + 61 / 60)).reduce((a, b) => a + b, 0)
  assert.ok(Math.abs(f('velocity_1h') - expected) < 1e-9, `${f('velocity_1h')} vs ${expected}`)
})

test('the fraud model finds the injected fraud (PR-AUC against the truth), its scorer labels it', () => {
  const start = Date.UTC(2025, 0, 1)
  const stream = new TransactionStream(new Rng(12), { accounts: 1500, fraudRate: 0.015, start, end: start + 40 * 86_400_000 })
  const rows: TrainingTransaction[] = []
  const truth = new Map<string, boolean>()
  for (let r = stream.next(); r !== undefined; r = stream.next()) {
    const tx = r.value as SimulatedTransaction
    rows.push({ facts: factsOf(tx)!, account: tx.account_id, id: tx.transaction_id })
    truth.set(tx.transaction_id, stream.lastTruth!.is_fraud)
  }
  const artifact = trainFraudModel(rows, truth, { gbt: { trees: 150 } })
  const m = artifact.metrics.test
  assert.ok(m.model.pr_auc > 0.8, `PR-AUC ${m.model.pr_auc} at fraud rate ${m.fraud_rate}`)
  assert.ok(m.recall_at_threshold > 0.7 && m.precision_at_threshold > 0.7)
  const scorer = new FraudScorer(JSON.parse(JSON.stringify(artifact)))
  const score = scorer.score(emptyAccount(), { time: start, amount: 25, country: 'DE', category: 'grocery', channel: 'pos' })
  assert.equal(score.prediction, score.fraud_score >= artifact.threshold ? 'fraud' : 'legit')
})

test('churnflow train --kind fraud without --out writes to the working directory and leaves the shipped fraud model alone', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'churnflow-fraud-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const run = async (args: string[]): Promise<string> => (await promisify(execFile)(process.execPath, [binPath, ...args], { cwd: dir, timeout: 300_000 })).stdout
  await run(['produce', '--stream', 'transactions', '--accounts', '400', '--days', '20', '--fraud-rate', '0.02', '--seed', '3', '--output', 'tx.jsonl', '--truth', 'tx-truth.jsonl'])
  const before = await readFile(shippedFraudModelPath, 'utf8')
  const trained = await run(['train', '--kind', 'fraud', '--events', 'tx.jsonl', '--truth', 'tx-truth.jsonl', '--trees', '20'])
  assert.match(trained, /Wrote fraud-model\.json \(the shipped fraud model is unchanged/)
  assert.ok(existsSync(join(dir, 'fraud-model.json')))
  assert.equal(await readFile(shippedFraudModelPath, 'utf8'), before)
  // Named, the output goes where it says.
  await run(['train', '--kind', 'fraud', '--events', 'tx.jsonl', '--truth', 'tx-truth.jsonl', '--trees', '20', '--out', 'models/other.json'])
  assert.ok(existsSync(join(dir, 'models', 'other.json')))
  assert.equal(await readFile(shippedFraudModelPath, 'utf8'), before)
})
