import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { ConfigResourceTypes } from '@platformatic/kafka'
import { loadConfig } from '../../src/config/index.ts'
import { describeCluster, createAdmin, createProducer } from '../../src/kafka/client/index.ts'
import { parseJavaMajor, serverProperties, which } from '../../src/kafka/local/index.ts'
import { cli, consumeFromStart, unavailable, uniqueName } from '../helpers/services.ts'

const cacheDir = loadConfig({ env: process.env, envFile: false }).config.cacheDir

async function stateDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'churnflow-kafka-'))
  t.after(async () => {
    await cli(['kafka', 'stop'], { CHURNFLOW_STATE_DIR: dir, CHURNFLOW_CACHE_DIR: cacheDir })
    await rm(dir, { recursive: true, force: true })
  })
  return dir
}

function needJava (t: TestContext): boolean {
  if (which('java', process.env) !== undefined) return true
  unavailable(t, 'Java')
  return false
}

const pidOf = (stdout: string): number => Number(/node 1: pid (\d+)/.exec(stdout)?.[1])
/** Alive, and not a zombie waiting for this machine's init to reap it. */
function alive (pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !/^\d+ \(.*\) [ZX]/.test(stat)
  } catch {
    return false
  }
}

test('java -version output parses for old and new schemes', () => {
  assert.equal(parseJavaMajor('openjdk version "17.0.15" 2025-04-15'), 17)
  assert.equal(parseJavaMajor('java version "1.8.0_392"'), 8)
  assert.equal(parseJavaMajor('openjdk version "21" 2023-09-19'), 21)
  assert.equal(parseJavaMajor('nothing here'), undefined)
})

test('a three-node cluster replicates three ways with min.insync.replicas 2', () => {
  const nodes = [1, 2, 3].map(id => ({ id, brokerPort: 9091 + id, controllerPort: 19091 + id, dir: `/d/${id}` }))
  const props = serverProperties(nodes[1]!, nodes)
  assert.match(props, /^controller\.quorum\.voters=1@127\.0\.0\.1:19092,2@127\.0\.0\.1:19093,3@127\.0\.0\.1:19094$/m)
  assert.match(props, /^node\.id=2$/m)
  assert.match(props, /^default\.replication\.factor=3$/m)
  assert.match(props, /^min\.insync\.replicas=2$/m)
  assert.match(props, /^offsets\.topic\.replication\.factor=3$/m)
  assert.match(props, /^group\.initial\.rebalance\.delay\.ms=0$/m)
  assert.match(props, /^controlled\.shutdown\.enable=false$/m, 'nodes stop together: a controlled shutdown would wait for a quorum that is going away')
  assert.match(props, /^log\.retention\.ms=-1$/m, 'records keep their event time: a time limit would delete replayed history')
  assert.match(props, /^log\.retention\.bytes=\d+$/m)
  assert.doesNotMatch(props, /^log\.retention\.(hours|minutes)=/m)
  const single = serverProperties(nodes[0]!, [nodes[0]!])
  assert.match(single, /^offsets\.topic\.replication\.factor=1$/m)
  assert.match(single, /^min\.insync\.replicas=1$/m)
})

