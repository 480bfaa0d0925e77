import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { test, type TestContext } from 'node:test'
import { loadConfig } from '../../src/config/index.ts'
import { checkUserEvent, parseEventTime } from '../../src/events/index.ts'
import { which } from '../../src/kafka/local/index.ts'
import {
  cli, consumeFromStart, deleteTopics, kafkaConfig, producerStats, startCli, unavailable, uniqueName
} from '../helpers/services.ts'
import { waitFor } from '../helpers/wait.ts'

async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'churnflow-produce-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('produce --count N --rate max: N events in Kafka, keyed by user, timestamped with their event time', async t => {
  const topic = uniqueName('produce')
  const config = await kafkaConfig(t, { KAFKA_TOPIC: topic })
  if (config === undefined) return
  t.after(() => deleteTopics(config, [topic]))
  const result = await cli(['produce', '--rate', 'max', '--count', '5000', '--seed', '3'], { KAFKA_BROKER: config.kafkaBrokers.join(','), KAFKA_TOPIC: topic })
  assert.equal(result.code, 0, result.stderr)
  assert.deepEqual(producerStats(result.stdout), { generated: 5000, sent: 5000, failed: 0 })
  assert.match(result.stdout, new RegExp(`Successfully connected to Kafka\\. Topic '${topic}' has 3 partitions`))
  const records = await consumeFromStart(config, topic, 5000)
  assert.equal(records.length, 5000)
  for (const r of records) {
    const event = JSON.parse(r.value) as { user_id: number, timestamp: string }
    assert.ok(checkUserEvent.Check(event))
    assert.equal(r.key, String(event.user_id))
    assert.equal(r.timestamp, BigInt(parseEventTime(event.timestamp)!))
  }
})

test('produce --stream transactions --rate max: thousands of live transactions, all accepted, none stamped in the future', async t => {
  const topic = uniqueName('tx-live')
  const config = await kafkaConfig(t, { KAFKA_TOPIC_TRANSACTIONS: topic })
  if (config === undefined) return
  t.after(() => deleteTopics(config, [topic]))
  const before = Date.now()
  const result = await cli(['produce', '--stream', 'transactions', '--rate', 'max', '--count', '20000', '--seed', '8'], { KAFKA_BROKER: config.kafkaBrokers.join(','), KAFKA_TOPIC_TRANSACTIONS: topic })
  const after = Date.now()
  assert.equal(result.code, 0, result.stdout + result.stderr)
  assert.deepEqual(producerStats(result.stdout), { generated: 20000, sent: 20000, failed: 0 })
  const records = await consumeFromStart(config, topic, 20000, 60_000)
  assert.equal(records.length, 20000)
  const ids = new Set<string>()
  for (const r of records) {
    const tx = JSON.parse(r.value) as { transaction_id: string, account_id: string, timestamp: string }
    assert.equal(r.key, tx.account_id)
    const time = parseEventTime(tx.timestamp)!
    assert.equal(r.timestamp, BigInt(time))
    assert.ok(time >= before - 1000 && time <= after, `${tx.timestamp} is outside the run (${new Date(before).toISOString()} to ${new Date(after).toISOString()})`)
    ids.add(tx.transaction_id)
  }
  assert.equal(ids.size, 20000, 'every transaction id is unique')
})

