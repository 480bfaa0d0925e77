import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import type { Config } from '../../src/config/index.ts'
import { profileFields, type CustomerProfile, type RedisProfileStore } from '../../src/profile/index.ts'
import { expectedProfiles, mixedEvents, poisonCorpus, produceRaw, produceTo, scoredCount, type TestRecord } from '../helpers/events.ts'
import { freePort } from '../helpers/ports.ts'
import { waitFor } from '../helpers/wait.ts'
import { cli, consumeFromStart, createTopic, deleteTopics, kafkaConfig, redisStore, startCli, uniqueName } from '../helpers/services.ts'
import { sqlBackends, tableName } from '../helpers/sql.ts'
import { INACTIVITY_CHECK } from '../../src/processor/index.ts'
import { changelogStore } from '../helpers/state.ts'

interface Topics { 'user-events': string, 'customer-events': string, predictions: string, alerts: string }

async function topicsFor (t: TestContext, config: Config, partitions = 3): Promise<Topics> {
  const base = uniqueName('proc')
  const topics = { 'user-events': `${base}-user`, 'customer-events': `${base}-cust`, predictions: `${base}-pred`, alerts: `${base}-alert` }
  await createTopic(config, topics['user-events'], partitions)
  await createTopic(config, topics['customer-events'], partitions)
  t.after(() => deleteTopics(config, [...Object.values(topics), `${topics['user-events']}-failed`, `${topics['customer-events']}-failed`]))
  return topics
}

/** A group id whose profiles changelog is deleted when the test ends. */
function groupFor (t: TestContext, config: Config): string {
  const group = uniqueName('group')
  t.after(() => deleteTopics(config, [`${group}-profiles-changelog`]))
  return group
}

/** The environment of a processor on these topics; the rest of the configuration is the defaults. */
function processEnv (config: Config, topics: Topics, extra: Record<string, string>): Record<string, string> {
  return {
    KAFKA_BROKER: config.kafkaBrokers.join(','),
    KAFKA_TOPIC: topics['user-events'],
    KAFKA_TOPIC_CUSTOMER_EVENTS: topics['customer-events'],
    KAFKA_TOPIC_CHURN_PREDICTIONS: topics.predictions,
    KAFKA_TOPIC_CHURN_ALERTS: topics.alerts,
    KAFKA_GROUP_ID: uniqueName('group'),
    OPS_PORT: '0',
    LOG_LEVEL: 'info',
    ...extra
  }
}

function assertProfiles (actual: Map<string, CustomerProfile | undefined>, expected: Map<string, CustomerProfile>): void {
  assert.equal(actual.size, expected.size)
  for (const [id, want] of expected) {
    const got = actual.get(id)
    assert.ok(got !== undefined, `no profile for ${id}`)
    for (const f of profileFields) assert.equal(got[f], want[f], `${id}.${f}`)
  }
}

async function profilesOf (store: { getMany (ids: readonly string[]): Promise<Map<string, { profile: CustomerProfile }>> }, ids: readonly string[]): Promise<Map<string, CustomerProfile | undefined>> {
  const records = await store.getMany(ids)
  return new Map(ids.map(id => [id, records.get(id)?.profile]))
}

/** One row per scored event, and no row twice (the silence sweeps' inactivity checks included, keyed by customer and step). */
function assertOneRowPerScoredEvent (rows: readonly { event_type: string, kafka_topic: string, kafka_partition: number, kafka_offset: number }[], records: readonly TestRecord[]): void {
  const keys = new Set(rows.map(r => `${r.kafka_topic}:${r.kafka_partition}:${r.kafka_offset}`))
  assert.equal(keys.size, rows.length, 'a row was written twice')
  assert.equal(rows.filter(r => r.event_type !== INACTIVITY_CHECK).length, scoredCount(records))
}

