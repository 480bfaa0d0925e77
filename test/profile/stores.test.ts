import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { ErrorCodes, isChurnflowError } from '../../src/errors.ts'
import {
  applyEvent, emptyProfile, MemoryProfileStore, openProfileStore, profileEventOf, profileFields, RedisProfileStore, RiskTriggers,
  type CustomerProfile, type ProfileRecord, type ProfileStore
} from '../../src/profile/index.ts'
import { redisStore, TcpProxy, uniqueName } from '../helpers/services.ts'

async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'churnflow-stores-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function busyProfile (seed: number): CustomerProfile {
  const p = emptyProfile()
  applyEvent(p, profileEventOf({ event_type: 'order_placed', timestamp: new Date(Date.UTC(2024, 0, 1) + seed * 3_600_000).toISOString(), data: { order_value: 12.34 + seed } })!)
  applyEvent(p, profileEventOf({ event_type: 'bounce', timestamp: new Date(Date.UTC(2024, 0, 3) + seed * 60_000).toISOString(), metadata: { session_length: 0.7 } })!)
  applyEvent(p, profileEventOf({ event_type: 'login', timestamp: '2023-12-30T10:00:00Z' })!)
  return p
}

function record (profile: CustomerProfile, version = 0, offsets: Record<string, number> = { 'user-events:3': 41 }, alert = { high: false, lastAt: 0 }): ProfileRecord {
  return { profile, offsets, alert, version }
}

/** Values a naive encoding would not read back exactly. */
function awkwardProfile (): CustomerProfile {
  const p = emptyProfile()
  const values = [-0, 5e-324, Number.MIN_VALUE, 1.7976931348623157e308, -1.7976931348623157e308, 0.1 + 0.2, 1 / 3, -2.5e-300,
    Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 60 + 2 ** 8, 1e21, 123456789.12345679, Math.PI, -Math.E, 1e-7]
  profileFields.forEach((f, i) => { p[f] = values[i % values.length]! })
  return p
}

function assertSameRecord (actual: ProfileRecord | undefined, expected: ProfileRecord): void {
  assert.ok(actual !== undefined)
  for (const f of profileFields) assert.ok(Object.is(actual.profile[f], expected.profile[f]), `${f}: ${actual.profile[f]} read back for ${expected.profile[f]}`)
  assert.deepEqual(actual.profile, expected.profile)
  assert.deepEqual(actual.offsets, expected.offsets)
  assert.deepEqual(actual.alert, expected.alert)
  assert.equal(actual.version, expected.version)
}

interface Backend {
  readonly name: string
  open (t: TestContext): Promise<ProfileStore | undefined>
}

const backends: Backend[] = [
  {
    name: 'memory',
    async open (t) {
      const store = await MemoryProfileStore.open({ snapshotPath: join(await tempDir(t), 'p.snapshot') })
      t.after(() => store.close())
      return store
    }
  },
  { name: 'redis', open: t => redisStore(t) }
]