test('a live population started in the past sends its history, then only what has happened', async t => {
  const topic = uniqueName('pop-live')
  const config = await kafkaConfig(t, { KAFKA_TOPIC: topic, KAFKA_TOPIC_CUSTOMER_EVENTS: topic })
  if (config === undefined) return
  t.after(() => deleteTopics(config, [topic]))
  // 20,000 customers make about 2,300 events in two hours: the run asks for more than have happened.
  const start = new Date(Date.now() - 2 * 3_600_000).toISOString()
  const result = await cli(['produce', '--mode', 'population', '--customers', '20000', '--start', start, '--rate', 'max', '--count', '4000', '--duration', '8s', '--seed', '8'],
    { KAFKA_BROKER: config.kafkaBrokers.join(','), KAFKA_TOPIC: topic, KAFKA_TOPIC_CUSTOMER_EVENTS: topic })
  const after = Date.now()
  assert.equal(result.code, 0, result.stdout + result.stderr)
  const stats = producerStats(result.stdout)
  assert.equal(stats.failed, 0)
  assert.ok(stats.sent > 1000 && stats.sent < 4000, `${stats.sent} events sent`)
  const records = await consumeFromStart(config, topic, stats.sent, 60_000)
  for (const r of records) assert.ok(r.timestamp <= BigInt(after), `an event stamped ${new Date(Number(r.timestamp)).toISOString()}, after the run`)
})

test('a batch the broker refuses for good is reported as refused at once, not as retried for the retry budget', async t => {
  const topic = uniqueName('tx-future')
  const config = await kafkaConfig(t, { KAFKA_TOPIC_TRANSACTIONS: topic })
  if (config === undefined) return
  t.after(() => deleteTopics(config, [topic]))
  // A history a year ahead: Kafka 4 refuses timestamps more than an hour in the future.
  const start = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10)
  const result = await cli(['produce', '--stream', 'transactions', '--start', start, '--days', '1', '--count', '100', '--seed', '8'], { KAFKA_BROKER: config.kafkaBrokers.join(','), KAFKA_TOPIC_TRANSACTIONS: topic })
  assert.equal(result.code, 1)
  assert.deepEqual(producerStats(result.stdout), { generated: 100, sent: 0, failed: 100 })
  assert.match(result.stdout, /Failed to send 100 events \(refused by the broker after \d+\.\d s; not retried, as retrying cannot help\): The timestamp of the message is out of acceptable range/)
  assert.doesNotMatch(result.stdout, /after retrying for 60 s/)
})

test('at interval pace each event gets the e-commerce event producer\'s line, with its partition and offset', async t => {
  const topic = uniqueName('interval')
  const config = await kafkaConfig(t, { KAFKA_TOPIC: topic })
  if (config === undefined) return
  t.after(() => deleteTopics(config, [topic]))
  const result = await cli(['produce', '--count', '3', '--interval', '0.2'], { KAFKA_BROKER: config.kafkaBrokers.join(','), KAFKA_TOPIC: topic })
  assert.equal(result.code, 0, result.stderr)
  const lines = result.stdout.split('\n').filter(l => l.includes('Event sent successfully'))
  assert.equal(lines.length, 3)
  for (const line of lines) {
    assert.match(line, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - INFO - Event sent successfully - User: \d+, Event: (product_view|add_to_cart|checkout|bounce), Product: \d+, Session: [\d.]+min, Partition: \d, Offset: \d+$/)
  }
  for (const heading of ['PRODUCER STATISTICS', 'Runtime: ', 'Events Sent: 3', 'Events Failed: 0', 'Events/Second: ', 'Success Rate: 100.0%']) assert.ok(result.stdout.includes(heading), heading)
})

