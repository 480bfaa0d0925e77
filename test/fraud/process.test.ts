// `churnflow process --streams transactions`: the fraud pipeline on the stream runtime, as a user
// runs it, on the real broker and PostgreSQL.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { buildApi } from '../../src/api/index.ts'
import { ModelHolder, shippedChurnModelPath } from '../../src/churn/index.ts'
import type { Config } from '../../src/config/index.ts'
import { FraudScorer, shippedFraudModelPath } from '../../src/fraud/index.ts'
import { createLogger } from '../../src/logging/index.ts'
import { produceRaw } from '../helpers/events.ts'
import { background, cli, consumeFromStart, deleteTopics, kafkaConfig, recordsIn, startCli, TcpProxy, uniqueName, type RunResult } from '../helpers/services.ts'
import { freshDatabase, type FreshDatabase } from '../helpers/sql.ts'
import { waitFor } from '../helpers/wait.ts'
import { transactionPoisonCorpus } from './corpus.ts'

interface Setup {
  readonly config: Config
  readonly topic: string
  /** A processor's environment on the test's topics, less its group, database and state directory. */
  readonly env: Record<string, string>
}

async function setup (t: TestContext): Promise<Setup | undefined> {
  const config = await kafkaConfig(t)
  if (config === undefined) return undefined
  const topic = uniqueName('tx')
  const env = {
    KAFKA_BROKER: config.kafkaBrokers.join(','),
    KAFKA_TOPIC_TRANSACTIONS: topic,
    KAFKA_TOPIC_FRAUD_PREDICTIONS: `${topic}-fraud-predictions`,
    KAFKA_TOPIC_FRAUD_ALERTS: `${topic}-fraud-alerts`,
    KAFKA_PARTITIONS: '3',
    OPS_PORT: '0',
    MAX_RETRIES: '2',
    LOG_LEVEL: 'info'
  }
  t.after(() => deleteTopics(config, [topic, `${topic}-failed`, `${topic}-fraud-predictions`, `${topic}-fraud-alerts`]))
  return { config, topic, env }
}

/** A new group (its accounts changelog deleted when the test ends), a new database and a new state directory. */
async function member (t: TestContext, s: Setup): Promise<{ env: Record<string, string>, db: FreshDatabase } | undefined> {
  const db = await freshDatabase(t, 'postgres')
  if (db === undefined) return undefined
  const group = uniqueName('fraud-group')
  const dir = mkdtempSync(join(tmpdir(), 'churnflow-fraud-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  t.after(() => deleteTopics(s.config, [`${group}-accounts-changelog`]))
  return { env: { ...s.env, FRAUD_CONSUMER_GROUP: group, DATABASE_URL: db.url, CHURNFLOW_STATE_DIR: dir }, db }
}

const ok = (r: RunResult): void => { assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000)) }
const count = async (db: FreshDatabase, table: string): Promise<number> => Number((await db.query(`SELECT COUNT(*) AS n FROM ${table}`).catch(() => [{ n: 0 }]))[0]?.n ?? 0)

/** The predictions table as transaction id → score, with every id checked to be there once. */
async function scores (db: FreshDatabase): Promise<Map<string, number>> {
  const rows = await db.query('SELECT transaction_id, fraud_score FROM predictions')
  const out = new Map(rows.map(r => [String(r.transaction_id), Number(r.fraud_score)]))
  assert.equal(out.size, rows.length, 'a transaction has two predictions')
  return out
}

test('process --streams transactions: every valid transaction once in both tables, the malformed dead-lettered, the fraud consumer\'s lines, its README\'s queries', async t => {
  const s = await setup(t)
  if (s === undefined) return
  const m = await member(t, s)
  if (m === undefined) return
  ok(await cli(['produce', '--stream', 'transactions', '--rate', 'max', '--count', '3000', '--seed', '7'], s.env, 120_000))
  await produceRaw(s.config, s.topic, transactionPoisonCorpus.map(c => c.value))
  const run = await cli(['process', '--streams', 'transactions', '--exit-when-idle', '3'], m.env, 240_000)
  ok(run)
  const out = run.stdout + run.stderr
  assert.match(out, new RegExp(`Consumer started - Server: ${s.config.kafkaBrokers.join(',')}, Group: ${m.env.FRAUD_CONSUMER_GROUP}, Topic: ${s.topic}`))
  assert.match(out, /Processed 100 messages/)
  assert.match(out, new RegExp(`Consumer stopped. Total messages: ${3000 + transactionPoisonCorpus.length}`))
  assert.equal(await count(m.db, 'transactions'), 3000)
  assert.equal((await scores(m.db)).size, 3000)
  const dead = await consumeFromStart(s.config, `${s.topic}-failed`, transactionPoisonCorpus.length)
  assert.deepEqual(dead.map(d => d.value).sort(), transactionPoisonCorpus.map(c => c.value).sort())
  const predictions = await consumeFromStart(s.config, `${s.topic}-fraud-predictions`, 3000)
  assert.equal(new Set(predictions.map(p => (JSON.parse(p.value) as { transaction_id: string }).transaction_id)).size, 3000)
  // The fraud streaming consumer's own queries, unchanged.
  assert.equal(Number((await m.db.query('SELECT COUNT(*) FROM transactions WHERE created_at > NOW() - INTERVAL \'1 hour\''))[0]?.count), 3000)
  const byLabel = await m.db.query('SELECT prediction, COUNT(*) as count, AVG(fraud_score) as avg_score FROM predictions WHERE created_at > NOW() - INTERVAL \'1 hour\' GROUP BY prediction')
  assert.equal(byLabel.reduce((n, r) => n + Number(r.count), 0), 3000)
  const perMinute = await m.db.query('SELECT DATE_TRUNC(\'minute\', created_at) as minute, COUNT(*) as transactions FROM transactions WHERE created_at > NOW() - INTERVAL \'1 hour\' GROUP BY minute ORDER BY minute DESC')
  assert.equal(perMinute.reduce((n, r) => n + Number(r.transactions), 0), 3000)
})

