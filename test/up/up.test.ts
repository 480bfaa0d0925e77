import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { setTimeout as sleep } from 'node:timers/promises'
import { test, type TestContext } from 'node:test'
import mysql from 'mysql2/promise'
import { loadConfig, type Config } from '../../src/config/index.ts'
import { createConsumer } from '../../src/kafka/client/index.ts'
import { Streams } from '../../src/events/index.ts'
import { livePopulationSource, type UpState } from '../../src/up/index.ts'
import { freePort } from '../helpers/ports.ts'
import { cli, consumeFromStart, deleteTopics, hasCommand, kafkaConfig, redisStore, startCli, unavailable, uniqueName, type RunResult } from '../helpers/services.ts'
import { sqlBackends } from '../helpers/sql.ts'

// Every `up` here runs its own Apache Kafka from a temporary state directory, on this port. It and
// its controller (+10000) lie below Linux's ephemeral range (32768-60999), where a client's socket
// can hold any port: a CI run met "port 48692 is in use" with 38692 here.
const KAFKA_PORT = Number(process.env.CHURNFLOW_TEST_UP_KAFKA_PORT ?? '22092')

async function stateDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'churnflow-up-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function needJava (t: TestContext): boolean {
  if (hasCommand('java')) return true
  unavailable(t, 'Java')
  return false
}

interface Up {
  readonly done: Promise<RunResult>
  readonly ops: string
  readonly api: string
  stop (): Promise<RunResult>
  output (): string
}

/** Starts `churnflow up` in `dir` on free API and ops ports; stop() sends SIGINT and waits for the exit. */
async function startUp (t: TestContext, dir: string, args: readonly string[], env: Record<string, string> = {}): Promise<Up> {
  const apiPort = await freePort()
  const opsPort = await freePort()
  const started = startCli(['up', '--kafka-port', String(KAFKA_PORT), '--status-interval', '1', ...args], {
    CHURNFLOW_STATE_DIR: dir, API_PORT: String(apiPort), OPS_PORT: String(opsPort), DASHBOARD_PORT: '0', ...env
  })
  let output = ''
  started.child.stdout?.on('data', (d: Buffer) => { output += d.toString('utf8') })
  started.child.stderr?.on('data', (d: Buffer) => { output += d.toString('utf8') })
  let exited = false
  void started.done.then(() => { exited = true })
  t.after(async () => {
    if (!exited) {
      started.child.kill('SIGINT')
      await started.done
    }
    // Whatever became of up, its broker must not outlive the test: the next one listens on the same port.
    await cli(['kafka', 'stop'], { CHURNFLOW_STATE_DIR: dir, KAFKA_BROKER: `127.0.0.1:${KAFKA_PORT}` }, 120_000)
  })
  return {
    done: started.done,
    ops: `http://127.0.0.1:${opsPort}`,
    api: `http://127.0.0.1:${apiPort}`,
    output: () => output,
    async stop () {
      started.child.kill('SIGINT')
      return await started.done
    }
  }
}

async function getJson (url: string): Promise<{ status: number, body: Record<string, unknown> } | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) })
    return { status: response.status, body: await response.json() as Record<string, unknown> }
  } catch {
    return undefined
  }
}

/** Polls until `check` holds, or fails with what was printed. */
async function waitFor (up: Up, what: string, check: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let exited = false
  void up.done.then(() => { exited = true })
  while (Date.now() < deadline) {
    if (await check()) return
    if (exited) assert.fail(`up exited before ${what}:\n${up.output()}`)
    await sleep(250)
  }
  assert.fail(`no ${what} within ${timeoutMs / 1000} s:\n${up.output()}`)
}

const stats = async (up: Up): Promise<Record<string, number>> => ((await getJson(`${up.ops}/stats`))?.body ?? {}) as Record<string, number>

function readState (dir: string): UpState {
  return JSON.parse(readFileSync(join(dir, 'up', 'state.json'), 'utf8')) as UpState
}