for (const backend of sqlBackends) {
  test(`process (${backend.name}): one row per scored event, poison dead-lettered with its reason, exact profiles, and a replay by a new group changes nothing`, async t => {
    const config = await kafkaConfig(t)
    if (config === undefined) return
    const url = await backend.url(t)
    if (url === undefined) return
    const table = tableName('preds')
    t.after(() => backend.drop(url, table))
    const topics = await topicsFor(t, config)
    const records = mixedEvents(3000, { seed: backend.name.length })
    await produceTo(config, topics, records)
    await produceRaw(config, topics['user-events'], poisonCorpus.map(p => p.value))

    // Redis profiles beside MariaDB; the in-process store (its changelog) beside the others.
    let redis: RedisProfileStore | undefined
    const extra: Record<string, string> = { DATABASE_URL: url }
    const stateDir = mkdtempSync(join(tmpdir(), 'churnflow-proc-'))
    t.after(() => { rmSync(stateDir, { recursive: true, force: true }) })
    extra.CHURNFLOW_STATE_DIR = stateDir
    if (backend.name === 'mariadb') {
      const prefix = `${uniqueName('cf')}:`
      redis = await redisStore(t, prefix)
      if (redis === undefined) return
      extra.REDIS_HOST = '127.0.0.1'
      extra.REDIS_KEY_PREFIX = prefix
    }
    const env = { ...processEnv(config, topics, extra), KAFKA_GROUP_ID: groupFor(t, config) }
    const first = await cli(['process', '--exit-when-idle', '3', '--table', table], env, 180_000)
    assert.equal(first.code, 0, first.stdout + first.stderr)
    assert.match(first.stdout, /PROCESSING STATISTICS/)
    assert.match(first.stdout, new RegExp(`Events Processed: ${records.length}\\n`))
    assert.match(first.stdout, new RegExp(`Errors: ${poisonCorpus.length}\\n`))

    const rows = await backend.rows(url, table)
    assertOneRowPerScoredEvent(rows, records)
    // Every row is a prediction saved: the events' and the inactivity checks' (in-process state only).
    assert.match(first.stdout, new RegExp(`Predictions Saved: ${rows.length}\\n`))
    const checks = rows.filter(r => r.event_type === INACTIVITY_CHECK).length
    if (redis === undefined) assert.ok(checks > 0, 'no customer went quiet for a day in 50 hours of events')
    else assert.equal(checks, 0, 'silence sweeps need the in-process state')
    assert.ok(rows.every(r => r.churn_score >= 0 && r.churn_score <= 1))

    const dead = await consumeFromStart(config, `${topics['user-events']}-failed`, poisonCorpus.length)
    assert.deepEqual(dead.map(d => d.value).sort(), poisonCorpus.map(p => p.value).sort())
    for (const d of dead) {
      const expected = poisonCorpus.find(p => p.value === d.value)
      assert.equal(d.headers.get('churnflow-error-code'), expected?.code)
      assert.equal(d.headers.get('churnflow-source-topic'), topics['user-events'])
      assert.ok(Number(d.headers.get('churnflow-source-offset')) >= 0)
      assert.ok((d.headers.get('churnflow-error-message') ?? '').length > 0)
    }
    const predictions = await consumeFromStart(config, topics.predictions, scoredCount(records))
    const one = JSON.parse(predictions[0]!.value) as Record<string, unknown>
    for (const field of ['customer_id', 'event_type', 'churn_score', 'risk_band', 'model_version', 'reasons', 'event_timestamp', 'prediction_timestamp', 'source']) assert.ok(field in one, field)

    const expected = expectedProfiles(records)
    const open = async (group: string): Promise<Map<string, CustomerProfile | undefined>> => redis !== undefined
      ? profilesOf(redis, [...expected.keys()])
      : profilesOf(changelogStore(config, group), [...expected.keys()])
    assertProfiles(await open(env.KAFKA_GROUP_ID), expected)

    // Every record again, from a new group. Redis profiles are shared by every group: they skip
    // what they applied. The in-process store's state belongs to its group (its changelog, as a
    // Kafka Streams application's): the new group builds its own, the same. Rows are not doubled.
    const group = groupFor(t, config)
    const replay = await cli(['process', '--exit-when-idle', '3', '--table', table], { ...env, KAFKA_GROUP_ID: group }, 180_000)
    assert.equal(replay.code, 0, replay.stdout + replay.stderr)
    if (redis !== undefined) {
      assert.match(replay.stdout, /Events Processed: 0\n/)
      assert.match(replay.stdout, new RegExp(`Replayed events skipped: ${records.length}\\n`))
    } else {
      assert.match(replay.stdout, new RegExp(`Events Processed: ${records.length}\\n`))
    }
    const again = await backend.rows(url, table)
    assertOneRowPerScoredEvent(again, records)
    assert.equal(again.length, rows.length, 'the replay wrote inactivity checks the first run had not')
    assertProfiles(await open(group), expected)
  })
}