for (const backend of backends) {
  test(`${backend.name}: getMany of customers never seen is an empty map`, async t => {
    const store = await backend.open(t)
    if (store === undefined) return
    assert.equal(store.kind, backend.name)
    const found = await store.getMany(['CUST-nobody', 'CUST-nobody-2'])
    assert.equal(found.size, 0)
    assert.equal((await store.getMany([])).size, 0)
  })

  test(`${backend.name}: putMany then getMany gives back profile, offsets, alert, with version + 1`, async t => {
    const store = await backend.open(t)
    if (store === undefined) return
    const a = record(busyProfile(1), 0, { 'user-events:3': 41, 'customer-events:0': 7 }, { high: true, lastAt: 1_704_067_200_123 })
    const b = record(emptyProfile(), 0, {})
    assert.deepEqual(await store.putMany(new Map([['CUST-A', a], ['CUST-B', b]])), [])
    const read = await store.getMany(['CUST-A', 'CUST-B', 'CUST-C'])
    assert.deepEqual([...read.keys()].sort(), ['CUST-A', 'CUST-B'])
    assertSameRecord(read.get('CUST-A'), { ...a, version: 1 })
    assertSameRecord(read.get('CUST-B'), { ...b, version: 1 })

    // What getMany hands out is the caller's to change: the store does not see it.
    const mine = read.get('CUST-A')!
    mine.profile.orders = 999
    ;(mine.offsets as Record<string, number>)['user-events:3'] = 1000
    assertSameRecord((await store.getMany(['CUST-A'])).get('CUST-A'), { ...a, version: 1 })

    // The next write replaces the record, offsets included, and counts the version up again.
    const next = record(busyProfile(2), 1, { 'user-events:3': 42, 'customer-events:0': 7, 'user-events:9': 1, 'customer-events:4': 0 }, { high: false, lastAt: 5 })
    assert.deepEqual(await store.putMany(new Map([['CUST-A', next]])), [])
    assertSameRecord((await store.getMany(['CUST-A'])).get('CUST-A'), { ...next, version: 2 })
    const fewer = record(busyProfile(3), 2, { 'user-events:3': 43 })
    assert.deepEqual(await store.putMany(new Map([['CUST-A', fewer]])), [])
    assertSameRecord((await store.getMany(['CUST-A'])).get('CUST-A'), { ...fewer, version: 3 })
  })

  test(`${backend.name}: a write with a stale version is refused, reported, and changes nothing`, async t => {
    const store = await backend.open(t)
    if (store === undefined) return
    const first = record(busyProfile(1), 0)
    assert.deepEqual(await store.putMany(new Map([['CUST-X', first], ['CUST-Y', first]])), [])
    // Another writer moved CUST-X on to version 2 meanwhile.
    const other = record(busyProfile(5), 1, { 'user-events:3': 50 })
    assert.deepEqual(await store.putMany(new Map([['CUST-X', other]])), [])
    const stale = record(busyProfile(9), 1, { 'user-events:3': 99 }, { high: true, lastAt: 9 })
    const fresh = record(busyProfile(7), 1, { 'user-events:3': 77 })
    const neverSeenButVersioned = record(busyProfile(8), 3)
    const conflicts = await store.putMany(new Map([['CUST-X', stale], ['CUST-Y', fresh], ['CUST-Z', neverSeenButVersioned]]))
    assert.deepEqual(conflicts.sort(), ['CUST-X', 'CUST-Z'])
    const read = await store.getMany(['CUST-X', 'CUST-Y', 'CUST-Z'])
    assertSameRecord(read.get('CUST-X'), { ...other, version: 2 })
    assertSameRecord(read.get('CUST-Y'), { ...fresh, version: 2 })
    assert.equal(read.has('CUST-Z'), false)
  })

  test(`${backend.name}: 2,000 customers in one call each way`, async t => {
    const store = await backend.open(t)
    if (store === undefined) return
    const batch = new Map<string, ProfileRecord>()
    for (let i = 0; i < 2000; i++) batch.set(`CUST-${i}`, record(busyProfile(i), 0, { [`user-events:${i % 12}`]: i * 10 }, { high: i % 7 === 0, lastAt: i }))
    assert.deepEqual(await store.putMany(batch), [])
    const ids = [...batch.keys(), 'CUST-absent']
    const read = await store.getMany(ids)
    assert.equal(read.size, 2000)
    for (const [id, r] of batch) assertSameRecord(read.get(id), { ...r, version: 1 })
    // Version 1 now: writing the same batch again with version 0 conflicts on every customer.
    assert.equal((await store.putMany(batch)).length, 2000)
  })

  test(`${backend.name}: -0, subnormal, huge and inexact doubles read back exactly`, async t => {
    const store = await backend.open(t)
    if (store === undefined) return
    const r = record(awkwardProfile(), 0, { 'user-events:0': Number.MAX_SAFE_INTEGER, 'user-events:1': 0 }, { high: false, lastAt: -0 })
    assert.deepEqual(await store.putMany(new Map([['CUST-ODD', r]])), [])
    const back = (await store.getMany(['CUST-ODD'])).get('CUST-ODD')
    assertSameRecord(back, { ...r, version: 1 })
    assert.ok(Object.is(back?.alert.lastAt, -0))
  })
}

// --- the in-process store -------------------------------------------------------------------

