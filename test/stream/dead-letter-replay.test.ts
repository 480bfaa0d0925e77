import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { test, type TestContext } from 'node:test'
import { MessagesStreamModes } from '@platformatic/kafka'
import type { Config } from '../../src/config/index.ts'
import { createAdmin, createConsumer, createProducer } from '../../src/kafka/client/index.ts'
import { poisonCorpus, produceRaw } from '../helpers/events.ts'
import { cli, createTopic, deleteTopics, kafkaConfig, uniqueName, type RunResult } from '../helpers/services.ts'
import { testFraudApi } from '../helpers/fraud-api.ts'
import { DeadLetterHeaders, type DeadLetterRecord, replayDeadLetters, REPLAYED_FROM_HEADER, replayGroupId, replayMessage, type ReplayProgress, replayTarget } from '../../src/stream/index.ts'

/** A record as stored: bytes, not text, so a test can tell byte-for-byte copies. */
interface RawRecord {
  readonly partition: number
  readonly offset: bigint
  readonly key: Buffer | undefined
  readonly value: Buffer | undefined
  readonly headers: readonly (readonly [string, Buffer])[]
  readonly timestamp: bigint
}

const header = (r: RawRecord, name: string): string | undefined => r.headers.find(([k]) => k === name)?.[1].toString('utf8')
const bytes = (b: Buffer | undefined): string => b === undefined ? '<null>' : b.toString('hex')

/** Every record of a topic up to its end now, by partition and offset. */
async function readTopic (config: Config, topic: string, timeoutMs = 30_000): Promise<RawRecord[]> {
  const consumer = createConsumer(config, uniqueName('test-reader'))
  const records: RawRecord[] = []
  try {
    const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? []
    let open = ends.filter(e => e > 0n).length
    if (open === 0) return records
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false, maxWaitTime: 200 })
    const timer = setTimeout(() => { stream.destroy(new Error(`${topic}: only ${records.length} records arrived in ${timeoutMs} ms`)) }, timeoutMs)
    try {
      for await (const m of stream) {
        records.push({
          partition: m.partition,
          offset: m.offset,
          key: m.key ?? undefined,
          value: m.value ?? undefined,
          headers: m.headerEntries.map(([k, v]) => [k.toString('utf8'), v] as const),
          timestamp: m.timestamp
        })
        if (m.offset + 1n === ends[m.partition] && --open === 0) break
      }
    } finally {
      clearTimeout(timer)
      await stream.close().catch(() => undefined)
    }
  } finally {
    await consumer.close(true).catch(() => undefined)
  }
  return records.sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset))
}

async function recordCount (config: Config, topic: string): Promise<number> {
  const consumer = createConsumer(config, uniqueName('test-offsets'))
  try {
    const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? []
    return ends.reduce((sum, e) => sum + Number(e), 0)
  } finally {
    await consumer.close(true).catch(() => undefined)
  }
}

/** The group's committed offset of each partition of the topic (-1 where none). */
async function committedOffsets (config: Config, groupId: string, topic: string, partitions: number): Promise<bigint[]> {
  const admin = createAdmin(config)
  try {
    const groups = await admin.listConsumerGroupOffsets({ groups: [{ groupId, topics: [{ name: topic, partitionIndexes: Array.from({ length: partitions }, (_, p) => p) }] }] })
    const out = Array.from({ length: partitions }, () => -1n)
    for (const t of groups[0]?.topics ?? []) for (const p of t.partitions) out[p.partitionIndex] = p.committedOffset
    return out
  } finally {
    await admin.close()
  }
}

interface DeadLetterSpec {
  readonly key?: Buffer
  readonly value: Buffer
  readonly code?: string
  /** The churnflow-source-topic header; null leaves it out. */
  readonly source?: string | null
  /** Headers of the source record, kept by the processor and by a replay. */
  readonly headers?: readonly (readonly [string, string])[]
  readonly timestamp?: bigint
}