test('uncompressed, a batch\'s predictions beyond a broker\'s request limit reach their topic whole', async t => {
  const s = await setup(t)
  if (s === undefined) return
  const m = await member(t, s)
  if (m === undefined) return
  // One partition, no compression: 5,000 predictions of ~450 bytes are one record batch of ~2 MB
  // unless the runtime cuts the request, and the broker refuses batches over 1 MiB.
  const env = { ...m.env, KAFKA_PARTITIONS: '1', KAFKA_COMPRESSION: 'none', FRAUD_BATCH_SIZE: '5000' }
  ok(await cli(['produce', '--stream', 'transactions', '--rate', 'max', '--count', '5000', '--seed', '11'], env, 120_000))
  ok(await cli(['process', '--streams', 'transactions', '--exit-when-idle', '3'], env, 240_000))
  assert.equal(await count(m.db, 'transactions'), 5000)
  const predictions = await consumeFromStart(s.config, `${s.topic}-fraud-predictions`, 5000)
  assert.equal(new Set(predictions.map(p => (JSON.parse(p.value) as { transaction_id: string }).transaction_id)).size, 5000)
})

test('fraud pipeline killed -9 mid-stream, then restarted on a new state directory: one row per transaction in both tables, and every score a clean run gives', async t => {
  const s = await setup(t)
  if (s === undefined) return
  const clean = await member(t, s)
  const killed = await member(t, s)
  if (clean === undefined || killed === undefined) return
  const total = 20_000
  ok(await cli(['produce', '--stream', 'transactions', '--rate', 'max', '--count', String(total), '--seed', '11'], s.env, 180_000))
  ok(await cli(['process', '--streams', 'transactions', '--exit-when-idle', '3'], clean.env, 300_000))
  const want = await scores(clean.db)
  assert.equal(want.size, total)

  const first = startCli(['process', '--streams', 'transactions'], killed.env)
  t.after(async () => { if (first.child.exitCode === null) first.child.kill('SIGKILL'); await first.done })
  await waitFor('some rows', async () => (await count(killed.db, 'predictions')) > total * 0.2, 240_000)
  first.child.kill('SIGKILL')
  await first.done
  assert.ok((await count(killed.db, 'predictions')) < total, 'the pipeline finished before it was killed')
  // Another machine: the accounts come back from the changelog alone.
  ok(await cli(['process', '--streams', 'transactions', '--exit-when-idle', '3'], { ...killed.env, CHURNFLOW_STATE_DIR: mkdtempSync(join(tmpdir(), 'churnflow-fraud-b-')) }, 300_000))
  assert.equal(await count(killed.db, 'transactions'), total)
  const got = await scores(killed.db)
  assert.equal(got.size, total)
  for (const [id, score] of want) assert.equal(got.get(id), score, `the score of ${id}`)
})

/** Waits for a line of the background pipeline's output; fails with its output if it ends first. */
async function waitForLine (run: ReturnType<typeof startCli>, pattern: RegExp, what: string): Promise<void> {
  await waitFor(what, async () => {
    if (run.child.exitCode !== null || run.child.signalCode !== null) assert.fail(`the pipeline ended (${run.child.exitCode ?? run.child.signalCode}) before ${what}:\n${run.output().slice(-4000)}`)
    return pattern.test(run.output())
  })
}

const produce = async (s: Setup, count: number, seed: number): Promise<void> => {
  ok(await cli(['produce', '--stream', 'transactions', '--rate', 'max', '--count', String(count), '--seed', String(seed), '--accounts', '300'], s.env, 120_000))
}

/** The transaction ids in the source topic, each checked to be there once. */
async function sentIds (s: Setup, count: number): Promise<Set<string>> {
  const sent = await consumeFromStart(s.config, s.topic, count, 60_000)
  const ids = new Set(sent.map(r => String((JSON.parse(r.value) as { transaction_id: unknown }).transaction_id)))
  assert.equal(ids.size, count, 'the producer sent a transaction id twice')
  return ids
}