async function filledStore (path: string, customers: number): Promise<{ store: MemoryProfileStore, written: Map<string, ProfileRecord> }> {
  const store = await MemoryProfileStore.open({ snapshotPath: path })
  const written = new Map<string, ProfileRecord>()
  for (let i = 0; i < customers; i++) {
    const offsets: Record<string, number> = { [`user-events:${i % 3}`]: i }
    if (i % 5 === 0) offsets[`customer-events:${i % 4}`] = i * 2
    if (i % 50 === 0) Object.assign(offsets, { 'user-events:11': 1, 'other:0': 2, 'other:1': 3 })
    written.set(`CUST-${i}`, record(i === 3 ? awkwardProfile() : busyProfile(i), 0, offsets, { high: i % 2 === 0, lastAt: i * 1000 }))
  }
  written.set('CÜST-ünïcode-✓', record(busyProfile(1), 0, {}))
  assert.deepEqual(await store.putMany(written), [])
  return { store, written }
}

test('memory: flush, then open again, gives back every record as it was', async t => {
  const path = join(await tempDir(t), 'profiles.snapshot')
  const { store, written } = await filledStore(path, 5000)
  assert.equal(store.name, `memory (snapshot ${path})`)
  assert.equal(store.durableOnWrite, false)
  await store.flush()
  await store.close()
  const again = await MemoryProfileStore.open({ snapshotPath: path })
  t.after(() => again.close())
  assert.equal(again.size, written.size)
  const read = await again.getMany([...written.keys()])
  for (const [id, r] of written) assertSameRecord(read.get(id), { ...r, version: 1 })
  // It carries on from there: versions continue, conflicts still show.
  assert.deepEqual(await again.putMany(new Map([['CUST-1', record(busyProfile(1), 0)]])), ['CUST-1'])
  assert.deepEqual(await again.putMany(new Map([['CUST-1', record(busyProfile(1), 1)]])), [])
})

test('memory: a truncated or corrupted snapshot is refused with PROFILE_SNAPSHOT_INVALID, naming the file', async t => {
  const dir = await tempDir(t)
  const good = join(dir, 'good.snapshot')
  const { store } = await filledStore(good, 300)
  await store.flush()
  await store.close()
  const bytes = await readFile(good)
  const rejects = async (name: string, content: Buffer, what: RegExp): Promise<void> => {
    const path = join(dir, `${name}.snapshot`)
    await writeFile(path, content)
    await assert.rejects(MemoryProfileStore.open({ snapshotPath: path }), (error: unknown) => {
      assert.ok(isChurnflowError(error), String(error))
      assert.equal(error.code, ErrorCodes.PROFILE_SNAPSHOT_INVALID)
      assert.ok(error.message.includes(path), error.message)
      assert.match(error.message, what)
      return true
    }, name)
  }
  await rejects('empty', Buffer.alloc(0), /too short/)
  await rejects('half', bytes.subarray(0, Math.floor(bytes.length / 2)), /checksum does not match.*truncated or corrupt/)
  await rejects('less-one-byte', bytes.subarray(0, bytes.length - 1), /checksum does not match/)
  const flipped = Buffer.from(bytes)
  flipped[Math.floor(bytes.length / 3)]! ^= 0x10
  await rejects('flipped', flipped, /checksum does not match/)
  const longer = Buffer.concat([bytes, Buffer.from([0])])
  await rejects('longer', longer, /checksum does not match/)
  await rejects('not-a-snapshot', Buffer.from('{"customers": {"CUST-1": {}}}\n'.repeat(4)), /not a churnflow profile snapshot/)
  const future = Buffer.from(bytes)
  future[8] = 99
  await rejects('future', future, /format version is 99/)
  // And truncating the real file in place is caught as well.
  await truncate(good, bytes.length - 100)
  await assert.rejects(MemoryProfileStore.open({ snapshotPath: good }), { code: ErrorCodes.PROFILE_SNAPSHOT_INVALID })
})