/** Produces records shaped as `churnflow process` dead-letters them. */
async function produceDeadLetters (config: Config, topic: string, source: string, specs: readonly DeadLetterSpec[]): Promise<void> {
  const producer = createProducer(config, { suffix: 'test' })
  try {
    await producer.send({
      messages: specs.map((s, i) => {
        const headers = new Map<Buffer, Buffer>()
        for (const [k, v] of s.headers ?? []) headers.set(Buffer.from(k), Buffer.from(v))
        const h = (k: string, v: string): void => { headers.set(Buffer.from(k), Buffer.from(v)) }
        if (s.code !== undefined) h(DeadLetterHeaders.ERROR_CODE, s.code)
        h(DeadLetterHeaders.ERROR_MESSAGE, `test record ${i} failed`)
        if (s.source !== null) h(DeadLetterHeaders.SOURCE_TOPIC, s.source ?? source)
        h(DeadLetterHeaders.SOURCE_PARTITION, '0')
        h(DeadLetterHeaders.SOURCE_OFFSET, String(i))
        h(DeadLetterHeaders.FAILED_AT, '2024-06-01T00:00:00.000Z')
        return { topic, key: s.key, value: s.value, headers, timestamp: s.timestamp ?? BigInt(Date.UTC(2024, 0, 1, 0, i)) }
      })
    })
  } finally {
    await producer.close()
  }
}

interface Topics { readonly source: string, readonly dlq: string }

async function topicsFor (t: TestContext, config: Config, partitions = 3, extra: readonly string[] = []): Promise<Topics> {
  const source = uniqueName('dlq')
  const topics = { source, dlq: `${source}-failed` }
  for (const name of [topics.source, topics.dlq, ...extra]) await createTopic(config, name, partitions)
  t.after(() => deleteTopics(config, [topics.source, topics.dlq, ...extra]))
  return topics
}

/** Runs `churnflow dlq ...` with its own replay group. */
function dlq (config: Config, group: string, args: readonly string[]): Promise<RunResult> {
  return cli(['dlq', ...args], { KAFKA_BROKER: config.kafkaBrokers.join(','), KAFKA_GROUP_ID: group, LOG_LEVEL: 'warn' }, 120_000)
}

function assertOk (result: RunResult): void {
  assert.equal(result.code, 0, result.stdout + result.stderr)
}

/** The copy of each dead-letter record in `replayed` is the same bytes, timestamp and partition, with the headers a replay gives. */
function assertReplayed (dead: readonly RawRecord[], replayed: readonly RawRecord[], dlqTopic: string): void {
  const byOrigin = new Map(replayed.map(r => [header(r, REPLAYED_FROM_HEADER), r]))
  assert.equal(byOrigin.size, replayed.length, 'two replayed records name the same origin')
  for (const d of dead) {
    const origin = `${dlqTopic}:${d.partition}:${d.offset}`
    const r = byOrigin.get(origin)
    assert.ok(r !== undefined, `${origin} was not replayed`)
    assert.equal(bytes(r.value), bytes(d.value), `${origin} value`)
    assert.equal(bytes(r.key), bytes(d.key), `${origin} key`)
    assert.equal(r.timestamp, d.timestamp, `${origin} timestamp`)
    assert.equal(r.partition, d.partition, `${origin}: the key places it on the partition its dead letter is on`)
    const kept = d.headers.filter(([k]) => !k.startsWith('churnflow-'))
    assert.deepEqual(r.headers.map(([k, v]) => [k, bytes(v)]), [...kept, [REPLAYED_FROM_HEADER, Buffer.from(origin)] as const].map(([k, v]) => [k, bytes(v)]), `${origin} headers`)
  }
}

const deadLetter = (fields: Partial<DeadLetterRecord> & { headers: DeadLetterRecord['headers'] }): DeadLetterRecord =>
  ({ topic: 'user-events-failed', partition: 2, offset: 41n, key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 1000n, ...fields })

test('replayTarget and replayMessage: where a dead letter goes, and what it carries (no broker)', () => {
  const h = (k: string, v: string): readonly [Buffer, Buffer] => [Buffer.from(k), Buffer.from(v)]
  const withSource = deadLetter({ headers: [h('trace', 'a'), h(DeadLetterHeaders.SOURCE_TOPIC, 'events'), h(DeadLetterHeaders.ERROR_CODE, 'invalid_json'), h('trace', 'b'), h(REPLAYED_FROM_HEADER, 'old:0:1')] })
  assert.equal(replayTarget(withSource), 'events')
  assert.equal(replayTarget(withSource, 'elsewhere'), 'elsewhere')
  assert.equal(replayTarget(deadLetter({ headers: [] })), 'user-events')
  assert.equal(replayTarget(deadLetter({ topic: 'poison', headers: [] })), undefined)
  assert.equal(replayTarget(deadLetter({ topic: '-failed', headers: [] })), undefined)

  const m = replayMessage(withSource, 'events')
  assert.equal(m.topic, 'events')
  assert.equal(m.key, withSource.key)
  assert.equal(m.value, withSource.value)
  assert.equal(m.timestamp, 1000n)
  const headers = [...(m.headers as Map<Buffer, Buffer>)].map(([k, v]) => `${k.toString()}=${v.toString()}`)
  assert.deepEqual(headers, ['trace=a', 'trace=b', `${REPLAYED_FROM_HEADER}=user-events-failed:2:41`])
  assert.equal(replayMessage(deadLetter({ value: undefined, key: undefined, headers: [] }), 'x').value, null, 'a null value stays null')
})