function sqliteCount (dir: string, table = 'churn_predictions'): number {
  const path = join(dir, 'churnflow.db')
  if (!existsSync(path)) return 0
  const db = new DatabaseSync(path, { readOnly: true })
  try {
    return Number((db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n)
  } catch {
    return 0
  } finally {
    db.close()
  }
}

/** Records in a topic: the sum of its partitions' end offsets. */
async function topicRecords (config: Config, topic: string): Promise<number> {
  const consumer = createConsumer(config, uniqueName('test-offsets'))
  try {
    return ((await consumer.listOffsets({ topics: [topic] })).get(topic) ?? []).reduce((sum, end) => sum + Number(end), 0)
  } finally {
    await consumer.close(true).catch(() => undefined)
  }
}

function assertCleanStop (result: RunResult, output: string, producer = true, fraud = true): void {
  assert.equal(result.code, 0, output)
  if (producer) assert.match(output, /PRODUCER STATISTICS/)
  assert.match(output, /PROCESSING STATISTICS/)
  if (fraud) assert.match(output, /FRAUD STATISTICS\n=+\nRuntime: [\d.]+ seconds\n(Transactions Produced: \d+\n)?Transactions Received: \d+\nTransactions Scored: \d+\nFlagged as Fraud: \d+\n/)
  assert.match(output, /Everything is stopped/)
  assert.ok(!output.includes('    at '), `no stack trace:\n${output}`)
}

test('up from cold: predictions stored and /health healthy, SIGINT stops cleanly, a second up continues the same stream and counts', async t => {
  if (!needJava(t)) return
  const dir = await stateDir(t)

  // First run, from an empty state directory.
  const first = await startUp(t, dir, ['--rate', '300', '--customers', '200', '--history-days', '20', '--tx-rate', '20'])
  await waitFor(first, 'stored predictions and a healthy /health', async () => {
    const health = await getJson(`${first.ops}/health`)
    return health?.status === 200 && sqliteCount(dir) > 0
  })
  assert.match(first.output(), /churnflow is up/)
  assert.match(first.output(), /Kafka: +127\.0\.0\.1:\d+ \(local Apache Kafka/)
  // The dashboard is served, at the URL of its line in the block.
  const dashboard = /Dashboard: +(http:\/\/\S+)/.exec(first.output())?.[1]
  assert.ok(dashboard !== undefined, 'up prints a Dashboard: line')
  assert.equal((await fetch(`${dashboard}/api/model`)).status, 200)
  assert.match(first.output(), /status: \d+ events\/s, [\d,]+ events? processed, [\d,]+ predictions? saved, [\d,]+ high-risk customers?, [\d,]+ alerts?, lag \d+/)
  // The scoring API runs too, and scores the churn prediction consumer's body.
  const scored = await fetch(`${first.api}/predict-churn`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: 'CUST-00001', event_type: 'bounce', timestamp: new Date().toISOString(), metadata: {} })
  })
  assert.equal(scored.status, 200)
  const score = (await scored.json() as { churn_score: number }).churn_score
  assert.ok(score >= 0 && score <= 1)
  await waitFor(first, 'a few hundred events processed', async () => ((await stats(first)).events_processed ?? 0) >= 300)
  // The fraud pipeline runs beside churn: simulated transactions scored into the same SQLite file, its figures in the status line.
  assert.match(first.output(), /Fraud: +20 transactions\/s of 1,000 simulated accounts \(fraud rate 1%\) -> sqlite .*churnflow\.db, tables transactions and predictions; topics fraud-predictions, fraud-alerts/)
  await waitFor(first, 'transactions scored into SQLite', async () => sqliteCount(dir, 'transactions') >= 100 && sqliteCount(dir, 'predictions') >= 100)
  await waitFor(first, 'a status line with the fraud figures', async () => /lag \d+; fraud: [1-9][\d,]* transactions scored, [\d,]+ flagged/.test(first.output()))
  const health = (await getJson(`${first.ops}/health`))?.body as { dependencies: Record<string, { name: string, state: string }> } | undefined
  assert.match(health?.dependencies.fraud_database?.name ?? '', /^sqlite .*churnflow\.db$/, 'the fraud pipeline\'s dependencies are in /health')
  assert.ok(['up', 'recovering'].includes(health?.dependencies.fraud_kafka?.state ?? ''), JSON.stringify(health))
  const firstFraud = await stats(first)
  assert.ok((firstFraud.transactions_scored ?? 0) > 0 && firstFraud.transactions_scored === firstFraud.total_transactions_scored, JSON.stringify(firstFraud))
  const firstResult = await first.stop()
  assertCleanStop(firstResult, first.output())
  const afterFirst = readState(dir)
  assert.ok(afterFirst.producer.produced > 0)
  assert.ok(afterFirst.totals.events >= 300)
  assert.ok(afterFirst.fraud.scored >= 100, 'the fraud totals are saved')
  // up started the broker, so up stopped it.
  const status = await cli(['kafka', 'status'], { CHURNFLOW_STATE_DIR: dir })
  assert.equal(status.code, 3, status.stdout)

  // Second run: the same population continues, and the counts with it.
  const second = await startUp(t, dir, ['--rate', '300'])
  await waitFor(second, 'more events processed', async () => ((await stats(second)).total_events_processed ?? 0) >= afterFirst.totals.events + 300)
  assert.match(second.output(), /resuming after [\d,]+ events/)
  const secondStats = await stats(second)
  assert.equal(secondStats.duplicates_skipped, 0, 'the first run committed what it processed')
  const secondResult = await second.stop()
  assertCleanStop(secondResult, second.output())
  const afterSecond = readState(dir)
  assert.ok(afterSecond.producer.produced > afterFirst.producer.produced)

  // Third run without a producer drains the rest: every produced event exactly once, one row per prediction.
  const { config } = loadConfig({ env: { KAFKA_BROKER: `127.0.0.1:${KAFKA_PORT}` }, envFile: false })
  const third = await startUp(t, dir, ['--rate', '0', '--tx-rate', '0'])
  await waitFor(third, 'a healthy /health', async () => (await getJson(`${third.ops}/health`))?.status === 200)
  const transactionsSent = await topicRecords(config, 'transactions')
  assert.ok(transactionsSent >= afterSecond.fraud.scored, `${transactionsSent} transactions in Kafka, ${afterSecond.fraud.scored} scored`)
  await waitFor(third, 'every produced event and transaction processed', async () => {
    const s = await stats(third)
    return s.total_events_processed === afterSecond.producer.produced && s.total_transactions_scored === transactionsSent
  })
  assert.match(third.output(), /Fraud: +transactions \(no producer: --tx-rate 0\)/)
  // Ctrl+C lost no transaction, and none was stored twice: one row in each table per transaction sent.
  assert.equal(sqliteCount(dir, 'transactions'), transactionsSent)
  assert.equal(sqliteCount(dir, 'predictions'), transactionsSent)
  const thirdStats = await stats(third)
  assert.equal(thirdStats.duplicates_skipped, 0, 'the second run committed what it processed')
  assert.equal(sqliteCount(dir), thirdStats.total_predictions_saved)
  // What is in Kafka is exactly the population's first `produced` events, in order per key, whatever the restarts.
  const source = livePopulationSource({ ...afterSecond.producer, skip: 0, topics: { [Streams.USER_EVENTS]: 'user-events', [Streams.CUSTOMER_EVENTS]: 'customer-events', [Streams.TRANSACTIONS]: 'transactions' } })
  const expected = await source.take(afterSecond.producer.produced, Date.now())
  const inKafka = [
    ...await consumeFromStart(config, 'user-events', expected.filter(r => r.topic === 'user-events').length),
    ...await consumeFromStart(config, 'customer-events', expected.filter(r => r.topic === 'customer-events').length)
  ]
  assert.equal(inKafka.length, expected.length)
  const byKey = (records: readonly { key: string, value: string }[]): Map<string, string[]> => {
    const map = new Map<string, string[]>()
    for (const r of records) map.set(r.key, [...(map.get(r.key) ?? []), r.value])
    return map
  }
  const want = byKey(expected.map(r => ({ key: r.key, value: r.payload })))
  const got = byKey([...inKafka].sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset)))
  for (const [key, values] of want) {
    const gotValues = (got.get(key) ?? []).slice().sort()
    assert.deepEqual(gotValues, values.slice().sort(), `the events of ${key}`)
  }
  assertCleanStop(await third.stop(), third.output(), false)

  // --fresh starts over: a new population, nothing of the old data or counts.
  const before = sqliteCount(dir)
  const transactionsBefore = sqliteCount(dir, 'transactions')
  const fresh = await startUp(t, dir, ['--fresh', '--rate', '100', '--customers', '50', '--history-days', '2'])
  await waitFor(fresh, 'a healthy /health after --fresh', async () => (await getJson(`${fresh.ops}/health`))?.status === 200 && ((await stats(fresh)).total_events_processed ?? 0) > 0)
  assert.match(fresh.output(), /--fresh: deleted the local Kafka's data, the SQLite database \(churn predictions, fraud transactions and predictions\), the profiles' and accounts' checkpoints, the producer's position/)
  assert.match(fresh.output(), /Producer: +50 simulated customers/)
  const freshStats = await stats(fresh)
  assert.equal(freshStats.total_events_processed, freshStats.events_processed, 'the counts start over')
  assert.equal(freshStats.total_transactions_scored, freshStats.transactions_scored, 'the fraud counts start over')
  assertCleanStop(await fresh.stop(), fresh.output())
  const restarted = readState(dir)
  assert.equal(restarted.producer.customers, 50)
  assert.notEqual(restarted.producer.seed, afterSecond.producer.seed)
  assert.ok(sqliteCount(dir) < before, 'the old rows are gone')
  assert.ok(sqliteCount(dir, 'transactions') < transactionsBefore, 'the old transactions are gone')
})