// Every broker port here, and its controller's (+ 10000), is below Linux's ephemeral range
// (32768-60999), where any outgoing connection may hold it: see test/helpers/global-setup.ts.
test('kafka start, status, start again, stop, status, start again keeps the data', async t => {
  if (!needJava(t)) return
  const dir = await stateDir(t)
  const env = { CHURNFLOW_STATE_DIR: dir, CHURNFLOW_CACHE_DIR: cacheDir, KAFKA_BROKER: '127.0.0.1:21192' }
  const config = loadConfig({ env, envFile: false }).config

  const first = await cli(['kafka', 'start'], env, 180_000)
  assert.equal(first.code, 0, first.stderr)
  assert.match(first.stdout, /^Kafka 4\.1\.\d+ is running \(started in [\d.]+ s\): 1 node, bootstrap 127\.0\.0\.1:21192$/m)
  const pid = pidOf(first.stdout)
  assert.ok(alive(pid))
  assert.equal((await describeCluster(config)).brokers.length, 1)

  const status = await cli(['kafka', 'status'], env)
  assert.equal(status.code, 0)
  assert.match(status.stdout, /^Kafka 4\.1\.\d+ running: 1 node, bootstrap 127\.0\.0\.1:21192$/m)

  const again = await cli(['kafka', 'start'], env)
  assert.equal(again.code, 0)
  assert.match(again.stdout, /was already running/)
  assert.equal(pidOf(again.stdout), pid)

  const topic = uniqueName('persist')
  const admin = createAdmin(config)
  await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 })
  // The broker's own answer: topics keep records of any age (history is produced with its event time).
  const [described] = await admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: ['retention.ms'] }] })
  assert.equal(described?.configs.find(c => c.name === 'retention.ms')?.value, '-1')
  await admin.close()
  const producer = createProducer(config)
  // Two years old: a broker retaining by time would delete it within minutes.
  await producer.send({ messages: [{ topic, key: Buffer.from('k'), value: Buffer.from('survives a restart'), timestamp: BigInt(Date.now() - 2 * 365 * 86_400_000) }] })
  await producer.close()

  const stop = await cli(['kafka', 'stop'], env)
  assert.equal(stop.code, 0)
  assert.match(stop.stdout, /^Kafka stopped: 1 node$/m)
  assert.ok(!alive(pid), 'the broker process is gone after stop')

  const down = await cli(['kafka', 'status'], env)
  assert.equal(down.code, 3)
  assert.match(down.stdout, /not running/)
  assert.match((await cli(['kafka', 'stop'], env)).stdout, /not running; nothing to stop/)

  const restart = await cli(['kafka', 'start'], env, 180_000)
  assert.equal(restart.code, 0, restart.stderr)
  assert.notEqual(pidOf(restart.stdout), pid)
  const [record] = await consumeFromStart(config, topic, 1)
  assert.equal(record?.value, 'survives a restart')
})

test('kafka start --nodes 3 runs a three-broker cluster that replicates topics three ways', async t => {
  if (!needJava(t)) return
  const dir = await stateDir(t)
  const env = { CHURNFLOW_STATE_DIR: dir, CHURNFLOW_CACHE_DIR: cacheDir, KAFKA_BROKER: '127.0.0.1:21492' }
  const start = await cli(['kafka', 'start', '--nodes', '3'], env, 240_000)
  assert.equal(start.code, 0, start.stderr)
  assert.match(start.stdout, /3 nodes, bootstrap 127\.0\.0\.1:21492,127\.0\.0\.1:21493,127\.0\.0\.1:21494/)
  const config = loadConfig({ env: { ...env, KAFKA_BROKER: '127.0.0.1:21492,127.0.0.1:21493,127.0.0.1:21494', KAFKA_TOPIC: uniqueName('r3') }, envFile: false }).config
  assert.deepEqual((await describeCluster(config)).brokers.map(b => b.port), [21492, 21493, 21494])

  const topics = await cli(['topics', 'create'], { ...env, KAFKA_TOPIC: config.userEventsTopic })
  assert.equal(topics.code, 0, topics.stderr)
  assert.match(topics.stdout, new RegExp(`created ${config.userEventsTopic} \\(3 partitions, replication 3\\)`))
  const admin = createAdmin(config)
  try {
    const metadata = await admin.metadata({ topics: [config.userEventsTopic] })
    for (const partition of metadata.topics.get(config.userEventsTopic)!.partitions) {
      assert.equal(partition.replicas.length, 3)
      assert.equal(partition.isr.length, 3)
    }
  } finally {
    await admin.close()
  }
  const stop = await cli(['kafka', 'stop'], env, 120_000)
  assert.match(stop.stdout, /^Kafka stopped: 3 nodes$/m)
})