test('dlq on the real processor\'s dead letters: dry run, replay byte for byte, and a record that fails again comes back with its trail', async t => {
  const config = await kafkaConfig(t)
  if (config === undefined) return
  const base = uniqueName('dlqproc')
  const topics = { user: `${base}-user`, cust: `${base}-cust`, pred: `${base}-pred`, alert: `${base}-alert` }
  await createTopic(config, topics.user, 3)
  t.after(() => deleteTopics(config, [...Object.values(topics), `${topics.user}-failed`, `${topics.cust}-failed`]))
  const stateDir = mkdtempSync(join(tmpdir(), 'churnflow-dlq-'))
  t.after(() => { rmSync(stateDir, { recursive: true, force: true }) })
  const group = uniqueName('group')
  const env = {
    KAFKA_BROKER: config.kafkaBrokers.join(','),
    KAFKA_TOPIC: topics.user,
    KAFKA_TOPIC_CUSTOMER_EVENTS: topics.cust,
    KAFKA_TOPIC_CHURN_PREDICTIONS: topics.pred,
    KAFKA_TOPIC_CHURN_ALERTS: topics.alert,
    KAFKA_GROUP_ID: group,
    CHURNFLOW_STATE_DIR: stateDir,
    OPS_PORT: '0',
    LOG_LEVEL: 'warn'
  }
  const dlqTopic = `${topics.user}-failed`
  await produceRaw(config, topics.user, poisonCorpus.map(p => p.value))
  const first = await cli(['process', '--streams', 'user-events', '--exit-when-idle', '2'], env, 180_000)
  assertOk(first)
  assert.match(first.stdout, new RegExp(`Errors: ${poisonCorpus.length}\\n`))
  const dead = await readTopic(config, dlqTopic)
  assert.equal(dead.length, poisonCorpus.length)

  const dry = await dlq(config, group, ['replay', '--dry-run', '--topic', dlqTopic])
  assertOk(dry)
  assert.match(dry.stdout, new RegExp(`Dry run: ${poisonCorpus.length} records from ${dlqTopic} would be replayed to ${topics.user} \\(skipped 0\\); nothing was produced or committed`))
  const expectedCounts = new Map<string, number>()
  for (const p of poisonCorpus) expectedCounts.set(p.code, (expectedCounts.get(p.code) ?? 0) + 1)
  for (const [code, n] of expectedCounts) assert.match(dry.stdout, new RegExp(`\\n {2}${code} +${n}\\n`), code)
  assert.match(dry.stdout, /First 5:\n/)
  assert.match(dry.stdout, new RegExp(`${dlqTopic}:\\d+:\\d+ {2}invalid_json -> ${topics.user}: .+\\n {4}value: "not json at all"`))
  assert.equal(await recordCount(config, topics.user), poisonCorpus.length, 'a dry run produces nothing')
  assert.deepEqual(await committedOffsets(config, `${group}-dlq-replay`, dlqTopic, 3), [-1n, -1n, -1n], 'a dry run commits nothing')

  const replay = await dlq(config, group, ['replay', '--topic', dlqTopic])
  assertOk(replay)
  assert.match(replay.stdout, new RegExp(`Replayed ${poisonCorpus.length} records from ${dlqTopic} to ${topics.user} \\(skipped 0\\)\\n`))
  const user = await readTopic(config, topics.user)
  assert.equal(user.length, poisonCorpus.length * 2)
  const replayed = user.filter(r => header(r, REPLAYED_FROM_HEADER) !== undefined)
  assert.equal(replayed.length, poisonCorpus.length)
  assertReplayed(dead, replayed, dlqTopic)
  // The processor kept the source's key: the replay lands where the original was.
  for (const r of replayed) assert.equal(r.key?.toString(), 'poison')

  const again = await dlq(config, group, ['replay', '--topic', dlqTopic])
  assertOk(again)
  assert.match(again.stdout, /nothing to replay/)

  // Still poison: the processor dead-letters the replayed records again, with the trail of the replay.
  const second = await cli(['process', '--streams', 'user-events', '--exit-when-idle', '2'], env, 180_000)
  assertOk(second)
  assert.match(second.stdout, new RegExp(`Errors: ${poisonCorpus.length}\\n`))
  const deadAgain = (await readTopic(config, dlqTopic)).filter(r => header(r, REPLAYED_FROM_HEADER) !== undefined)
  assert.equal(deadAgain.length, poisonCorpus.length)
  for (const d of deadAgain) assert.match(header(d, REPLAYED_FROM_HEADER) ?? '', new RegExp(`^${dlqTopic}:\\d+:\\d+$`))

  const count = await dlq(config, group, ['count', '--topic', dlqTopic])
  assertOk(count)
  assert.match(count.stdout, new RegExp(`${poisonCorpus.length} records wait in ${dlqTopic} \\(after where consumer group ${group}-dlq-replay stopped\\), by error code:`))
  const third = await dlq(config, group, ['replay', '--topic', dlqTopic])
  assertOk(third)
  assert.match(third.stdout, new RegExp(`Replayed ${poisonCorpus.length} records from ${dlqTopic} to ${topics.user} \\(skipped 0\\)`))
  const trail = (await readTopic(config, topics.user)).filter(r => deadAgain.some(d => header(r, REPLAYED_FROM_HEADER) === `${dlqTopic}:${d.partition}:${d.offset}`))
  assert.equal(trail.length, poisonCorpus.length, 'the new dead letters were replayed, each once')
  for (const r of trail) assert.equal(r.headers.filter(([k]) => k === REPLAYED_FROM_HEADER).length, 1, 'one replayed-from header: the latest')
})