test('up with DATABASE_URL pointing at MariaDB writes the predictions there, not to SQLite', async t => {
  if (!needJava(t)) return
  const backend = sqlBackends.find(b => b.name === 'mariadb')
  assert.ok(backend !== undefined)
  if (await backend.url(t) === undefined) return
  const database = uniqueName('up').replace(/-/g, '_')
  const url = `mysql://root@127.0.0.1:3306/${database}`
  t.after(async () => {
    const c = await mysql.createConnection({ uri: 'mysql://root@127.0.0.1:3306/' })
    await c.query(`DROP DATABASE IF EXISTS \`${database}\``)
    await c.end()
  })
  const dir = await stateDir(t)
  const up = await startUp(t, dir, ['--rate', '300', '--customers', '100', '--history-days', '10'], { DATABASE_URL: url })
  await waitFor(up, 'rows in MariaDB', async () => await backend.count(url, 'churn_predictions') > 50 && await backend.count(url, 'predictions') > 10)
  assert.match(up.output(), /Predictions: +mysql root@127\.0\.0\.1:3306\//)
  assertCleanStop(await up.stop(), up.output())
  const saved = readState(dir)
  assert.equal(await backend.count(url, 'churn_predictions'), saved.totals.predictions)
  assert.equal(await backend.count(url, 'transactions'), saved.fraud.scored, 'the fraud pipeline writes to the same database')
  assert.ok(!existsSync(join(dir, 'churnflow.db')), 'no SQLite file')
})

test('up with KAFKA_BROKER and REDIS_HOST uses that Kafka and Redis, and starts no broker', async t => {
  const config = await kafkaConfig(t)
  if (config === undefined) return
  const prefix = `${uniqueName('up')}:`
  const store = await redisStore(t, prefix)
  if (store === undefined) return
  const base = uniqueName('up')
  const topics = {
    KAFKA_TOPIC: `${base}-user`,
    KAFKA_TOPIC_CUSTOMER_EVENTS: `${base}-cust`,
    KAFKA_TOPIC_TRANSACTIONS: `${base}-tx`,
    KAFKA_TOPIC_CHURN_PREDICTIONS: `${base}-pred`,
    KAFKA_TOPIC_CHURN_ALERTS: `${base}-alert`,
    KAFKA_TOPIC_FRAUD_PREDICTIONS: `${base}-fraud-pred`,
    KAFKA_TOPIC_FRAUD_ALERTS: `${base}-fraud-alert`
  }
  t.after(() => deleteTopics(config, [...Object.values(topics), ...Object.values(topics).map(n => `${n}-failed`)]))
  const dir = await stateDir(t)
  const up = await startUp(t, dir, ['--rate', '300', '--customers', '100', '--history-days', '10', '--no-fraud'], {
    KAFKA_BROKER: config.kafkaBrokers.join(','), REDIS_HOST: '127.0.0.1', REDIS_KEY_PREFIX: prefix, KAFKA_GROUP_ID: uniqueName('group'), ...topics
  })
  await waitFor(up, 'events processed with Redis profiles', async () => ((await stats(up)).events_processed ?? 0) >= 200)
  assert.match(up.output(), /\(your cluster, 1 broker; up starts no broker\)/)
  assert.match(up.output(), /Profiles: +redis 127\.0\.0\.1:6379/)
  assert.match(up.output(), /Fraud: +off \(--no-fraud\)/)
  assertCleanStop(await up.stop(), up.output(), true, false)
  assert.ok(!/FRAUD STATISTICS|; fraud: /.test(up.output()), 'no fraud part')
  assert.ok(!existsSync(join(dir, 'kafka')), 'no local broker')
  // The profiles are in Redis: a customer seen has its counters there.
  const seen = await store.getMany(Array.from({ length: 100 }, (_, i) => `CUST-${String(i + 1).padStart(3, '0')}`))
  assert.ok(seen.size > 10, `profiles in Redis: ${seen.size}`)
  assert.match(up.output(), /Everything is stopped/)
  assert.ok(!up.output().includes('keeps running'), 'no local Kafka was involved')
})

test('up refuses a port that is taken, and a machine without Java, naming the fix; it starts nothing', async t => {
  const dir = await stateDir(t)
  const server = createServer()
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  t.after(() => { server.close() })
  const taken = (server.address() as { port: number }).port
  const busy = await cli(['up', '--kafka-port', String(KAFKA_PORT)], { CHURNFLOW_STATE_DIR: dir, API_PORT: String(taken), OPS_PORT: String(await freePort()) })
  assert.equal(busy.code, 1, busy.stderr)
  assert.match(busy.stderr, new RegExp(`port ${taken} on 127\\.0\\.0\\.1 \\(the scoring API\\) is in use`))
  assert.match(busy.stderr, /API_PORT/)
  const opsBusy = await cli(['up', '--kafka-port', String(KAFKA_PORT)], { CHURNFLOW_STATE_DIR: dir, API_PORT: String(await freePort()), OPS_PORT: String(taken) })
  assert.equal(opsBusy.code, 1, opsBusy.stderr)
  assert.match(opsBusy.stderr, /\(the ops endpoints\) is in use/)
  assert.match(opsBusy.stderr, /OPS_PORT/)
  assert.ok(!existsSync(join(dir, 'kafka')), 'no broker was started')

  const bin = await mkdtemp(join(tmpdir(), 'churnflow-bin-'))
  t.after(() => rm(bin, { recursive: true, force: true }))
  const noJava = await cli(['up', '--kafka-port', String(KAFKA_PORT)], { CHURNFLOW_STATE_DIR: dir, API_PORT: String(await freePort()), OPS_PORT: String(await freePort()), PATH: bin, JAVA_HOME: '/nonexistent' })
  assert.equal(noJava.code, 1, noJava.stderr)
  assert.match(noJava.stderr, /Java 17 or newer is needed to run the local Apache Kafka, and none was found/)
  assert.ok(!noJava.stderr.includes('    at '), 'no stack trace')
})

test('up --rate and friends refuse bad values with a usage error', async () => {
  const bad = await cli(['up', '--rate', 'fast'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--rate="fast" is invalid: expected a whole number/)
})
