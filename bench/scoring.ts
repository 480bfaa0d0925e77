// Scoring speed. In process: the shipped churn model over profiles of a simulated population, one
// thread (scores/s per core). Over HTTP: `churnflow api` in its own process, POST /predict-churn with
// seed 000's body from autocannon (keep-alive) on this machine: as fast as it goes, then a fixed
// 5,000 requests/s, with p50 and p99; then POST /predict/batch with 100 transactions a request. Targets: >= 500,000 scores/s per core; >= 10,000 requests/s;
// p99 < 10 ms at 5,000/s.
//
//   npm run bench:scoring -- [--duration=10]
import { spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { ChurnScorer, shippedChurnModelPath } from '../src/churn/index.ts'
import { applyEvent, emptyProfile, profileEventOf, type CustomerProfile } from '../src/profile/index.ts'
import type { Transaction } from '../src/events/index.ts'
import { applyTransaction, emptyAccount, factsOf, FRAUD_FEATURES, featureRecord, fraudFeatures, type AccountProfile, type TransactionFacts } from '../src/fraud/index.ts'
import { Population, TransactionStream, type SimRecord } from '../src/simulator/index.ts'
import { Rng } from '../src/util/rng.ts'

const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' }, port: { type: 'string', default: '5077' } } })
const duration = Number(values.duration)
const port = Number(values.port)

// In process.
const scorer = ChurnScorer.fromFile(shippedChurnModelPath)
const start = Date.UTC(2025, 0, 1)
const population = new Population(new Rng(3), { customers: 20_000, start, end: start + 90 * 86_400_000 })
const profiles = new Map<string, CustomerProfile>()
const samples: { p: CustomerProfile, at: number }[] = []
for (let r = population.next(); r !== undefined; r = population.next()) {
  const p = profiles.get(r.key) ?? emptyProfile()
  profiles.set(r.key, p)
  const e = profileEventOf(r.value as { event_type: string, timestamp: string })
  if (e === undefined) continue
  applyEvent(p, e)
  if (samples.length < 200_000 && r.time > start + 60 * 86_400_000) samples.push({ p: { ...p }, at: r.time })
}
const measure = (label: string, fn: (s: { p: CustomerProfile, at: number }) => number, rounds: number): void => {
  const sample = (i: number): { p: CustomerProfile, at: number } => samples[i % samples.length] as { p: CustomerProfile, at: number }
  for (let i = 0; i < 20_000; i++) fn(sample(i))
  const t0 = performance.now()
  let sink = 0
  const n = samples.length * rounds
  for (let i = 0; i < n; i++) sink += fn(sample(i))
  const s = (performance.now() - t0) / 1000
  console.log(`  ${label}: ${Math.round(n / s).toLocaleString('en')} per second (${((s / n) * 1e6).toFixed(2)} µs each; checksum ${sink.toFixed(1)})`)
}
console.log(`in process, one thread, shipped model ${scorer.version} (${scorer.artifact.training.trees} trees, ${scorer.artifact.features.length} features), ${samples.length} real profiles`)
measure('features + score', s => scorer.scoreOnly(s.p, s.at), 10)
measure('features + score + three reasons', s => scorer.score(s.p, s.at).churn_score, 2)

/** A /predict/batch body: `n` simulated transactions, each with its account's features just before it. */
function fraudBatch (n: number): string {
  const stream = new TransactionStream(new Rng(5), { accounts: 50, fraudRate: 0.02, start, end: start + 30 * 86_400_000 })
  const accounts = new Map<string, AccountProfile>()
  const transactions: unknown[] = []
  for (let i = 0; i < n; i++) {
    const tx = (stream.next() as SimRecord).value as Transaction
    const account = accounts.get(String(tx.account_id)) ?? emptyAccount()
    const x = new Float64Array(FRAUD_FEATURES)
    fraudFeatures(account, factsOf(tx) as TransactionFacts, x)
    transactions.push({ ...tx, account: featureRecord(x) })
    applyTransaction(account, factsOf(tx) as TransactionFacts)
    accounts.set(String(tx.account_id), account)
  }
  return JSON.stringify({ transactions })
}

// Over HTTP.
const server = spawn(process.execPath, ['bin/churnflow.js', 'api', '--port', String(port), '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] })
try {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break
    } catch {
      await sleep(100)
    }
  }
  const body = '{"user_id": 999, "event_type": "bounce", "timestamp": "2024-01-15T10:30:00Z", "metadata": {}}'
  const run = (options: Partial<autocannon.Options>): Promise<autocannon.Result> => autocannon({
    url: `http://127.0.0.1:${port}/predict-churn`, method: 'POST', headers: { 'content-type': 'application/json' }, body, duration, ...options
  })
  await run({ connections: 20, duration: 2 })
  const max = await run({ connections: 50 })
  console.log(`HTTP POST /predict-churn, keep-alive, load generator on the same 2 cores, ${duration} s each`)
  console.log(`  as fast as it goes (50 connections): ${Math.round(max.requests.average).toLocaleString('en')} requests/s, p50 ${max.latency.p50} ms, p99 ${max.latency.p99} ms, errors ${max.errors}, non-2xx ${max.non2xx}`)
  const fixed = await run({ connections: 50, overallRate: 5000 })
  console.log(`  fixed 5,000 requests/s: ${Math.round(fixed.requests.average).toLocaleString('en')} requests/s served, p50 ${fixed.latency.p50} ms, p99 ${fixed.latency.p99} ms, errors ${fixed.errors}, non-2xx ${fixed.non2xx}`)
  const batch = await autocannon({
    url: `http://127.0.0.1:${port}/predict/batch`, method: 'POST', headers: { 'content-type': 'application/json' }, body: fraudBatch(100), duration, connections: 8
  })
  console.log(`HTTP POST /predict/batch, 100 transactions a request, each with its account's state, 8 connections, ${duration} s`)
  console.log(`  ${Math.round(batch.requests.average * 100).toLocaleString('en')} transactions/s, p50 ${batch.latency.p50} ms, p99 ${batch.latency.p99} ms a request, errors ${batch.errors}, non-2xx ${batch.non2xx}`)
} finally {
  server.kill('SIGTERM')
}