test('memory: nothing is written without flush, nor by a flush with nothing new; no .tmp is left behind', async t => {
  const dir = await tempDir(t)
  const path = join(dir, 'p.snapshot')
  const store = await MemoryProfileStore.open({ snapshotPath: path })
  t.after(() => store.close())
  await store.flush()
  assert.equal(existsSync(path), false, 'an empty store with nothing written flushes nothing')
  await store.putMany(new Map([['CUST-1', record(busyProfile(1))]]))
  assert.equal(existsSync(path), false, 'putMany alone writes no file')
  await store.flush()
  assert.deepEqual(await readdir(dir), ['p.snapshot'])
  const first = await stat(path)
  await store.flush()
  const second = await stat(path)
  assert.equal(second.ino, first.ino, 'a flush with nothing new leaves the snapshot alone')
  assert.equal(second.mtimeMs, first.mtimeMs)
  await store.putMany(new Map([['CUST-2', record(busyProfile(2))]]))
  // Flushes asked for together are one after the other, never two writers on one .tmp.
  await Promise.all([store.flush(), store.flush(), store.flush()])
  assert.notEqual((await stat(path)).ino, first.ino, 'the new snapshot was renamed into place')
  assert.deepEqual(await readdir(dir), ['p.snapshot'])
  const reopened = await MemoryProfileStore.open({ snapshotPath: path })
  t.after(() => reopened.close())
  assert.equal(reopened.size, 2)

  const closing = await MemoryProfileStore.open({ snapshotPath: join(dir, 'closed.snapshot') })
  await closing.putMany(new Map([['CUST-1', record(busyProfile(1))]]))
  await closing.close()
  assert.equal(existsSync(join(dir, 'closed.snapshot')), false, 'close does not flush')
  await assert.rejects(closing.getMany(['CUST-1']), { code: ErrorCodes.PROFILE_STORE_UNAVAILABLE })
})

test('memory: writes made while a flush is under way are flushed by the next one', async t => {
  const path = join(await tempDir(t), 'p.snapshot')
  const { store, written } = await filledStore(path, 20_000)
  t.after(() => store.close())
  const flushing = store.flush()
  const late = record(busyProfile(99), 1, { 'user-events:0': 123_456 })
  assert.deepEqual(await store.putMany(new Map([['CUST-7', late], ['CUST-NEW', record(busyProfile(1))]])), [])
  await flushing
  await store.flush()
  const reopened = await MemoryProfileStore.open({ snapshotPath: path })
  t.after(() => reopened.close())
  assert.equal(reopened.size, written.size + 1)
  const read = await reopened.getMany(['CUST-7', 'CUST-NEW', 'CUST-8'])
  assertSameRecord(read.get('CUST-7'), { ...late, version: 2 })
  assert.equal(read.get('CUST-NEW')?.version, 1)
  assertSameRecord(read.get('CUST-8'), { ...written.get('CUST-8')!, version: 1 })
})

test('memory: without a snapshot path nothing is ever persisted', async () => {
  const store = new MemoryProfileStore()
  assert.equal(store.name, 'memory')
  await store.putMany(new Map([['CUST-1', record(busyProfile(1))]]))
  await store.flush()
  assert.equal((await store.getMany(['CUST-1'])).get('CUST-1')?.version, 1)
  await store.close()
})

test('openProfileStore: the partitioned in-process store without REDIS_HOST, Redis with it', async t => {
  const stateDir = join(await tempDir(t), 'state')
  const config = { redisHost: undefined, redisPort: 6379, redisPassword: undefined, stateDir }
  const memory = await openProfileStore(config)
  t.after(() => memory.close())
  assert.equal(memory.kind, 'memory')
  assert.equal(memory.durableOnWrite, false)
  assert.ok(memory.partitioned !== undefined, 'the in-process store keeps its state per partition')
  assert.equal(memory.partitioned.storeName, 'profiles')

  const redis = await openProfileStore({ ...config, redisHost: '127.0.0.1', redisPort: 1 })
  t.after(() => redis.close())
  assert.equal(redis.kind, 'redis')
  assert.equal(redis.name, 'redis 127.0.0.1:1')
  assert.equal(redis.durableOnWrite, true)
})

// --- Redis ------------------------------------------------------------------------------------

test('redis: the API-facing get() still returns just the profile after a putMany', async t => {
  const store = await redisStore(t)
  if (store === undefined) return
  const p = busyProfile(4)
  await store.putMany(new Map([['CUST-API', record(p, 0, { 'user-events:3': 41 }, { high: true, lastAt: 77 })]]))
  assert.deepEqual(await store.get('CUST-API'), p)
  // A profile the API side wrote with put() reads in the processor as version 0, no offsets.
  await store.put('CUST-PUT', p)
  const read = (await store.getMany(['CUST-PUT'])).get('CUST-PUT')
  assertSameRecord(read, { profile: p, offsets: {}, alert: { high: false, lastAt: 0 }, version: 0 })
})