test('a replayed file keeps each key\'s order, the bytes of every event and their timestamps', async t => {
  const dir = await tempDir(t)
  const userTopic = uniqueName('replay-u')
  const customerTopic = uniqueName('replay-c')
  const config = await kafkaConfig(t, { KAFKA_TOPIC: userTopic, KAFKA_TOPIC_CUSTOMER_EVENTS: customerTopic })
  if (config === undefined) return
  t.after(() => deleteTopics(config, [userTopic, customerTopic]))
  const file = join(dir, 'events.jsonl')
  const base = Date.UTC(2023, 5, 1, 12)
  const lines: string[] = []
  for (let i = 0; i < 600; i++) {
    const user = i % 7
    // Deliberately odd spacing and formats: no zone, a zone offset, extra fields.
    const ts = i % 3 === 0 ? new Date(base + i * 1000).toISOString().replace('Z', '') : new Date(base + i * 1000).toISOString().replace('Z', '+00:00')
    lines.push(i % 5 === 0
      ? JSON.stringify({ event_id: `CUST-00${user}_${base + i}`, event_type: 'login', customer_id: `CUST-00${user}`, timestamp: ts, data: { seq: i } })
      : JSON.stringify({ user_id: user, event_type: 'product_view', timestamp: ts, metadata: { seq: i }, extra: 'kept' }))
  }
  await writeFile(file, lines.join('\n') + '\n')
  const result = await cli(['produce', '--from-file', file, '--speed', 'max'], { KAFKA_BROKER: config.kafkaBrokers.join(','), KAFKA_TOPIC: userTopic, KAFKA_TOPIC_CUSTOMER_EVENTS: customerTopic })
  assert.equal(result.code, 0, result.stderr)
  assert.deepEqual(producerStats(result.stdout), { generated: 600, sent: 600, failed: 0 })
  const users = await consumeFromStart(config, userTopic, 480)
  const customers = await consumeFromStart(config, customerTopic, 120)
  const sent = new Set(lines)
  for (const records of [users, customers]) {
    const byKey = Map.groupBy(records, r => r.key)
    for (const [, list] of byKey) {
      const seqs = list.sort((a, b) => Number(a.offset - b.offset)).map(r => (JSON.parse(r.value) as { metadata?: { seq: number }, data?: { seq: number } }))
        .map(e => e.metadata?.seq ?? e.data?.seq ?? -1)
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'per-key order kept')
    }
    for (const r of records) {
      assert.ok(sent.has(r.value), 'value byte for byte')
      assert.equal(r.timestamp, BigInt(parseEventTime((JSON.parse(r.value) as { timestamp: string }).timestamp)!))
    }
  }
  assert.ok(users.every(r => /^\d$/.test(r.key)) && customers.every(r => /^CUST-00\d$/.test(r.key)))
})

test('replay at recorded pace keeps the recorded spacing, divided by --speed', async t => {
  const dir = await tempDir(t)
  const topic = uniqueName('paced')
  const config = await kafkaConfig(t, { KAFKA_TOPIC: topic })
  if (config === undefined) return
  t.after(() => deleteTopics(config, [topic]))
  const file = join(dir, 'paced.jsonl')
  // 21 events one second apart: 20 s recorded, 2 s at --speed 10.
  await writeFile(file, Array.from({ length: 21 }, (_, i) => JSON.stringify({ user_id: 1, event_type: 'bounce', timestamp: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString() })).join('\n'))
  const started = Date.now()
  const result = await cli(['produce', '--from-file', file, '--speed', '10'], { KAFKA_BROKER: config.kafkaBrokers.join(','), KAFKA_TOPIC: topic })
  const elapsed = Date.now() - started
  assert.equal(result.code, 0, result.stderr)
  assert.equal(producerStats(result.stdout).sent, 21)
  assert.ok(elapsed >= 1900, `took ${elapsed} ms; the recorded 20 s at speed 10 need at least 2 s`)
})

test('CSV replay maps columns onto event fields; other columns become metadata', async t => {
  const dir = await tempDir(t)
  const topic = uniqueName('csv')
  const config = await kafkaConfig(t, { KAFKA_TOPIC: topic })
  if (config === undefined) return
  t.after(() => deleteTopics(config, [topic]))
  const file = join(dir, 'clicks.csv')
  await writeFile(file, 'customer,action,when,page,"note, quoted"\n17,bounce,2024-01-15 10:30:00,/checkout,"a ""b"""\n18,checkout,2024-01-15T10:31:00Z,/cart,x\n')
  const result = await cli(['produce', '--from-file', file, '--map', 'user_id=customer,event_type=action,timestamp=when', '--speed', 'max'],
    { KAFKA_BROKER: config.kafkaBrokers.join(','), KAFKA_TOPIC: topic })
  assert.equal(result.code, 0, result.stderr)
  const records = await consumeFromStart(config, topic, 2)
  const events = records.sort((a, b) => a.key.localeCompare(b.key)).map(r => JSON.parse(r.value) as Record<string, unknown>)
  assert.deepEqual(events[0], { user_id: 17, event_type: 'bounce', timestamp: '2024-01-15 10:30:00', metadata: { page: '/checkout', 'note, quoted': 'a "b"' } })
  assert.equal(records.find(r => r.key === '17')!.timestamp, BigInt(Date.UTC(2024, 0, 15, 10, 30)))
  assert.equal(events[1]!.event_type, 'checkout')
})

