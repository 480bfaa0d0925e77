// The processor's own CPU per event, with no broker, database or Redis: the batch path
// (decode, profiles in the in-process store, scoring with reasons, alerts, prediction records and
// their Produce request encoding) over 300,000 e-commerce-producer user-events of 100,000 users, in batches
// of 5,000 prepared while the one before is written, as `churnflow process` runs them. SQL rows
// are handed to a sink that only counts them, so the database's work is not in the figure: this
// is the part of a drain's cost that churnflow's code decides. Runs with the processor's heap and
// allocator settings.
//
//   npm run bench:batch -- [--events=300000] [--batch-size=5000] [--rounds=6]
//
// The figure moves with the machine's load; compare two versions in alternating runs.
import './processor-heap.ts'
import { countingPredictionStore } from './counting-sink.ts'
import { parseArgs } from 'node:util'
import { ModelHolder, shippedChurnModelPath } from '../src/churn/index.ts'
import { createProduceRequestV11 } from '../src/kafka/client/record-batch.ts'
import { javaCompatiblePartitioner } from '../src/kafka/client/partitioner.ts'
import { createLogger } from '../src/logging/index.ts'
import { MemoryProfileStore } from '../src/profile/index.ts'
import { alertPolicy, prepareBatch, type BatchContext, type SourceRecord } from '../src/processor/index.ts'
import { defaultRetryPolicy, Dependency, type OutMessage } from '../src/stream/index.ts'
import { RandomUserEvents, UserEventShapes } from '../src/simulator/index.ts'
import { Rng } from '../src/util/rng.ts'

const { values } = parseArgs({ options: { events: { type: 'string', default: '300000' }, 'batch-size': { type: 'string', default: '5000' }, rounds: { type: 'string', default: '6' } } })
const events = Number(values.events)
const batchSize = Number(values['batch-size'])
const rounds = Number(values.rounds)
const PARTITIONS = 6

const silent = createLogger({ level: 'silent', format: 'json' })
const models = new ModelHolder(shippedChurnModelPath, silent)
const partitionOf = (key: Buffer | undefined): number => javaCompatiblePartitioner(undefined, key) % PARTITIONS

// The records as the consumer hands them over: keyed by user, spread over the partitions, in order.
const users = new RandomUserEvents(new Rng(1), { users: 100_000, shape: UserEventShapes.SEED003 })
const records: SourceRecord[] = []
const offsets = new Array<bigint>(PARTITIONS).fill(0n)
let time = Date.now() - 3_600_000
for (let i = 0; i < events; i++) {
  const sim = users.next(time += 10)
  const key = Buffer.from(sim.key)
  const partition = partitionOf(key)
  const offset = offsets[partition] as bigint
  offsets[partition] = offset + 1n
  records.push({ topic: 'user-events', partition, offset, key, value: Buffer.from(JSON.stringify(sim.value)), headers: undefined, timestamp: sim.time })
}

async function round (): Promise<{ us: number, rows: number, bytes: number }> {
  let rows = 0
  let bytes = 0
  const dep = (name: string): Dependency => new Dependency(name, defaultRetryPolicy, silent)
  const ctx: BatchContext = {
    profiles: new MemoryProfileStore(),
    predictions: countingPredictionStore(n => { rows += n }),
    output: {
      // The Produce request the producer would send, encoded; its size is counted so none of it is skipped.
      send: async (messages: readonly OutMessage[]) => {
        bytes += (await createProduceRequestV11(-1, 30_000, messages.map(m => ({ ...m, partition: partitionOf(m.key) })), {})).length
      }
    },
    scorer: { kind: 'model', name: 'model', current: models.current },
    alerts: alertPolicy({ enter: 0.7, hysteresis: 0.05, cooldownHours: 24 }),
    topics: { predictions: 'churn-predictions', alerts: 'churn-alerts', deadLetter: t => `${t}-failed`, streamOf: () => 'user-events' },
    scoredCustomerTypes: new Set(),
    dependencies: { kafka: dep('kafka'), database: dep('db'), profiles: dep('profiles'), scoring: undefined },
    signal: new AbortController().signal
  }
  const overlay = new Map()
  const started = performance.now()
  let writing: Promise<unknown> | undefined
  for (let i = 0; i < records.length; i += batchSize) {
    const prepared = await prepareBatch(records.slice(i, i + batchSize), ctx, overlay)
    if (writing !== undefined) await writing
    writing = prepared.write()
  }
  await writing
  return { us: (performance.now() - started) * 1000 / records.length, rows, bytes }
}

console.log(`processor batch path, ${events} e-commerce-producer user-events (100,000 users, every event scored), BATCH_SIZE ${batchSize}, no services`)
const results: number[] = []
for (let r = 0; r < rounds; r++) {
  const { us, rows, bytes } = await round()
  if (rows !== events) throw new Error(`round ${r + 1}: ${rows} rows for ${events} events`)
  results.push(us)
  console.log(`  round ${r + 1}: ${us.toFixed(2)} µs/event (${Math.round(1e6 / us).toLocaleString('en-US')} events/s on one core), ${(bytes / 1048576).toFixed(0)} MB of Produce requests`)
}
const sorted = [...results].sort((a, b) => a - b)
const median = sorted[sorted.length >> 1] as number
console.log(`  median ${median.toFixed(2)} µs/event, best ${(sorted[0] as number).toFixed(2)}`)