test('redis: the current risk and the silence state sit beside the profile; the ranking follows the scores', async t => {
  const store = await redisStore(t)
  if (store === undefined) return
  const risk = (score: number, band: string) => ({ score, band, modelVersion: 'churn-gbt-1', at: 1_704_067_200_000, trigger: RiskTriggers.INACTIVITY, reasons: [{ feature: 'days_since_last', value: 12.5, impact: 0.3 }] })
  const records = new Map([
    ['CUST-LOW', { ...record(busyProfile(1), 0, { 'user-events:3': 4 }), risk: risk(0.12, 'low') }],
    ['CUST-HIGH', { ...record(busyProfile(2), 0, { 'user-events:3': 5 }), risk: risk(0.81, 'high'), silence: { steps: 3, anchor: 'user-events:3' } }],
    ['CUST-MID', { ...record(busyProfile(3), 0, { 'user-events:3': 6 }), risk: risk(0.45, 'medium') }],
    ['CUST-NONE', record(busyProfile(4), 0, { 'user-events:3': 7 })]
  ])
  assert.deepEqual(await store.putMany(records), [])
  const read = await store.getMany(['CUST-HIGH', 'CUST-NONE'])
  assert.deepEqual(read.get('CUST-HIGH')?.risk, risk(0.81, 'high'))
  assert.deepEqual(read.get('CUST-HIGH')?.silence, { steps: 3, anchor: 'user-events:3' })
  assert.equal(read.get('CUST-NONE')?.risk, undefined)
  assert.deepEqual(await store.topRisk(10), [{ id: 'CUST-HIGH', score: 0.81 }, { id: 'CUST-MID', score: 0.45 }, { id: 'CUST-LOW', score: 0.12 }])
  assert.deepEqual(await store.topRisk(10, { from: 0.3, to: 0.6 }), [{ id: 'CUST-MID', score: 0.45 }])
  assert.deepEqual((await store.topRisk(1)).map(r => r.id), ['CUST-HIGH'])
  // A new score moves the customer in the ranking.
  const lower = { ...(read.get('CUST-HIGH') as ProfileRecord), risk: risk(0.05, 'low') }
  assert.deepEqual(await store.putMany(new Map([['CUST-HIGH', lower]])), [])
  assert.deepEqual((await store.topRisk(10)).map(r => r.id), ['CUST-MID', 'CUST-LOW', 'CUST-HIGH'])
})

test('redis: a script cache flushed meanwhile (NOSCRIPT) is handled by sending the script again', async t => {
  const store = await redisStore(t)
  if (store === undefined) return
  const [host, port] = (process.env.CHURNFLOW_TEST_REDIS ?? '127.0.0.1:6379').split(':')
  await redisCommand(host ?? '127.0.0.1', Number(port ?? 6379), ['SCRIPT', 'FLUSH'])
  const batch = new Map([['CUST-1', record(busyProfile(1))], ['CUST-2', record(busyProfile(2))]])
  assert.deepEqual(await store.putMany(batch), [])
  assert.equal((await store.getMany(['CUST-1', 'CUST-2'])).size, 2)
})

test('redis: on a dead port the store fails fast with a retriable PROFILE_STORE_UNAVAILABLE', async t => {
  const down = new RedisProfileStore({ host: '127.0.0.1', port: 1, timeoutMs: 300 })
  t.after(() => down.close())
  for (const call of [() => down.getMany(['CUST-1']), () => down.putMany(new Map([['CUST-1', record(emptyProfile())]])), () => down.ping()]) {
    const started = performance.now()
    await assert.rejects(call(), (error: unknown) => {
      assert.ok(isChurnflowError(error), String(error))
      assert.equal(error.code, ErrorCodes.PROFILE_STORE_UNAVAILABLE)
      assert.equal(error.retriable, true)
      assert.match(error.message, /redis 127\.0\.0\.1:1/)
      return true
    })
    assert.ok(performance.now() - started < 1500, `failed after ${Math.round(performance.now() - started)} ms`)
  }
  await down.flush()
})

