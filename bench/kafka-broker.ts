// Measures the local broker under load: Kafka's own ProducerPerformance (kafka-tools) writes
// records at full speed (acks=all, lz4) while jstat samples the broker's heap. Prints records/s,
// MB/s, peak heap used against the -Xmx, GC counts and the broker's resident memory.
//
//   npm run bench:kafka -- [--records=2000000] [--record-size=200] [--heap="-Xms256m -Xmx512m"]
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config/index.ts'
import { createAdmin } from '../src/kafka/client/index.ts'
import { ensureKafkaDistribution, findJava, startLocalKafka, stopLocalKafka } from '../src/kafka/local/index.ts'
import { createLogger } from '../src/logging/index.ts'

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '2000000' },
    'record-size': { type: 'string', default: '200' },
    heap: { type: 'string', default: '-Xms256m -Xmx512m' },
    port: { type: 'string', default: '21992' }
  }
})
const records = Number(values.records)
const recordSize = Number(values['record-size'])
const heap = values.heap.split(/\s+/)
const port = Number(values.port)

const log = createLogger({ level: 'warn', format: 'text' })
const { config } = loadConfig({ env: { ...process.env, KAFKA_BROKER: `127.0.0.1:${port}` }, envFile: false })
const stateDir = await mkdtemp(join(tmpdir(), 'churnflow-bench-kafka-'))
const java = findJava(process.env)
const dist = await ensureKafkaDistribution(config.cacheDir, log, process.env)

const started = await startLocalKafka({ stateDir, cacheDir: config.cacheDir, log, env: process.env, brokerPort: port, heapOpts: heap })
const pid = started.nodes[0]?.pid
if (pid === undefined) throw new Error('the benchmark broker has no pid')
try {
  const admin = createAdmin(config)
  await admin.createTopics({ topics: ['bench'], partitions: 3, replicas: 1 })
  await admin.close()

  const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
  const rssIdle = rss()
  let peakHeapMb = 0
  let peakRss = rssIdle
  let last: number[] = []
  let header: string[] = []
  const jstat = spawn('jstat', ['-gc', String(pid), '250'], { stdio: ['ignore', 'pipe', 'ignore'] })
  jstat.stdout.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      const cols = line.trim().split(/\s+/)
      if (cols[0] === 'S0C') { header = cols; continue }
      if (header.length === 0 || cols.length !== header.length) continue
      const row = cols.map(Number)
      const col = (name: string): number => row[header.indexOf(name)] ?? 0
      peakHeapMb = Math.max(peakHeapMb, (col('S0U') + col('S1U') + col('EU') + col('OU')) / 1024)
      peakRss = Math.max(peakRss, rss())
      last = row
    }
  })

  const perfOut = await new Promise<string>((resolve, reject) => {
    const perf = spawn(java.path, ['-Xmx512m', '-cp', dist.classpath, 'org.apache.kafka.tools.ProducerPerformance',
      '--topic', 'bench', '--num-records', String(records), '--record-size', String(recordSize), '--throughput', '-1',
      '--producer-props', `bootstrap.servers=127.0.0.1:${port}`, 'acks=all', 'compression.type=lz4', 'linger.ms=5', 'batch.size=131072'],
    { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    perf.stdout.on('data', (d: Buffer) => { out += d.toString('utf8') })
    perf.on('error', reject)
    perf.on('close', () => { resolve(out) })
  })
  await new Promise(resolve => setTimeout(resolve, 300))
  jstat.kill()
  const summary = perfOut.trim().split('\n').pop() ?? ''
  const col = (name: string): number => last[header.indexOf(name)] ?? 0
  console.log(`broker heap ${heap.join(' ')}; ProducerPerformance ${records} records of ${recordSize} B, acks=all, lz4, 3 partitions`)
  console.log(`  producer: ${summary}`)
  console.log(`  broker peak heap used: ${peakHeapMb.toFixed(0)} MB; young GCs ${col('YGC')} (${col('YGCT').toFixed(2)} s), full GCs ${col('FGC')}`)
  console.log(`  broker RSS: idle ${rssIdle.toFixed(0)} MB, peak ${peakRss.toFixed(0)} MB`)
} finally {
  await stopLocalKafka({ stateDir, log })
  await rm(stateDir, { recursive: true, force: true })
}