test('ops endpoints while it runs (/health, /metrics, /stats); SIGTERM finishes the batch, commits, and prints the statistics', async t => {
  const config = await kafkaConfig(t)
  if (config === undefined) return
  const topics = await topicsFor(t, config)
  const stateDir = mkdtempSync(join(tmpdir(), 'churnflow-ops-'))
  t.after(() => { rmSync(stateDir, { recursive: true, force: true }) })
  const port = await freePort()
  const env = processEnv(config, topics, { CHURNFLOW_STATE_DIR: stateDir, OPS_PORT: String(port), BATCH_SIZE: '50' })
  // A customer seen once at the start, then never again, among 33 hours of everyone else's events.
  const start = Date.UTC(2024, 0, 1)
  const quiet: TestRecord = { stream: 'user-events', key: 'QUIET-1', value: JSON.stringify({ user_id: 'QUIET-1', event_type: 'checkout', timestamp: new Date(start).toISOString(), metadata: { session_length: 4 } }), time: start }
  const records = [quiet, ...mixedEvents(2000, { seed: 31, start })]
  await produceTo(config, topics, records)
  const run = startCli(['process'], env)
  t.after(() => { if (run.child.exitCode === null) run.child.kill('SIGKILL') })
  const base = `http://127.0.0.1:${port}`
  let stats: Record<string, number> = {}
  await waitFor('every event processed', async () => {
    stats = await fetch(`${base}/stats`).then(r => r.json() as Promise<Record<string, number>>, () => ({}))
    return (stats.events_processed ?? 0) >= records.length
  })
  assert.equal(stats.events_processed, records.length)
  for (const key of ['runtime_s', 'events_processed', 'predictions_saved', 'errors', 'success_rate']) assert.ok(key in stats, key)
  const health = await fetch(`${base}/health`)
  assert.equal(health.status, 200)
  const body = await health.json() as { status: string, dependencies: Record<string, { state: string }> }
  assert.equal(body.status, 'ok')
  assert.deepEqual(Object.keys(body.dependencies).sort(), ['database', 'kafka', 'profile_store', 'scoring_api'])
  assert.equal(body.dependencies.kafka?.state, 'up')
  let metrics = await (await fetch(`${base}/metrics`)).text()
  for (const name of ['churnflow_processor_events_total', 'churnflow_processor_batch_duration_seconds', 'churnflow_processor_database_write_seconds', 'churnflow_processor_scoring_seconds', 'churnflow_processor_consumer_lag', 'churnflow_processor_events_per_second', 'churnflow_processor_failures_total']) {
    assert.ok(metrics.includes(name), name)
  }
  // The last batch's commit may land after /stats counts it: wait for the lag to reach 0 on every
  // partition of the topic rather than read it at one moment.
  const lagOf = (text: string): string[] => [...text.matchAll(new RegExp(`^churnflow_processor_consumer_lag\\{pipeline="churn",topic="${topics['user-events']}",partition="\\d+"\\} (\\S+)$`, 'gm'))].map(m => m[1] as string)
  await waitFor(`a consumer lag of 0 on ${topics['user-events']}`, async () => {
    metrics = await (await fetch(`${base}/metrics`)).text()
    const lags = lagOf(metrics)
    return lags.length > 0 && lags.every(lag => lag === '0')
  })
  // Current risk: every scored customer ranked, the quiet one among them, re-scored by its silence.
  type AtRisk = { count: number, customers: { customer_id: string, churn_score: number, risk_band: string, trigger: string, days_silent: number, reasons: unknown[], segment: string, tenure_days: number, first_seen: string }[] }
  const ranked = await (await fetch(`${base}/customers/at-risk?limit=1000`)).json() as AtRisk
  assert.ok(ranked.count > 100, `${ranked.count} customers ranked`)
  assert.ok(ranked.customers.every((c, i) => i === 0 || c.churn_score <= (ranked.customers[i - 1] as typeof c).churn_score), 'ranked by current risk')
  const silentOne = ranked.customers.find(c => c.customer_id === 'QUIET-1')
  assert.equal(silentOne?.trigger, 'inactivity')
  assert.ok((silentOne?.days_silent ?? 0) >= 1, `silent ${silentOne?.days_silent} days`)
  const band = ranked.customers[0]?.risk_band as string
  const inBand = await (await fetch(`${base}/customers/at-risk?limit=5&band=${band}`)).json() as AtRisk
  assert.ok(inBand.count > 0 && inBand.customers.every(c => c.risk_band === band))
  assert.equal((await fetch(`${base}/customers/at-risk?band=purple`)).status, 400)
  // Segments are tenure as of the partition's watermark: 33 hours of history, every customer new.
  assert.ok(ranked.customers.every(c => c.segment === 'new' && c.tenure_days <= 2 && c.first_seen !== null))
  assert.equal(silentOne?.first_seen, new Date(start).toISOString())
  const young = await (await fetch(`${base}/customers/at-risk?limit=5&segment=new`)).json() as AtRisk
  assert.deepEqual(young.customers.map(c => c.customer_id), ranked.customers.slice(0, 5).map(c => c.customer_id))
  assert.equal((await (await fetch(`${base}/customers/at-risk?segment=over-12-months`)).json() as AtRisk).count, 0)
  assert.equal((await fetch(`${base}/customers/at-risk?segment=user-events`)).status, 400)
  assert.equal((await fetch(`${base}/customers/at-risk?limit=0`)).status, 400)
  const page = await (await fetch(`${base}/customers/QUIET-1`)).json() as { risk: { trigger: string }, predictions: { event_type: string }[], profile: { events: number } }
  assert.equal(page.profile.events, 1)
  assert.equal(page.risk.trigger, 'inactivity')
  assert.ok(page.predictions.some(p => p.event_type === INACTIVITY_CHECK), 'the latest predictions hold the inactivity checks')
  assert.ok(page.predictions.some(p => p.event_type === 'checkout'))
  assert.equal((await fetch(`${base}/customers/nobody-at-all`)).status, 404)
  assert.ok(metrics.includes('churnflow_processor_inactivity_checks_total{pipeline="churn"}'))

  run.child.kill('SIGTERM')
  const result = await run.done
  assert.equal(result.code, 0, result.stderr)
  assert.match(result.stdout, /SIGTERM: finishing the batch in hand/)
  assert.match(result.stdout, new RegExp(`Events Processed: ${records.length}\\n`))
  // Everything was committed: the same group starting again has nothing to do.
  const again = await cli(['process', '--exit-when-idle', '2'], { ...env, OPS_PORT: '0' }, 120_000)
  assert.equal(again.code, 0, again.stderr)
  assert.match(again.stdout, /Events Processed: 0\n/)
  assert.match(again.stdout, /Replayed events skipped: 0\n/)
})