/** The fraud tables' rows, read from the pipeline's SQLite file. */
function fraudRows (path: string): { transactions: number, predicted: Set<string> } {
  const db = new DatabaseSync(path, { readOnly: true })
  try {
    const transactions = Number((db.prepare('SELECT COUNT(*) AS n FROM transactions').get() as { n: number }).n)
    const predicted = new Set((db.prepare('SELECT transaction_id FROM predictions').all() as unknown as { transaction_id: string }[]).map(r => r.transaction_id))
    return { transactions, predicted }
  } finally {
    db.close()
  }
}

for (const override of [false, true]) {
  test(`dlq on the fraud pipeline's dead letters (${override ? 'KAFKA_ERROR_TOPIC' : '<topic>-failed'}): a transaction the scoring API refused, replayed after the fix, is scored; a malformed one comes back with its trail`, async t => {
    const config = await kafkaConfig(t)
    if (config === undefined) return
    const base = uniqueName('dlqfraud')
    const tx = `${base}-tx`
    // KAFKA_ERROR_TOPIC names a topic that does not end in -failed: only the source-topic header says where a record goes back to.
    const dlqTopic = override ? `${base}-errors` : `${tx}-failed`
    const fraudGroup = uniqueName('fraud-group')
    await createTopic(config, tx, 3)
    t.after(() => deleteTopics(config, [tx, dlqTopic, `${base}-fraud-pred`, `${base}-fraud-alert`, `${fraudGroup}-accounts-changelog`]))
    const dir = mkdtempSync(join(tmpdir(), 'churnflow-dlq-fraud-'))
    t.after(() => { rmSync(dir, { recursive: true, force: true }) })
    const api = await testFraudApi(t)
    const env = {
      KAFKA_BROKER: config.kafkaBrokers.join(','),
      KAFKA_TOPIC_TRANSACTIONS: tx,
      KAFKA_TOPIC_FRAUD_PREDICTIONS: `${base}-fraud-pred`,
      KAFKA_TOPIC_FRAUD_ALERTS: `${base}-fraud-alert`,
      FRAUD_CONSUMER_GROUP: fraudGroup,
      DATABASE_URL: `sqlite:${join(dir, 'fraud.db')}`,
      CHURNFLOW_STATE_DIR: dir,
      ML_API_URL: api.url,
      MAX_RETRIES: '2',
      OPS_PORT: '0',
      LOG_LEVEL: 'warn',
      ...(override ? { KAFKA_ERROR_TOPIC: dlqTopic } : {})
    }
    const processAll = async (): Promise<void> => { assertOk(await cli(['process', '--streams', 'transactions', '--exit-when-idle', '3'], env, 180_000)) }
    assertOk(await cli(['produce', '--stream', 'transactions', '--rate', 'max', '--count', '40', '--seed', '5'], env, 120_000))
    const refusedId = `${base}-refused`
    const refused = { transaction_id: refusedId, account_id: 'ACC-000001', amount: 42.5, currency: 'EUR', merchant_id: 'REFUSE-ME', merchant_category: 'grocery', channel: 'pos', country: 'DE', timestamp: new Date().toISOString() }
    await produceRaw(config, tx, [JSON.stringify(refused)], 'ACC-000001')
    await produceRaw(config, tx, ['{"transaction_id": "cut short'], 'ACC-000002')

    await processAll()
    const first = fraudRows(join(dir, 'fraud.db'))
    assert.equal(first.transactions, 40)
    assert.ok(!first.predicted.has(refusedId))
    const dead = await readTopic(config, dlqTopic)
    assert.deepEqual(dead.map(d => header(d, DeadLetterHeaders.ERROR_CODE)).sort(), ['invalid_json', 'rejected_by_scoring_api'])
    for (const d of dead) assert.equal(header(d, DeadLetterHeaders.SOURCE_TOPIC), tx)

    const group = uniqueName('group')
    // With KAFKA_ERROR_TOPIC set, that is the topic dlq reads when --topic is not given.
    const count = override
      ? await cli(['dlq', 'count'], { KAFKA_BROKER: config.kafkaBrokers.join(','), KAFKA_GROUP_ID: group, KAFKA_ERROR_TOPIC: dlqTopic, LOG_LEVEL: 'warn' }, 120_000)
      : await dlq(config, group, ['count', '--topic', dlqTopic])
    assertOk(count)
    assert.match(count.stdout, new RegExp(`2 records wait in ${dlqTopic} .*by error code:\n {2}invalid_json +1\n {2}rejected_by_scoring_api +1\n`))

    // The fix: the scoring API takes the merchant now. Only the refused transaction goes back.
    api.refusing = false
    const replay = await dlq(config, group, ['replay', '--topic', dlqTopic, '--code', 'rejected_by_scoring_api'])
    assertOk(replay)
    assert.match(replay.stdout, new RegExp(`Replayed 1 record from ${dlqTopic} to ${tx} \\(skipped 1\\)\n`))
    await processAll()
    const second = fraudRows(join(dir, 'fraud.db'))
    assert.equal(second.transactions, 41)
    assert.ok(second.predicted.has(refusedId), 'the replayed transaction is scored')
    assert.equal(second.predicted.size, 41)

    // The malformed one is still malformed: replayed, it is dead-lettered again, with the trail of the replay, and stored nowhere.
    const again = await dlq(config, group, ['replay', '--topic', dlqTopic, '--from-beginning', '--code', 'invalid_json'])
    assertOk(again)
    assert.match(again.stdout, new RegExp(`Replayed 1 record from ${dlqTopic} to ${tx} \\(skipped 1\\)\n`))
    await processAll()
    assert.equal(fraudRows(join(dir, 'fraud.db')).transactions, 41)
    const trail = (await readTopic(config, dlqTopic)).filter(d => header(d, REPLAYED_FROM_HEADER) !== undefined)
    assert.equal(trail.length, 1)
    assert.equal(header(trail[0]!, DeadLetterHeaders.ERROR_CODE), 'invalid_json')
    assert.match(header(trail[0]!, REPLAYED_FROM_HEADER) ?? '', new RegExp(`^${dlqTopic}:\\d+:\\d+$`))
  })
}

