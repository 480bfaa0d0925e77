import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadConfig, type Config } from '../../src/config/index.ts'
import { profileFields, type CustomerProfile, type RedisProfileStore } from '../../src/profile/index.ts'
import { INACTIVITY_CHECK } from '../../src/processor/index.ts'
import { expectedProfiles, mixedEvents, produceTo, scoredCount, type TestRecord } from '../helpers/events.ts'
import { startPrivateMariadb } from '../helpers/mariadb.ts'
import { freePort } from '../helpers/ports.ts'
import { waitFor } from '../helpers/wait.ts'
import { background, cli, createTopic, deleteTopics, kafkaConfig, recordsIn, redisStore, TcpProxy, uniqueName, unavailable, type RunResult } from '../helpers/services.ts'
import { sqlBackends, tableName, type SqlBackend } from '../helpers/sql.ts'
import { changelogStore } from '../helpers/state.ts'

const mariadb = sqlBackends.find(b => b.name === 'mariadb') as SqlBackend
const sqlite = sqlBackends.find(b => b.name === 'sqlite') as SqlBackend

interface Setup {
  readonly config: Config
  readonly topics: { 'user-events': string, 'customer-events': string }
  readonly env: Record<string, string>
  readonly stateDir: string
}

async function setup (t: TestContext, options: { partitions?: number, extra?: Record<string, string> } = {}): Promise<Setup | undefined> {
  const config = await kafkaConfig(t)
  if (config === undefined) return undefined
  const base = uniqueName('fail')
  const topics = { 'user-events': `${base}-user`, 'customer-events': `${base}-cust` }
  await createTopic(config, topics['user-events'], options.partitions ?? 3)
  await createTopic(config, topics['customer-events'], options.partitions ?? 3)
  const group = uniqueName('group')
  t.after(() => deleteTopics(config, [topics['user-events'], topics['customer-events'], `${base}-pred`, `${base}-alert`, `${topics['user-events']}-failed`, `${topics['customer-events']}-failed`, `${group}-profiles-changelog`]))
  const stateDir = mkdtempSync(join(tmpdir(), 'churnflow-fail-'))
  t.after(() => { rmSync(stateDir, { recursive: true, force: true }) })
  const env = {
    KAFKA_BROKER: config.kafkaBrokers.join(','),
    KAFKA_TOPIC: topics['user-events'],
    KAFKA_TOPIC_CUSTOMER_EVENTS: topics['customer-events'],
    KAFKA_TOPIC_CHURN_PREDICTIONS: `${base}-pred`,
    KAFKA_TOPIC_CHURN_ALERTS: `${base}-alert`,
    KAFKA_GROUP_ID: group,
    CHURNFLOW_STATE_DIR: stateDir,
    OPS_PORT: '0',
    MAX_RETRIES: '2',
    ...options.extra
  }
  return { config, topics, env, stateDir }
}

/** One row per scored event, and no row twice (inactivity checks included: they are keyed by customer and silence step). */
function assertExactRows (rows: readonly { event_type: string, kafka_topic: string, kafka_partition: number, kafka_offset: number }[], records: readonly TestRecord[]): void {
  const keys = new Set(rows.map(r => `${r.kafka_topic}:${r.kafka_partition}:${r.kafka_offset}`))
  assert.equal(keys.size, rows.length, 'a row was written twice')
  assert.equal(rows.filter(r => r.event_type !== INACTIVITY_CHECK).length, scoredCount(records), 'rows are missing')
}

async function assertExactProfiles (store: { getMany (ids: readonly string[]): Promise<Map<string, { profile: CustomerProfile }>> }, records: readonly TestRecord[]): Promise<void> {
  const expected = expectedProfiles(records)
  const stored = await store.getMany([...expected.keys()])
  for (const [id, want] of expected) {
    const got = stored.get(id)?.profile
    assert.ok(got !== undefined, `no profile for ${id}`)
    for (const f of profileFields) assert.equal(got[f], want[f], `${id}.${f}`)
  }
}

const ok = (r: RunResult): void => { assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000)) }