test('churnflow demo runs the pipeline with no services and prints the churn prediction consumer\'s lines and statistics', async () => {
  const result = await cli(['demo'])
  assert.equal(result.code, 0, result.stderr)
  assert.match(result.stdout, /Processing event - User: 123, Type: product_view, Key: 123/)
  assert.match(result.stdout, /Churn prediction received - User: 123, Score: 0\.\d+/)
  assert.match(result.stdout, /Prediction saved to database - User: 123/)
  assert.match(result.stdout, /✅ Event processed successfully - User: 123, Churn Score: /)
  assert.match(result.stdout, /Alert \(critical_event\) - User: CUST-002, Type: payment_failed/)
  assert.match(result.stdout, /Record sent to user-events-failed: /)
  assert.match(result.stdout, /PROCESSING STATISTICS[\s\S]*Events Processed: 11\n[\s\S]*Errors: 1\n/)
  // Then the fraud pipeline: 60 simulated transactions with injected fraud, and 3 malformed ones.
  assert.match(result.stdout, /Consumer started - Server: \(no Kafka: the demo\), Group: transaction-consumer-group, Topic: transactions/)
  assert.match(result.stdout, /Invalid transaction sent to the error topic: currency "XYZ" is not an ISO 4217 currency code/)
  assert.match(result.stdout, /Consumer stopped\. Total messages: 63/)
  assert.match(result.stdout, /FRAUD STATISTICS\n=+\nRuntime: [\d.]+ seconds\nTransactions Received: 63\nTransactions Scored: 60\nFlagged as Fraud: [1-9]\d*\n/)
  const flagged = Number(/Flagged as Fraud: (\d+)/.exec(result.stdout)?.[1])
  assert.match(result.stdout, new RegExp(`Stored 60 rows in transactions and in predictions \\(SQLite, a temporary file\\); ${flagged} flagged as fraud:`))
  assert.equal((result.stdout.match(/^ {2}TX-\S+ {2}ACC-\d+ .* score 0\.\d{3} {2}\(simulated fraud: \w+\)$/gm) ?? []).length, flagged, 'every flagged row, each one the simulator injected')
  assert.match(result.stdout, /offset 60 {2}invalid_json: [\s\S]*offset 61 {2}invalid_event: [\s\S]*offset 62 {2}invalid_timestamp: /)
  assert.match(result.stdout, new RegExp(`fraud-predictions: 60\n {2}fraud-alerts: ${flagged}\n {2}transactions-failed: 3\n`))
})