const binary = Buffer.from([0xff, 0x00, 0xfe, 0x80, 0x0a])
const specs: readonly DeadLetterSpec[] = [
  { key: Buffer.from('cust-1'), value: Buffer.from('not json'), code: 'invalid_json', headers: [['trace-id', 'abc'], ['x', '1'], ['x', '2']] },
  { key: Buffer.from('cust-2'), value: binary, code: 'invalid_json' },
  { key: Buffer.from('cust-3'), value: Buffer.from('{"user_id": 1, "event_type": "teleport", "timestamp": "2024-01-15T10:30:00Z"}'), code: 'unknown_event_type' },
  { value: Buffer.from('{"user_id": 2}'), code: 'invalid_event', headers: [['source', 'web']] },
  { key: Buffer.from('cust-4'), value: Buffer.from('{'), code: 'invalid_json' },
  { key: Buffer.from('cust-5'), value: Buffer.from('{"user_id": 3, "event_type": "warp", "timestamp": "2024-01-15T10:30:00Z"}'), code: 'unknown_event_type' }
]

test('dlq replay: dry run changes nothing; replay copies byte for byte once; new dead letters go next time; --from-beginning sends all again', async t => {
  const config = await kafkaConfig(t)
  if (config === undefined) return
  const topics = await topicsFor(t, config)
  const group = uniqueName('group')
  await produceDeadLetters(config, topics.dlq, topics.source, specs)

  const dry = await dlq(config, group, ['replay', '--topic', topics.dlq, '--dry-run'])
  assertOk(dry)
  assert.match(dry.stdout, new RegExp(`Dry run: 6 records from ${topics.dlq} would be replayed to ${topics.source} \\(skipped 0\\)`))
  assert.match(dry.stdout, /By error code:\n {2}invalid_json +3\n {2}unknown_event_type +2\n {2}invalid_event +1\n/)
  assert.equal((dry.stdout.match(/\n {4}value: /g) ?? []).length, 5, 'the first five records')
  assert.equal(await recordCount(config, topics.source), 0)
  assert.deepEqual(await committedOffsets(config, `${group}-dlq-replay`, topics.dlq, 3), [-1n, -1n, -1n])

  const replay = await dlq(config, group, ['replay', '--topic', topics.dlq])
  assertOk(replay)
  assert.match(replay.stdout, new RegExp(`Replayed 6 records from ${topics.dlq} to ${topics.source} \\(skipped 0\\)\\n`))
  const dead = await readTopic(config, topics.dlq)
  assertReplayed(dead, await readTopic(config, topics.source), topics.dlq)
  // At the end of each partition that has records; an empty one has nothing to commit.
  const ends = [0, 1, 2].map(p => BigInt(dead.filter(d => d.partition === p).length) || -1n)
  assert.deepEqual(await committedOffsets(config, `${group}-dlq-replay`, topics.dlq, 3), ends, 'committed at the end')

  const again = await dlq(config, group, ['replay', '--topic', topics.dlq])
  assertOk(again)
  assert.match(again.stdout, /nothing to replay/)
  assert.equal(await recordCount(config, topics.source), 6)

  await produceDeadLetters(config, topics.dlq, topics.source, [{ key: Buffer.from('late-1'), value: Buffer.from('late one'), code: 'invalid_json' }, { key: Buffer.from('late-2'), value: Buffer.from(''), code: 'empty_record' }])
  const next = await dlq(config, group, ['replay', '--topic', topics.dlq])
  assertOk(next)
  assert.match(next.stdout, new RegExp(`Replayed 2 records from ${topics.dlq} to ${topics.source} \\(skipped 0\\)`))
  const afterNext = await readTopic(config, topics.source)
  assert.equal(afterNext.length, 8)
  assertReplayed((await readTopic(config, topics.dlq)).filter(d => d.key?.toString().startsWith('late-') === true), afterNext.filter(r => r.key?.toString().startsWith('late-') === true), topics.dlq)

  const all = await dlq(config, group, ['replay', '--topic', topics.dlq, '--from-beginning'])
  assertOk(all)
  assert.match(all.stdout, new RegExp(`Replayed 8 records from ${topics.dlq} to ${topics.source} \\(skipped 0\\)`))
  assert.equal(await recordCount(config, topics.source), 16)
  const none = await dlq(config, group, ['replay', '--topic', topics.dlq])
  assert.match(none.stdout, /nothing to replay/)
})

