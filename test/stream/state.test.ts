// The in-process profile store's state follows its partitions: through kill -9, a new machine
// (a new state directory), a deleted state directory, rebalances and a second process on one
// directory. Real processors (the CLI, in child processes) on the real broker and SQLite.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { tmpdir } from 'node:os'
import { test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Config } from '../../src/config/index.ts'
import { legacySnapshotPath, MemoryProfileStore, profileFields } from '../../src/profile/index.ts'
import { INACTIVITY_CHECK } from '../../src/processor/index.ts'
import { expectedProfiles, mixedEvents, produceTo, scoredCount, type TestRecord } from '../helpers/events.ts'
import { freePort } from '../helpers/ports.ts'
import { background, cli, createTopic, deleteTopics, kafkaConfig, uniqueName, type RunResult } from '../helpers/services.ts'
import { sqlBackends, type SqlBackend } from '../helpers/sql.ts'
import { changelogProfiles } from '../helpers/state.ts'

const sqlite = sqlBackends.find(b => b.name === 'sqlite') as SqlBackend

interface Setup {
  readonly config: Config
  readonly topics: { 'user-events': string, 'customer-events': string }
  readonly url: string
  /** The environment of a processor in the test's group, less its state directory. */
  readonly env: Record<string, string>
  readonly group: string
}

async function setup (t: TestContext, records: readonly TestRecord[]): Promise<Setup | undefined> {
  const config = await kafkaConfig(t)
  if (config === undefined) return undefined
  const url = await sqlite.url(t)
  if (url === undefined) return undefined
  const base = uniqueName('state')
  const topics = { 'user-events': `${base}-user`, 'customer-events': `${base}-cust` }
  await createTopic(config, topics['user-events'], 3)
  await createTopic(config, topics['customer-events'], 3)
  const group = uniqueName('group')
  t.after(() => deleteTopics(config, [topics['user-events'], topics['customer-events'], `${base}-pred`, `${base}-alert`, `${topics['user-events']}-failed`, `${topics['customer-events']}-failed`, `${group}-profiles-changelog`]))
  await produceTo(config, topics, records)
  const env = {
    KAFKA_BROKER: config.kafkaBrokers.join(','),
    KAFKA_TOPIC: topics['user-events'],
    KAFKA_TOPIC_CUSTOMER_EVENTS: topics['customer-events'],
    KAFKA_TOPIC_CHURN_PREDICTIONS: `${base}-pred`,
    KAFKA_TOPIC_CHURN_ALERTS: `${base}-alert`,
    KAFKA_GROUP_ID: group,
    DATABASE_URL: url,
    OPS_PORT: '0',
    MAX_RETRIES: '2',
    LOG_LEVEL: 'info'
  }
  return { config, topics, url, env, group }
}

function stateDir (t: TestContext, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `churnflow-${name}-`))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

async function waitFor (what: string, check: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await sleep(250)
  }
}

const ok = (r: RunResult): void => { assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000)) }
const coordinates = (r: { kafka_topic: string, kafka_partition: number, kafka_offset: number }): string => `${r.kafka_topic}:${r.kafka_partition}:${r.kafka_offset}`

/**
 * One row per scored event, each with the score a reference run gave the event at the same
 * coordinates; and the reference run's inactivity checks exactly, none twice (they are keyed by
 * the record the silence follows and the step, so a replay after kill -9 writes none again).
 */
async function assertRowsMatch (url: string, table: string, reference: string, records: readonly TestRecord[]): Promise<void> {
  const rows = await sqlite.rows(url, table)
  const keys = new Set(rows.map(coordinates))
  assert.equal(keys.size, rows.length, 'a row was written twice')
  assert.equal(rows.filter(r => r.event_type !== INACTIVITY_CHECK).length, scoredCount(records), 'rows are missing')
  const reference_ = await sqlite.rows(url, reference)
  const want = new Map(reference_.map(r => [coordinates(r), r.churn_score]))
  for (const r of rows) assert.equal(r.churn_score, want.get(coordinates(r)), `the score at ${coordinates(r)}`)
  const checks = (all: typeof rows): string[] => all.filter(r => r.event_type === INACTIVITY_CHECK).map(r => `${r.user_id} ${coordinates(r)}`).sort()
  assert.ok(checks(reference_).length > 0, 'the reference run scored no silence')
  assert.deepEqual(checks(rows), checks(reference_), 'the inactivity checks differ from a clean run')
}