for (const variant of [{ backend: mariadb, profiles: 'redis' }, { backend: sqlite, profiles: 'memory' }] as const) {
  test(`kill -9 mid-batch, then restart (${variant.backend.name}, ${variant.profiles} profiles): exactly one row per event and exact profiles`, async t => {
    const url = await variant.backend.url(t)
    if (url === undefined) return
    let redis: RedisProfileStore | undefined
    const extra: Record<string, string> = { DATABASE_URL: url, BATCH_SIZE: '200' }
    if (variant.profiles === 'redis') {
      const prefix = `${uniqueName('cf')}:`
      redis = await redisStore(t, prefix)
      if (redis === undefined) return
      Object.assign(extra, { REDIS_HOST: '127.0.0.1', REDIS_KEY_PREFIX: prefix })
    }
    const s = await setup(t, { extra })
    if (s === undefined) return
    const table = tableName('kill')
    t.after(() => variant.backend.drop(url, table))
    const records = mixedEvents(20_000, { seed: 11, users: 300, customers: 150 })
    await produceTo(s.config, s.topics, records)

    const first = background(t, ['process', '--table', table], s.env)
    await waitFor('some rows', async () => (await variant.backend.count(url, table)) > 2000)
    first.child.kill('SIGKILL')
    await first.done
    const partial = await variant.backend.count(url, table)
    assert.ok(partial < scoredCount(records), 'the processor finished before it was killed')

    ok(await cli(['process', '--exit-when-idle', '3', '--table', table], s.env, 240_000))
    assertExactRows(await variant.backend.rows(url, table), records)
    const store = redis ?? changelogStore(s.config, s.env.KAFKA_GROUP_ID as string)
    await assertExactProfiles(store, records)
  })
}

test('MariaDB stopped for 30 seconds: the processor waits, then catches up; nothing is dead-lettered or lost', async t => {
  const db = await startPrivateMariadb(t)
  if (db === undefined) return
  const url = db.url('churn_db')
  const s = await setup(t, { extra: { DATABASE_URL: url, BATCH_SIZE: '200' } })
  if (s === undefined) return
  const records = mixedEvents(6000, { seed: 3 })
  await produceTo(s.config, s.topics, records.slice(0, 3000))
  const run = background(t, ['process', '--exit-when-idle', '5'], s.env)
  const count = async (): Promise<number> => (await mariadb.count(url, 'churn_predictions'))
  await waitFor('the first rows', async () => (await count()) > 0)
  await db.stop()
  await produceTo(s.config, s.topics, records.slice(3000))
  await sleep(30_000)
  assert.equal(run.child.exitCode, null, 'the processor gave up while the database was down')
  await db.start()
  const result = await run.done
  ok(result)
  assert.match(result.stdout, /is down .*partitions paused until it is back/)
  assert.match(result.stdout, /is back; resuming/)
  assertExactRows(await mariadb.rows(url, 'churn_predictions'), records)
  assert.equal(await recordsIn(s.config, `${s.topics['user-events']}-failed`), 0)
  assert.equal(await recordsIn(s.config, `${s.topics['customer-events']}-failed`), 0)
})

test('Redis away for 10 seconds (its connections dropped, new ones refused): the processor waits, then catches up; exact profiles, nothing lost', async t => {
  const url = await sqlite.url(t)
  if (url === undefined) return
  const prefix = `${uniqueName('cf-away')}:`
  const redis = await redisStore(t, prefix)
  if (redis === undefined) return
  const proxy = new TcpProxy('127.0.0.1', Number((process.env.CHURNFLOW_TEST_REDIS ?? '127.0.0.1:6379').split(':')[1] ?? 6379))
  const proxyPort = await proxy.start()
  t.after(() => proxy.stop())
  const s = await setup(t, { extra: { DATABASE_URL: url, BATCH_SIZE: '200', REDIS_HOST: '127.0.0.1', REDIS_PORT: String(proxyPort), REDIS_KEY_PREFIX: prefix } })
  if (s === undefined) return
  const records = mixedEvents(6000, { seed: 5, users: 200, customers: 100 })
  await produceTo(s.config, s.topics, records.slice(0, 3000))
  const run = background(t, ['process', '--exit-when-idle', '5'], s.env)
  await waitFor('the first rows', async () => (await sqlite.count(url, 'churn_predictions')) > 0)
  await proxy.stop()
  await produceTo(s.config, s.topics, records.slice(3000))
  await sleep(10_000)
  assert.equal(run.child.exitCode, null, 'the processor gave up while Redis was away')
  await proxy.start(proxyPort)
  const result = await run.done
  ok(result)
  assert.match(result.stdout, /is down .*partitions paused until it is back/)
  assert.match(result.stdout, /is back; resuming/)
  assertExactRows(await sqlite.rows(url, 'churn_predictions'), records)
  await assertExactProfiles(redis, records)
  assert.equal(await recordsIn(s.config, `${s.topics['user-events']}-failed`), 0)
  assert.equal(await recordsIn(s.config, `${s.topics['customer-events']}-failed`), 0)
})