test('PostgreSQL away mid-stream (its connections dropped, new ones refused): the fraud pipeline pauses behind its breaker, then catches up; one row per transaction in both tables, nothing dead-lettered', async t => {
  const s = await setup(t)
  if (s === undefined) return
  const m = await member(t, s)
  if (m === undefined) return
  const direct = new URL(m.db.url)
  const proxy = new TcpProxy(direct.hostname, Number(direct.port === '' ? 5432 : direct.port))
  const proxyPort = await proxy.start()
  t.after(() => proxy.stop())
  const viaProxy = new URL(m.db.url)
  viaProxy.port = String(proxyPort)
  await produce(s, 3000, 21)
  // Idle for 15 s before exiting: the second half must land before an idle exit, however slow the machine.
  const run = background(t, ['process', '--streams', 'transactions', '--exit-when-idle', '15'], { ...m.env, DATABASE_URL: viaProxy.toString(), FRAUD_BATCH_SIZE: '200' })
  await waitFor('the first rows', async () => (await count(m.db, 'predictions')) > 0, 240_000)
  await proxy.stop()
  await produce(s, 3000, 22)
  await waitForLine(run, /postgres .* is down .*partitions paused until it is back/, 'the database\'s breaker to open')
  assert.ok((await count(m.db, 'predictions')) < 6000, 'every transaction was stored while PostgreSQL was away')
  await proxy.start(proxyPort)
  const result = await run.done
  ok(result)
  assert.match(result.stdout + result.stderr, /is back; resuming/)
  const ids = await sentIds(s, 6000)
  assert.equal(await count(m.db, 'transactions'), 6000)
  assert.deepEqual(new Set((await m.db.query('SELECT transaction_id FROM transactions')).map(r => String(r.transaction_id))), ids)
  assert.deepEqual(new Set((await scores(m.db)).keys()), ids)
  assert.equal(await recordsIn(s.config, `${s.topic}-failed`), 0)
})

test('scoring API away mid-stream (ML_API_URL through a proxy that drops and refuses connections): the breaker opens (/health, /metrics, the log), the pipeline resumes; every transaction once, scored as in process, nothing dead-lettered', async t => {
  const s = await setup(t)
  if (s === undefined) return
  const remote = await member(t, s)
  const local = await member(t, s)
  if (remote === undefined || local === undefined) return
  const silent = createLogger({ level: 'silent', format: 'json' })
  const api = buildApi({ models: new ModelHolder(shippedChurnModelPath, silent), fraud: { current: FraudScorer.fromFile(shippedFraudModelPath) }, log: silent, ownsResources: true })
  t.after(() => api.close())
  const proxy = new TcpProxy('127.0.0.1', Number(new URL(await api.listen({ host: '127.0.0.1', port: 0 })).port))
  const proxyPort = await proxy.start()
  t.after(() => proxy.stop())
  await produce(s, 3000, 31)
  const env = { ...remote.env, ML_API_URL: `http://127.0.0.1:${proxyPort}`, API_TIMEOUT: '2', FRAUD_BATCH_SIZE: '200' }
  const run = background(t, ['process', '--streams', 'transactions', '--exit-when-idle', '15'], env)
  await waitFor('the first rows', async () => (await count(remote.db, 'predictions')) > 0, 240_000)
  await proxy.stop()
  await produce(s, 3000, 32)
  await waitForLine(run, /scoring API .* is down .*partitions paused until it is back/, 'the scoring API\'s breaker to open')
  const ops = /Ops endpoints on (http:\/\/[^\s"]+)/.exec(run.output())?.[1]
  assert.ok(ops !== undefined, 'no ops endpoints line')
  const health = await fetch(new URL('/health', ops))
  assert.equal(health.status, 503)
  assert.equal((await health.json() as { dependencies: Record<string, { state: string }> }).dependencies.scoring_api?.state, 'down')
  const metrics = await (await fetch(new URL('/metrics', ops))).text()
  assert.match(metrics, /churnflow_processor_dependency_up\{pipeline="fraud",dependency="scoring_api"\} 0/)
  assert.match(metrics, /churnflow_processor_failures_total\{pipeline="fraud",reason="scoring_unavailable"\} [1-9]/)
  await proxy.start(proxyPort)
  const result = await run.done
  ok(result)
  assert.match(result.stdout + result.stderr, /scoring API .* is back; resuming/)
  const ids = await sentIds(s, 6000)
  assert.equal(await count(remote.db, 'transactions'), 6000)
  const got = await scores(remote.db)
  assert.deepEqual(new Set(got.keys()), ids)
  assert.equal(await recordsIn(s.config, `${s.topic}-failed`), 0)
  // The same transactions scored in process by another group: the same score for each.
  ok(await cli(['process', '--streams', 'transactions', '--exit-when-idle', '3'], local.env, 240_000))
  assert.deepEqual(got, await scores(local.db))
})