async function assertExactProfiles (s: Setup, records: readonly TestRecord[]): Promise<void> {
  const expected = expectedProfiles(records)
  const stored = await changelogProfiles(s.config, s.group)
  assert.equal(stored.size, expected.size, 'customers in the changelog')
  for (const [id, want] of expected) {
    const got = stored.get(id)?.profile
    assert.ok(got !== undefined, `no profile for ${id}`)
    for (const f of profileFields) assert.equal(got[f], want[f], `${id}.${f}`)
  }
}

async function stats (port: number): Promise<Record<string, unknown> | undefined> {
  return fetch(`http://127.0.0.1:${port}/stats`).then(r => r.json() as Promise<Record<string, unknown>>, () => undefined)
}

test('partitions move between processors with new state directories, through kill -9: every event gets the score one processor alone gives it, exact profiles, one row per event', async t => {
  const records = mixedEvents(30_000, { seed: 23, users: 400, customers: 200 })
  const s = await setup(t, records)
  if (s === undefined) return
  // The reference: one processor alone, in its own group.
  ok(await cli(['process', '--exit-when-idle', '3', '--table', 'alone'], { ...s.env, KAFKA_GROUP_ID: uniqueName('alone'), CHURNFLOW_STATE_DIR: stateDir(t, 'alone') }, 300_000))
  const scored = scoredCount(records)
  const env = { ...s.env, BATCH_SIZE: '100' }
  const count = (): Promise<number> => sqlite.count(s.url, 'moved')

  const dirA = stateDir(t, 'a')
  const a = background(t, ['process', '--table', 'moved'], { ...env, CHURNFLOW_STATE_DIR: dirA })
  await waitFor('A to write some rows', async () => (await count()) > scored * 0.15)
  a.child.kill('SIGKILL')
  await a.done
  const afterA = await count()
  assert.ok(afterA < scored, 'A finished before it was killed')

  // B, on another "machine": a state directory of its own, empty. It restores from the changelog.
  const b = background(t, ['process', '--table', 'moved'], { ...env, CHURNFLOW_STATE_DIR: stateDir(t, 'b') })
  await waitFor('B to write more rows', async () => (await count()) > afterA + (scored - afterA) * 0.3)
  b.child.kill('SIGKILL')
  const killedB = await b.done
  assert.match(killedB.stdout, /restored the profiles of partitions 0, 1, 2: \d+ customers/)

  // A again (its directory, with the lock the killed A left) and C (a new directory), together.
  const a2 = background(t, ['process', '--exit-when-idle', '8', '--table', 'moved'], { ...env, CHURNFLOW_STATE_DIR: dirA })
  const c = background(t, ['process', '--exit-when-idle', '8', '--table', 'moved'], { ...env, CHURNFLOW_STATE_DIR: stateDir(t, 'c') })
  const [doneA, doneC] = await Promise.all([a2.done, c.done])
  ok(doneA)
  ok(doneC)
  await assertRowsMatch(s.url, 'moved', 'alone', records)
  await assertExactProfiles(s, records)
})

test('a deleted state directory: the profiles come back from the changelog alone; a kept one restores from its checkpoints', async t => {
  const records = mixedEvents(8000, { seed: 29, users: 300, customers: 100 })
  const first = records.slice(0, 4000)
  const s = await setup(t, first)
  if (s === undefined) return
  const dir = stateDir(t, 'deleted')
  const env = { ...s.env, CHURNFLOW_STATE_DIR: dir }
  ok(await cli(['process', '--exit-when-idle', '3'], env, 180_000))
  const checkpoints = join(dir, 'state', encodeURIComponent(s.group), 'profiles')
  assert.ok(existsSync(checkpoints) && readdirSync(checkpoints).some(f => f.endsWith('.checkpoint')), 'a clean stop writes checkpoints')

  // The checkpoints serve a restart on the same directory.
  const kept = await cli(['process', '--exit-when-idle', '2'], env, 180_000)
  ok(kept)
  assert.match(kept.stdout, /restored the profiles of partitions 0, 1, 2: \d+ customers in [\d.]+ s \([1-9]\d* from local checkpoints, 0 changelog records\)/)

  rmSync(dir, { recursive: true, force: true })
  await produceTo(s.config, s.topics, records.slice(4000))
  const fresh = await cli(['process', '--exit-when-idle', '3'], env, 180_000)
  ok(fresh)
  assert.match(fresh.stdout, /restored the profiles of partitions 0, 1, 2: \d+ customers in [\d.]+ s \(0 from local checkpoints, [1-9]\d* changelog records\)/)
  assert.match(fresh.stdout, /Events Processed: 4000\n/)
  await assertExactProfiles(s, records)
})