test('lines that are not events are counted as failed, with their line numbers; the rest go through', async t => {
  const dir = await tempDir(t)
  const topic = uniqueName('invalid')
  const config = await kafkaConfig(t, { KAFKA_TOPIC: topic })
  if (config === undefined) return
  t.after(() => deleteTopics(config, [topic]))
  const file = join(dir, 'mixed.jsonl')
  await writeFile(file, [
    JSON.stringify({ user_id: 1, event_type: 'bounce', timestamp: '2024-01-01T00:00:00Z' }),
    '{not json',
    JSON.stringify({ event_type: 'bounce', timestamp: '2024-01-01T00:00:01Z' }),
    JSON.stringify({ user_id: 2, event_type: 'bounce', timestamp: 'yesterday' }),
    '[1,2]',
    JSON.stringify({ user_id: 3, event_type: 'checkout', timestamp: '2024-01-01T00:00:02Z' })
  ].join('\n'))
  const result = await cli(['produce', '--from-file', file, '--speed', 'max'], { KAFKA_BROKER: config.kafkaBrokers.join(','), KAFKA_TOPIC: topic })
  assert.equal(result.code, 1)
  assert.deepEqual(producerStats(result.stdout), { generated: 6, sent: 2, failed: 4 })
  for (const n of [2, 3, 4, 5]) assert.match(result.stdout, new RegExp(`Line ${n} of .* is not an event`))
})

test('a broker that is not there: one line per retry with backoff, then a clear error, no stack trace', async () => {
  const result = await cli(['produce', '--count', '5', '--retry-timeout', '3'], { KAFKA_BROKER: '127.0.0.1:1' }, 60_000)
  assert.equal(result.code, 1)
  const retries = result.stdout.split('\n').filter(l => l.includes('Kafka at 127.0.0.1:1 is not reachable'))
  assert.ok(retries.length >= 2, result.stdout)
  assert.match(retries[0]!, /retrying in [\d.]+ s \(attempt 2\)$/)
  assert.match(result.stderr, /^churnflow: no Kafka broker answered at 127\.0\.0\.1:1 for \d+ s$/m)
  assert.ok(!/\n\s+at /.test(result.stderr + result.stdout), 'no stack trace')
  assert.deepEqual(producerStats(result.stdout), { generated: 0, sent: 0, failed: 0 })
})