test('churnflow doctor checks the fraud pipeline: its topics, its tables\' migrations, its model, the API\'s fraud route', async t => {
  const config = await kafkaConfig(t)
  if (config === undefined) return
  const base = uniqueName('doctor')
  const topics = {
    KAFKA_TOPIC: `${base}-user`,
    KAFKA_TOPIC_CUSTOMER_EVENTS: `${base}-cust`,
    KAFKA_TOPIC_CHURN_PREDICTIONS: `${base}-pred`,
    KAFKA_TOPIC_CHURN_ALERTS: `${base}-alert`,
    KAFKA_TOPIC_TRANSACTIONS: `${base}-tx`,
    KAFKA_TOPIC_FRAUD_PREDICTIONS: `${base}-fraud-pred`,
    KAFKA_TOPIC_FRAUD_ALERTS: `${base}-fraud-alert`
  }
  t.after(() => deleteTopics(config, [...Object.values(topics), `${base}-user-failed`, `${base}-cust-failed`, `${base}-tx-failed`]))
  const dir = mkdtempSync(join(tmpdir(), 'churnflow-doctor-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const env = { KAFKA_BROKER: config.kafkaBrokers.join(','), CHURNFLOW_STATE_DIR: dir, ...topics }

  const before = await cli(['doctor'], env, 60_000)
  assert.equal(before.code, 0, before.stdout + before.stderr)
  assert.match(before.stdout, new RegExp(`⚠️ +fraud pipeline topics missing: ${base}-tx, ${base}-tx-failed, ${base}-fraud-pred, ${base}-fraud-alert\n {3}fix: churnflow topics create`))
  assert.match(before.stdout, /⚠️ +fraud tables in sqlite \S+churnflow\.db: 3 of 3 migration\(s\) pending \(0001_fraud_tables, 0002_extra_and_kafka_coordinates, 0003_flagged_transactions_index\)\n {3}fix: churnflow db migrate applies them/)
  assert.match(before.stdout, /✅ fraud model fraud-\S+ loads from \S+fraud-model\.json \(scoring in process\)/)

  assert.equal((await cli(['topics', 'create'], env, 60_000)).code, 0)
  assert.equal((await cli(['db', 'migrate'], env, 60_000)).code, 0)
  const port = await freePort()
  const api = startCli(['api'], { ...env, API_PORT: String(port) })
  t.after(async () => { api.child.kill('SIGTERM'); await api.done })
  await waitFor('the scoring API', async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.status === 200)
  const after = await cli(['doctor'], { ...env, ML_API_URL: `http://127.0.0.1:${port}` }, 60_000)
  assert.equal(after.code, 0, after.stdout + after.stderr)
  assert.match(after.stdout, new RegExp(`✅ fraud pipeline topics present: ${base}-tx, ${base}-tx-failed, ${base}-fraud-pred, ${base}-fraud-alert\n`))
  assert.match(after.stdout, /✅ fraud tables transactions and predictions in sqlite \S+: 3 migration\(s\) applied, up to date/)
  assert.match(after.stdout, new RegExp(`✅ scoring API http://127\\.0\\.0\\.1:${port}: POST /predict/batch answers \\(fraud scoring\\)`))
  assert.match(after.stdout, /Everything churnflow needs answers\./)
})

test('churnflow doctor says what is wrong and how to fix it, and exits 1', async () => {
  const api = await freePort()
  const result = await cli(['doctor'], { KAFKA_BROKER: '127.0.0.1:1', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/postgres', REDIS_HOST: '127.0.0.1', REDIS_PORT: '1', FLASK_API_URL: `http://127.0.0.1:${api}` }, 60_000)
  assert.equal(result.code, 1)
  assert.match(result.stdout, /❌ Kafka at 127\.0\.0\.1:1 does not answer/)
  assert.match(result.stdout, /fix: start the local one with `churnflow kafka start`/)
  assert.match(result.stdout, /❌ postgres postgres@127\.0\.0\.1:1\/postgres is unavailable/)
  assert.match(result.stdout, /❌ profile store: /)
  assert.match(result.stdout, new RegExp(`❌ scoring API http://127\\.0\\.0\\.1:${api}: ECONNREFUSED`))
  assert.match(result.stdout, /4 problem\(s\) found/)
})