test('a revoked partition\'s profiles are dropped from memory; the new owner holds them', async t => {
  const records = mixedEvents(3000, { seed: 31, users: 300, customers: 150 })
  const s = await setup(t, records)
  if (s === undefined) return
  const customers = expectedProfiles(records).size
  const portA = await freePort()
  const a = background(t, ['process'], { ...s.env, OPS_PORT: String(portA), CHURNFLOW_STATE_DIR: stateDir(t, 'ra') })
  await waitFor('A to hold every customer of its three partitions', async () => {
    const st = await stats(portA)
    return st?.state_customers === customers && (st.state_partitions as number[] | undefined)?.length === 3
  })
  const portB = await freePort()
  const b = background(t, ['process'], { ...s.env, OPS_PORT: String(portB), CHURNFLOW_STATE_DIR: stateDir(t, 'rb') })
  let held: [Record<string, unknown>, Record<string, unknown>] | undefined
  await waitFor('the partitions to be shared', async () => {
    const [sa, sb] = await Promise.all([stats(portA), stats(portB)])
    if (sa === undefined || sb === undefined) return false
    const pa = sa.state_partitions as number[]
    const pb = sb.state_partitions as number[]
    if (pa.length === 0 || pb.length === 0 || pa.length + pb.length !== 3) return false
    held = [sa, sb]
    return (sa.state_customers as number) + (sb.state_customers as number) === customers
  })
  const [sa, sb] = held as [Record<string, unknown>, Record<string, unknown>]
  assert.ok((sa.state_customers as number) < customers, 'A still holds every customer')
  assert.deepEqual([...(sa.state_partitions as number[]), ...(sb.state_partitions as number[])].sort(), [0, 1, 2])
  a.child.kill('SIGTERM')
  b.child.kill('SIGTERM')
  ok(await a.done)
  ok(await b.done)
})

test('two processors on one state directory: the second is refused, saying why', async t => {
  const records = mixedEvents(500, { seed: 37 })
  const s = await setup(t, records)
  if (s === undefined) return
  const dir = stateDir(t, 'shared')
  const port = await freePort()
  const first = background(t, ['process'], { ...s.env, OPS_PORT: String(port), CHURNFLOW_STATE_DIR: dir })
  await waitFor('the first processor to run', async () => (await stats(port))?.events_processed === records.length)
  const second = await cli(['process', '--exit-when-idle', '2'], { ...s.env, CHURNFLOW_STATE_DIR: dir }, 120_000)
  assert.equal(second.code, 1, second.stdout + second.stderr)
  assert.match(second.stdout + second.stderr, /the state directory .* is in use by another processor \(pid \d+\)/)
  first.child.kill('SIGTERM')
  ok(await first.done)
})

test('an upgrade keeps the profiles: the snapshot an earlier churnflow wrote is carried into an empty changelog', async t => {
  const records = mixedEvents(6000, { seed: 41, users: 200, customers: 100 })
  const s = await setup(t, records.slice(0, 3000))
  if (s === undefined) return
  // The earlier version's profiles: the first half's, with the offsets they applied, in its snapshot file.
  const earlier = { ...s.env, KAFKA_GROUP_ID: uniqueName('earlier'), CHURNFLOW_STATE_DIR: stateDir(t, 'earlier') }
  t.after(() => deleteTopics(s.config, [`${earlier.KAFKA_GROUP_ID}-profiles-changelog`]))
  ok(await cli(['process', '--exit-when-idle', '3', '--table', 'earlier'], earlier, 180_000))
  const dir = stateDir(t, 'upgraded')
  mkdirSync(dirname(legacySnapshotPath(dir)), { recursive: true })
  const snapshot = await MemoryProfileStore.open({ snapshotPath: legacySnapshotPath(dir) })
  for (const [id, record] of await changelogProfiles(s.config, earlier.KAFKA_GROUP_ID)) snapshot.set(id, record)
  await snapshot.flush()
  await snapshot.close()

  await produceTo(s.config, s.topics, records.slice(3000))
  const upgraded = await cli(['process', '--exit-when-idle', '3'], { ...s.env, CHURNFLOW_STATE_DIR: dir }, 180_000)
  ok(upgraded)
  assert.match(upgraded.stdout, /carried \d+ customers of partitions 0, 1, 2 over from the profile snapshot of an earlier churnflow/)
  assert.match(upgraded.stdout, /Replayed events skipped: 3000\n/, 'the events the snapshot holds are not applied twice')
  await assertExactProfiles(s, records)
})