test('a broker stopped mid-run: the producer retries, and sent + failed = generated', async t => {
  if (which('java', process.env) === undefined) return unavailable(t, 'Java')
  const dir = await tempDir(t)
  const cacheDir = loadConfig({ env: process.env, envFile: false }).config.cacheDir
  const env = { CHURNFLOW_STATE_DIR: dir, CHURNFLOW_CACHE_DIR: cacheDir, KAFKA_BROKER: '127.0.0.1:21392' }
  // Stopped here, not in an after hook: those run in the order they were added, so the temporary
  // directory's removal would run first, beside a broker still writing into it (a CI run met ENOTEMPTY).
  try {
    assert.equal((await cli(['kafka', 'start'], env, 180_000)).code, 0)
    const topic = uniqueName('outage')
    const producer = startCli(['produce', '--count', '3000', '--rate', '300', '--retry-timeout', '60', '--topic', topic], env)
    await sleep(3000)
    assert.equal((await cli(['kafka', 'stop'], env)).code, 0)
    await sleep(4000)
    assert.equal((await cli(['kafka', 'start'], env, 180_000)).code, 0)
    const result = await producer.done
    const stats = producerStats(result.stdout)
    assert.equal(stats.generated, 3000)
    assert.equal(stats.sent + stats.failed, stats.generated, result.stdout.slice(-3000))
    assert.ok(!/\n\s+at /.test(result.stderr), 'no stack trace')
    const config = loadConfig({ env, envFile: false }).config
    const records = await consumeFromStart(config, topic, stats.sent)
    assert.ok(records.length >= stats.sent, `${records.length} in Kafka, ${stats.sent} acknowledged`)
    t.diagnostic(`outage: sent ${stats.sent}, failed ${stats.failed}, in Kafka ${records.length}`)
  } finally {
    await cli(['kafka', 'stop'], env)
  }
})

test('--output - writes JSON lines to stdout and the console lines to stderr', async () => {
  const result = await cli(['produce', '--stream', 'customer-events', '--rate', 'max', '--count', '200', '--seed', '1', '--output', '-'])
  assert.equal(result.code, 0, result.stderr)
  const lines = result.stdout.trim().split('\n')
  assert.equal(lines.length, 200)
  for (const line of lines) assert.match((JSON.parse(line) as { customer_id: string }).customer_id, /^CUST-(\d{3}|1000)$/)
  assert.match(result.stderr, /Events Sent: 200/)
})

test('Ctrl+C stops the producer, which prints its statistics and exits 0', async t => {
  const topic = uniqueName('sigint')
  const config = await kafkaConfig(t, { KAFKA_TOPIC: topic })
  if (config === undefined) return
  t.after(() => deleteTopics(config, [topic]))
  const run = startCli(['produce', '--rate', '50'], { KAFKA_BROKER: config.kafkaBrokers.join(','), KAFKA_TOPIC: topic })
  t.after(() => { if (run.child.exitCode === null) run.child.kill('SIGKILL') })
  // Signal once its progress line says more than 20 were sent, not after a guess of how long its
  // start takes: on a busy machine a SIGINT before its handler is in place just kills it.
  const sent = (): number => Math.max(0, ...[...run.output().matchAll(/Progress - .*, sent (\d+),/g)].map(m => Number(m[1])))
  await waitFor('more than 20 events sent', async () => {
    if (run.child.exitCode !== null) assert.fail(`the producer exited early:\n${run.output()}`)
    return sent() > 20
  })
  run.child.kill('SIGINT')
  const result = await run.done
  assert.equal(result.code, 0, result.stderr)
  const stats = producerStats(result.stdout)
  assert.ok(stats.sent > 20, `${stats.sent} sent`)
  assert.equal(stats.sent + stats.failed, stats.generated)
})

test('population history to a file, with its truth, is reproducible', async t => {
  const dir = await tempDir(t)
  const args = (name: string): string[] => ['produce', '--mode', 'population', '--customers', '300', '--days', '30', '--start', '2025-03-01', '--seed', '9', '--output', join(dir, `${name}.jsonl`), '--truth', join(dir, `${name}.truth.jsonl`)]
  const [a, b] = await Promise.all([cli(args('a')), cli(args('b'))])
  assert.equal(a.code, 0, a.stderr)
  assert.equal(b.code, 0, b.stderr)
  const [ea, eb, ta] = await Promise.all([readFile(join(dir, 'a.jsonl'), 'utf8'), readFile(join(dir, 'b.jsonl'), 'utf8'), readFile(join(dir, 'a.truth.jsonl'), 'utf8')])
  assert.equal(ea, eb)
  assert.ok(ea.split('\n').length > 5000)
  assert.equal(ta.trim().split('\n').length, 300)
  assert.match(ea.split('\n')[0]!, /"timestamp":"2025-03-01T/)
})