test('redis: a Redis that stops answering fails a whole batch at the deadline; what it wrote later is refused on retry', async t => {
  const probe = await redisStore(t)
  if (probe === undefined) return
  const [host, port] = (process.env.CHURNFLOW_TEST_REDIS ?? '127.0.0.1:6379').split(':')
  const prefix = `${uniqueName('test-deadline')}:`
  const store = new RedisProfileStore({ host: host ?? '127.0.0.1', port: Number(port ?? 6379), prefix, timeoutMs: 300 })
  t.after(async () => {
    await store.clear().catch(() => undefined)
    await store.close()
  })
  await store.ping()
  const ids = Array.from({ length: 2000 }, (_, i) => `CUST-${i}`)
  const batch = new Map(ids.map((id, i) => [id, record(busyProfile(i))]))
  // Redis holds every client's commands for 1.5 s: it is there, but answers nothing.
  assert.match(await redisCommand(host ?? '127.0.0.1', Number(port ?? 6379), ['CLIENT', 'PAUSE', '1500', 'ALL']), /OK/)
  for (const call of [() => store.getMany(ids), () => store.putMany(batch)]) {
    await assert.rejects(call(), (error: unknown) => {
      assert.ok(isChurnflowError(error), String(error))
      assert.equal(error.code, ErrorCodes.PROFILE_STORE_UNAVAILABLE)
      assert.equal(error.retriable, true)
      assert.match(error.message, /did not answer within 300 ms/)
      return true
    })
    // No bound on how long it took: a call that waited for Redis instead of its deadline would have
    // succeeded once the pause ended, and the message names the 300 ms deadline.
  }
  await new Promise(resolve => setTimeout(resolve, 1600))
  // The abandoned putMany ran once Redis answered again; the processor's retry of it is refused, not applied twice.
  const conflicts = await store.putMany(batch)
  assert.equal(conflicts.length, ids.length)
  const read = await store.getMany(ids)
  assert.equal(read.size, ids.length)
  for (const [id, r] of read) assert.equal(r.version, 1, id)
})

test('redis: the same store object works again once Redis is back', async t => {
  const probe = await redisStore(t)
  if (probe === undefined) return
  const [host, port] = (process.env.CHURNFLOW_TEST_REDIS ?? '127.0.0.1:6379').split(':')
  // A proxy in front of the test Redis stands for Redis going away and coming back.
  const proxy = new TcpProxy(host ?? '127.0.0.1', Number(port ?? 6379))
  const proxyPort = await proxy.start()
  const prefix = `${uniqueName('test-reconnect')}:`
  const store = new RedisProfileStore({ host: '127.0.0.1', port: proxyPort, prefix, timeoutMs: 300 })
  t.after(async () => {
    await store.clear().catch(() => undefined)
    await store.close()
    await proxy.stop()
  })
  assert.deepEqual(await store.putMany(new Map([['CUST-1', record(busyProfile(1))]])), [])

  await proxy.stop()
  await assert.rejects(store.getMany(['CUST-1']), { code: ErrorCodes.PROFILE_STORE_UNAVAILABLE, retriable: true })
  await assert.rejects(store.putMany(new Map([['CUST-1', record(busyProfile(2), 1)]])), { code: ErrorCodes.PROFILE_STORE_UNAVAILABLE, retriable: true })

  await proxy.start(proxyPort)
  const deadline = Date.now() + 10_000
  let read: Map<string, ProfileRecord> | undefined
  while (read === undefined) {
    try {
      read = await store.getMany(['CUST-1'])
    } catch (error) {
      assert.equal((error as { code?: string }).code, ErrorCodes.PROFILE_STORE_UNAVAILABLE)
      if (Date.now() > deadline) throw error
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
  assert.equal(read.get('CUST-1')?.version, 1)
  assert.deepEqual(await store.putMany(new Map([['CUST-1', record(busyProfile(2), 1)]])), [])
})

/** Sends one command to Redis outside the store and waits for its reply line. */
function redisCommand (host: string, port: number, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host)
    socket.on('error', reject)
    socket.once('data', data => { socket.end(); resolve(data.toString('utf8')) })
    socket.write(`*${args.length}\r\n${args.map(a => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`)
  })
}