test('dlq replay targets: the source-topic header, else the name without -failed, --to over both; no target is a clear error', async t => {
  const config = await kafkaConfig(t)
  if (config === undefined) return
  const other = uniqueName('dlq-other')
  const alt = uniqueName('dlq-alt')
  const noSuffix = uniqueName('dlq-poison')
  const topics = await topicsFor(t, config, 3, [other, alt, noSuffix])
  const group = uniqueName('group')
  await produceDeadLetters(config, topics.dlq, topics.source, [
    { key: Buffer.from('a'), value: Buffer.from('to the header topic'), code: 'invalid_json', source: other },
    { key: Buffer.from('b'), value: Buffer.from('no header'), code: 'invalid_json', source: null }
  ])
  const replay = await dlq(config, group, ['replay', '--topic', topics.dlq])
  assertOk(replay)
  assert.match(replay.stdout, new RegExp(`Replayed 2 records from ${topics.dlq} to (${other}, ${topics.source}|${topics.source}, ${other}) \\(skipped 0\\)`))
  const dead = await readTopic(config, topics.dlq)
  assertReplayed(dead.filter(d => d.key?.toString() === 'a'), await readTopic(config, other), topics.dlq)
  assertReplayed(dead.filter(d => d.key?.toString() === 'b'), await readTopic(config, topics.source), topics.dlq)

  const to = await dlq(config, group, ['replay', '--topic', topics.dlq, '--from-beginning', '--to', alt])
  assertOk(to)
  assert.match(to.stdout, new RegExp(`Replayed 2 records from ${topics.dlq} to ${alt} \\(skipped 0\\)`))
  assertReplayed(dead, await readTopic(config, alt), topics.dlq)

  // A dead-letter topic with another name, and records without the header: only --to says where.
  await produceDeadLetters(config, noSuffix, 'unused', [{ key: Buffer.from('c'), value: Buffer.from('lost'), code: 'invalid_json', source: null }])
  const nowhere = await dlq(config, group, ['replay', '--topic', noSuffix])
  assert.equal(nowhere.code, 2, nowhere.stdout + nowhere.stderr)
  assert.match(nowhere.stderr, new RegExp(`${noSuffix}:\\d:0 has no churnflow-source-topic header and ${noSuffix} does not end in -failed: nowhere to replay it to\\n {2}name the topic with --to TOPIC`))
  const named = await dlq(config, group, ['replay', '--topic', noSuffix, '--to', alt])
  assertOk(named)
  assert.match(named.stdout, new RegExp(`Replayed 1 record from ${noSuffix} to ${alt} \\(skipped 0\\)`))
})