test('scoring API down: the processor waits for it, then scores through it exactly as in process', async t => {
  const url = await sqlite.url(t)
  if (url === undefined) return
  const port = await freePort()
  const s = await setup(t, { extra: { DATABASE_URL: url, FLASK_API_URL: `http://127.0.0.1:${port}`, API_TIMEOUT: '2' } })
  if (s === undefined) return
  const records = mixedEvents(2000, { seed: 5 })
  await produceTo(s.config, s.topics, records)
  const run = background(t, ['process', '--exit-when-idle', '3', '--table', 'remote'], s.env)
  await sleep(6000)
  assert.equal(run.child.exitCode, null, 'the processor gave up while the scoring API was down')
  background(t, ['api', '--port', String(port)], { LOG_LEVEL: 'warn' })
  const result = await run.done
  ok(result)
  assert.match(result.stdout, /scoring API .* is down/)
  const remote = await sqlite.rows(url, 'remote')
  assertExactRows(remote, records)
  assert.equal(await recordsIn(s.config, `${s.topics['user-events']}-failed`), 0)

  // The same events scored in process, by another group: the same scores, row for row.
  ok(await cli(['process', '--exit-when-idle', '3', '--table', 'local'], { ...s.env, FLASK_API_URL: '', KAFKA_GROUP_ID: uniqueName('group'), CHURNFLOW_STATE_DIR: join(s.stateDir, 'local') }, 120_000))
  // In process, the silence sweeps add inactivity checks (the scoring API scores events only).
  const local = (await sqlite.rows(url, 'local')).filter(r => r.event_type !== INACTIVITY_CHECK)
  assert.deepEqual(remote.map(r => [r.kafka_offset, r.churn_score]), local.map(r => [r.kafka_offset, r.churn_score]))
})

test('two processors in one group, one killed: the other takes its partitions; no event lost or doubled', async t => {
  const url = await mariadb.url(t)
  if (url === undefined) return
  const prefix = `${uniqueName('cf')}:`
  const redis = await redisStore(t, prefix)
  if (redis === undefined) return
  const s = await setup(t, { partitions: 6, extra: { DATABASE_URL: url, BATCH_SIZE: '200', REDIS_HOST: '127.0.0.1', REDIS_KEY_PREFIX: prefix } })
  if (s === undefined) return
  const table = tableName('group')
  t.after(() => mariadb.drop(url, table))
  const records = mixedEvents(20_000, { seed: 13, users: 400, customers: 200 })
  await produceTo(s.config, s.topics, records)
  const a = background(t, ['process', '--table', table], s.env)
  const b = background(t, ['process', '--exit-when-idle', '20', '--table', table], s.env)
  await waitFor('both members working', async () => (await mariadb.count(url, table)) > 3000)
  a.child.kill('SIGKILL')
  await a.done
  ok(await b.done)
  assertExactRows(await mariadb.rows(url, table), records)
  await assertExactProfiles(redis, records)
})

test('the broker restarted mid-run: the processor rejoins and catches up; exactly one row per event, exact profiles', async t => {
  const url = await sqlite.url(t)
  if (url === undefined) return
  const stateDir = mkdtempSync(join(tmpdir(), 'churnflow-broker-'))
  const cacheDir = loadConfig({ env: process.env, envFile: false }).config.cacheDir
  const kafkaEnv = { CHURNFLOW_STATE_DIR: join(stateDir, 'kafka-state'), CHURNFLOW_CACHE_DIR: cacheDir, KAFKA_BROKER: '127.0.0.1:21292' }
  // One hook, the broker stopped before its directory goes: after hooks run in the order they were
  // added, and a directory removed under a running broker fails with ENOTEMPTY.
  t.after(async () => {
    await cli(['kafka', 'stop'], kafkaEnv)
    rmSync(stateDir, { recursive: true, force: true })
  })
  const started = await cli(['kafka', 'start'], kafkaEnv, 180_000)
  if (started.code !== 0) return unavailable(t, `a second local Kafka (${started.stderr.slice(-300)})`)
  const config = loadConfig({ env: kafkaEnv, envFile: false }).config
  const topics = { 'user-events': uniqueName('restart-user'), 'customer-events': uniqueName('restart-cust') }
  await createTopic(config, topics['user-events'], 3)
  await createTopic(config, topics['customer-events'], 3)
  const records = mixedEvents(12_000, { seed: 17 })
  await produceTo(config, topics, records)
  const env = {
    ...kafkaEnv,
    CHURNFLOW_STATE_DIR: stateDir,
    KAFKA_TOPIC: topics['user-events'],
    KAFKA_TOPIC_CUSTOMER_EVENTS: topics['customer-events'],
    KAFKA_GROUP_ID: uniqueName('group'),
    DATABASE_URL: url,
    BATCH_SIZE: '100',
    OPS_PORT: '0',
    MAX_RETRIES: '2'
  }
  const run = background(t, ['process', '--exit-when-idle', '5', '--table', 'restart'], env)
  await waitFor('the first rows', async () => (await sqlite.count(url, 'restart')) > 500)
  assert.equal((await cli(['kafka', 'stop'], kafkaEnv)).code, 0)
  await sleep(5000)
  assert.equal(run.child.exitCode, null, 'the processor gave up while the broker was down')
  assert.equal((await cli(['kafka', 'start'], kafkaEnv, 180_000)).code, 0)
  ok(await run.done)
  assertExactRows(await sqlite.rows(url, 'restart'), records)
  await assertExactProfiles(changelogStore(config, env.KAFKA_GROUP_ID), records)
})
