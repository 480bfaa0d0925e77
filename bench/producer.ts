// churnflow's producer against Kafka's own ProducerPerformance, in one run, on one fresh local
// broker: `churnflow produce --rate max` of seed-003 user-events (acks=all, idempotent, lz4) and
// ProducerPerformance with the same record size, acks=all, lz4. Prints both records/s and the ratio
// (target: churnflow >= 0.5 of ProducerPerformance).
//
//   npm run bench:producer -- [--records=2000000]
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config/index.ts'
import { ensureKafkaDistribution, findJava, startLocalKafka, stopLocalKafka } from '../src/kafka/local/index.ts'
import { createLogger } from '../src/logging/index.ts'
import { RandomUserEvents } from '../src/simulator/index.ts'
import { Rng } from '../src/util/rng.ts'

const { values } = parseArgs({ options: { records: { type: 'string', default: '2000000' }, port: { type: 'string', default: '21993' } } })
const records = Number(values.records)
const port = Number(values.port)
const broker = `127.0.0.1:${port}`

function run (command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString('utf8') })
    child.stderr.on('data', (d: Buffer) => { out += d.toString('utf8') })
    child.on('error', reject)
    child.on('close', code => {
      if (code === 0) resolve(out)
      else reject(new Error(`${command} exited ${String(code)}:\n${out.slice(-2000)}`))
    })
  })
}

const log = createLogger({ level: 'warn', format: 'text' })
const { config } = loadConfig({ env: { ...process.env, KAFKA_BROKER: broker }, envFile: false })
const java = findJava(process.env)
const dist = await ensureKafkaDistribution(config.cacheDir, log, process.env)
const stateDir = await mkdtemp(join(tmpdir(), 'churnflow-bench-producer-'))
await startLocalKafka({ stateDir, cacheDir: config.cacheDir, log, env: process.env, brokerPort: port })
try {
  // The same record size for both: the mean seed-003 event.
  const rng = new Rng(1)
  const events = new RandomUserEvents(rng, { users: 1000, shape: 'seed003' })
  let bytes = 0
  for (let i = 0; i < 10_000; i++) bytes += JSON.stringify(events.next(Date.now()).value).length
  const recordSize = Math.round(bytes / 10_000)

  const ours = await run(process.execPath, ['bin/churnflow.js', 'produce', '--rate', 'max', '--count', String(records), '--seed', '1',
    '--topic', 'bench-churnflow', '--compression', 'lz4', '--partitions', '3'], { ...process.env, KAFKA_BROKER: broker, LOG_LEVEL: 'info' })
  // The production phase, first send to last acknowledgement, as ProducerPerformance times its own.
  const oursRate = Number(/Producing: [\d.]+ seconds, (\d+) events\/second/.exec(ours)?.[1])
  const oursFailed = Number(/Events Failed: (\d+)/.exec(ours)?.[1])

  const theirs = await run(java.path, ['-Xmx512m', '-cp', dist.classpath, 'org.apache.kafka.tools.ProducerPerformance',
    '--topic', 'bench-java', '--num-records', String(records), '--record-size', String(recordSize), '--throughput', '-1',
    '--producer-props', `bootstrap.servers=${broker}`, 'acks=all', 'enable.idempotence=true', 'compression.type=lz4', 'linger.ms=5', 'batch.size=131072'])
  const summary = theirs.trim().split('\n').filter(l => l.includes('records sent')).pop() ?? ''
  const theirsRate = Number(/([\d.]+) records\/sec/.exec(summary)?.[1])

  console.log(`${records} records of ${recordSize} B (mean seed-003 event), acks=all, idempotent, lz4, 3 partitions, one local broker`)
  console.log(`  churnflow produce --rate max: ${Math.round(oursRate)} records/s (failed ${oursFailed})`)
  console.log(`  Kafka ProducerPerformance:    ${Math.round(theirsRate)} records/s`)
  console.log(`  ratio: ${(oursRate / theirsRate).toFixed(2)} (target >= 0.50)`)
} finally {
  await stopLocalKafka({ stateDir, log })
  await rm(stateDir, { recursive: true, force: true })
}