test('dlq replay --code replays those codes and moves past the others; --limit stops and the next run goes on', async t => {
  const config = await kafkaConfig(t)
  if (config === undefined) return
  const topics = await topicsFor(t, config)
  const group = uniqueName('group')
  await produceDeadLetters(config, topics.dlq, topics.source, specs)

  const dry = await dlq(config, group, ['replay', '--topic', topics.dlq, '--dry-run', '--code', 'invalid_json'])
  assertOk(dry)
  assert.match(dry.stdout, /would be replayed to .+ \(skipped 3\)/)
  assert.match(dry.stdout, / {2}unknown_event_type +2 {2}\(skipped: not in --code\)\n/)

  const some = await dlq(config, group, ['replay', '--topic', topics.dlq, '--code', 'invalid_json'])
  assertOk(some)
  assert.match(some.stdout, new RegExp(`Replayed 3 records from ${topics.dlq} to ${topics.source} \\(skipped 3\\)`))
  const source = await readTopic(config, topics.source)
  assert.equal(source.length, 3)
  const dead = await readTopic(config, topics.dlq)
  assertReplayed(dead.filter(d => header(d, DeadLetterHeaders.ERROR_CODE) === 'invalid_json'), source, topics.dlq)
  const rest = await dlq(config, group, ['replay', '--topic', topics.dlq])
  assert.match(rest.stdout, /nothing to replay/, 'the skipped records were passed over')

  const two = await dlq(config, group, ['replay', '--topic', topics.dlq, '--from-beginning', '--code', 'unknown_event_type,invalid_event'])
  assertOk(two)
  assert.match(two.stdout, /Replayed 3 records from .+ \(skipped 3\)/)
  assert.equal(await recordCount(config, topics.source), 6)

  // --limit: the position stops right after the last record replayed.
  const limitGroup = uniqueName('group')
  const limited = await dlq(config, limitGroup, ['replay', '--topic', topics.dlq, '--limit', '4'])
  assertOk(limited)
  assert.match(limited.stdout, /Replayed 4 records from .+ \(skipped 0\)\nstopped at --limit 4: 2 more records wait in .+ for the next replay\n/)
  const tail = await dlq(config, limitGroup, ['replay', '--topic', topics.dlq])
  assertOk(tail)
  assert.match(tail.stdout, /Replayed 2 records from .+ \(skipped 0\)\n/)
  const copies = await readTopic(config, topics.source)
  assert.equal(copies.length, 12)
  const origins = copies.map(r => header(r, REPLAYED_FROM_HEADER))
  for (const d of dead) {
    const origin = `${topics.dlq}:${d.partition}:${d.offset}`
    assert.equal(origins.filter(o => o === origin).length, 2, `${origin}: once by --code runs, once by the --limit runs`)
  }
})