test('kafka start refuses a port that is taken, naming it and the fix', async t => {
  if (!needJava(t)) return
  const dir = await stateDir(t)
  const server = createServer()
  await new Promise<void>(resolve => server.listen(21592, '127.0.0.1', resolve))
  t.after(() => new Promise<void>(resolve => server.close(() => { resolve() })))
  const result = await cli(['kafka', 'start'], { CHURNFLOW_STATE_DIR: dir, CHURNFLOW_CACHE_DIR: cacheDir, KAFKA_BROKER: '127.0.0.1:21592' })
  assert.equal(result.code, 1)
  assert.match(result.stderr, /^churnflow: port 21592 on 127\.0\.0\.1 is in use by another program/m)
  assert.match(result.stderr, /KAFKA_BROKER/)
})

test('kafka start without Java, or with a Java too old, says which Java is needed', async t => {
  const dir = await stateDir(t)
  const bin = await mkdtemp(join(tmpdir(), 'churnflow-bin-'))
  t.after(() => rm(bin, { recursive: true, force: true }))
  const base = { CHURNFLOW_STATE_DIR: dir, CHURNFLOW_CACHE_DIR: cacheDir, KAFKA_BROKER: '127.0.0.1:21692' }
  const none = await cli(['kafka', 'start'], { ...base, PATH: bin, JAVA_HOME: '/nonexistent' })
  assert.equal(none.code, 1)
  assert.match(none.stderr, /Java 17 or newer is needed to run the local Apache Kafka, and none was found/)
  assert.ok(!none.stderr.includes('    at '), 'no stack trace')

  await writeFile(join(bin, 'java'), '#!/bin/sh\necho \'openjdk version "11.0.22" 2024-01-16\' >&2\n')
  await chmod(join(bin, 'java'), 0o755)
  const old = await cli(['kafka', 'start'], { ...base, PATH: `${bin}:/bin:/usr/bin` })
  assert.equal(old.code, 1)
  assert.match(old.stderr, /Apache Kafka 4 needs Java 17 or newer; .*java is Java 11/)
})

test('kafka start with no Maven and nothing cached says how to fix it', async t => {
  const java = which('java', process.env)
  if (java === undefined) return unavailable(t, 'Java')
  const dir = await stateDir(t)
  const bin = await mkdtemp(join(tmpdir(), 'churnflow-bin-'))
  const emptyCache = await mkdtemp(join(tmpdir(), 'churnflow-cache-'))
  t.after(() => Promise.all([rm(bin, { recursive: true, force: true }), rm(emptyCache, { recursive: true, force: true })]))
  await symlink(java, join(bin, 'java'))
  const result = await cli(['kafka', 'start'], { CHURNFLOW_STATE_DIR: dir, CHURNFLOW_CACHE_DIR: emptyCache, KAFKA_BROKER: '127.0.0.1:21792', PATH: bin })
  assert.equal(result.code, 1)
  assert.match(result.stderr, /Apache Kafka 4\.1\.\d+ is not in .* yet, and Maven \(mvn\) is needed to download it from Maven Central/)
  assert.match(result.stderr, /apt-get install maven/)
  assert.match(result.stderr, /set KAFKA_BROKER to an existing Kafka cluster/)
})

test('a broker that exits while starting is reported with the last lines of its log', async t => {
  if (!needJava(t)) return
  const dir = await stateDir(t)
  const result = await cli(['kafka', 'start'], { CHURNFLOW_STATE_DIR: dir, CHURNFLOW_CACHE_DIR: cacheDir, KAFKA_BROKER: '127.0.0.1:21892', KAFKA_HEAP_OPTS: '-Xmx1k' }, 180_000)
  assert.equal(result.code, 1)
  assert.match(result.stderr, /^churnflow: Kafka node 1 exited while starting \(exit code 1\)$/m)
  assert.match(result.stderr, /Too small maximum heap/)
})

test('kafka start refuses a KAFKA_BROKER that is not on this machine', async () => {
  const result = await cli(['kafka', 'start'], { KAFKA_BROKER: 'kafka.example.internal:9092', CHURNFLOW_STATE_DIR: '/nonexistent' })
  assert.equal(result.code, 2)
  assert.match(result.stderr, /KAFKA_BROKER points at kafka\.example\.internal:9092, an existing cluster/)
})