test('replayDeadLetters: commits batch by batch, so a run that stops on a bad record has kept what it replayed, and reports progress', async t => {
  const config = await kafkaConfig(t)
  if (config === undefined) return
  const topics = await topicsFor(t, config, 1)
  const missing = uniqueName('dlq-missing')
  const groupId = uniqueName('group')
  const good = Array.from({ length: 25 }, (_, i): DeadLetterSpec => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`bad ${i}`), code: 'invalid_json' }))
  await produceDeadLetters(config, topics.dlq, topics.source, [...good, { key: Buffer.from('x'), value: Buffer.from('x'), code: 'invalid_json', source: missing }, ...good])

  const progress: ReplayProgress[] = []
  await assert.rejects(replayDeadLetters({ connection: config, groupId, topic: topics.dlq, batchSize: 10, progressIntervalMs: 0, onProgress: p => progress.push(p) }),
    (error: Error) => error.message.includes(`${topics.dlq}:0:25 goes back to ${missing}, which does not exist`))
  // Batches of ten: 0-9 and 10-19 were produced and committed; 20-24 were in the failed batch.
  assert.deepEqual(await committedOffsets(config, groupId, topics.dlq, 1), [20n])
  assert.equal(await recordCount(config, topics.source), 20)
  assert.deepEqual(progress.map(p => p.replayed), [10, 20])
  assert.ok(progress.every(p => p.pending === 51 && p.elapsedMs >= 0))

  const rest = await replayDeadLetters({ connection: config, groupId, topic: topics.dlq, to: topics.source })
  assert.equal(rest.pending, 31)
  assert.equal(rest.replayed, 31)
  assert.equal(rest.remaining, 0)
  assert.deepEqual(await committedOffsets(config, groupId, topics.dlq, 1), [51n])
  const source = await readTopic(config, topics.source)
  assert.equal(source.length, 51)
  assert.deepEqual(source.map(r => header(r, REPLAYED_FROM_HEADER)), Array.from({ length: 51 }, (_, i) => `${topics.dlq}:0:${i}`), 'each once, in order')
})

test('dlq: clear errors for a missing --topic, an unknown topic, an unknown --to, and an unreachable broker', async t => {
  const bad = await cli(['dlq', 'replay'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--topic is required: the dead-letter topic to read, e\.g\. --topic user-events-failed/)
  const action = await cli(['dlq', 'resend', '--topic', 'x'])
  assert.equal(action.code, 2)
  assert.match(action.stderr, /unknown dlq action "resend": expected replay or count/)
  const code = await cli(['dlq', 'replay', '--topic', 'x-failed', '--code', 'invalid-json'])
  assert.equal(code.code, 2)
  assert.match(code.stderr, /--code="invalid-json" is invalid: expected a comma-separated list of empty_record, invalid_json/)
  const down = await cli(['dlq', 'replay', '--topic', 'x-failed'], { KAFKA_BROKER: '127.0.0.1:1' }, 60_000)
  assert.equal(down.code, 1)
  assert.match(down.stderr, /no Kafka broker answered at 127\.0\.0\.1:1\n {2}start the local one with `churnflow kafka start`/)

  const config = await kafkaConfig(t)
  if (config === undefined) return
  const topics = await topicsFor(t, config)
  const group = uniqueName('group')
  const unknown = await dlq(config, group, ['replay', '--topic', `${topics.source}-nope-failed`])
  assert.equal(unknown.code, 2, unknown.stdout + unknown.stderr)
  assert.match(unknown.stderr, new RegExp(`--topic ${topics.source}-nope-failed: no such topic on the cluster\\n {2}dead-letter topics on the cluster: .*${topics.dlq}`))
  const unknownTo = await dlq(config, group, ['replay', '--topic', topics.dlq, '--to', `${topics.source}-nope`])
  assert.equal(unknownTo.code, 2)
  assert.match(unknownTo.stderr, new RegExp(`--to ${topics.source}-nope: no such topic on the cluster`))
  const empty = await dlq(config, group, ['replay', '--topic', topics.dlq])
  assertOk(empty)
  assert.match(empty.stdout, new RegExp(`nothing to replay: ${topics.dlq} has no record after where the last replay stopped`))
})

test('a dead-letter topic\'s replays remember where they stopped in its own pipeline\'s group', () => {
  const config = { groupId: 'churn-consumer-group', fraudGroupId: 'transaction-consumer-group', errorTopic: undefined, transactionsTopic: 'transactions' }
  assert.equal(replayGroupId(config, 'user-events-failed'), 'churn-consumer-group-dlq-replay')
  assert.equal(replayGroupId(config, 'customer-events-failed'), 'churn-consumer-group-dlq-replay')
  assert.equal(replayGroupId(config, 'transactions-failed'), 'transaction-consumer-group-dlq-replay')
  // One KAFKA_ERROR_TOPIC for both pipelines: the churn group's, as before.
  assert.equal(replayGroupId({ ...config, errorTopic: 'all-failed' }, 'all-failed'), 'churn-consumer-group-dlq-replay')
})
