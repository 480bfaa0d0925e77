// What the silence sweeps cost with 1,000,000 customers in a processor's state, with no broker
// or database (sinks that count): the batch path of bench:batch with the sweeps on and off.
//
//   1. build: 1,000,000 customers, one event each over one day of event time, in batches of 5,000
//      (6 partitions); then the due index of every partition built from the state, as a
//      processor does when partitions are assigned to it, with its memory;
//   2. steady: 300,000 more events of 100,000 of those customers, each round the next hour of
//      event time, sweeps on and off in alternating rounds: the cost per event and its ratio. With
//      the sweeps on, the round also scores the customers whose first day of silence ends in it
//      (about a 24th of the million): that is the sweeps' real work, beside the index's;
//   3. idle: a sweep with nothing due, over the million indexed customers;
//   4. due: a day more of event time, every step it makes due scored: checks per second.
//
//   npm run bench:silence -- [--customers=1000000] [--events=300000] [--rounds=4]
import './processor-heap.ts'
import { countingPredictionStore } from './counting-sink.ts'
import { parseArgs } from 'node:util'
import { ModelHolder, shippedChurnModelPath } from '../src/churn/index.ts'
import { createLogger } from '../src/logging/index.ts'
import { MemoryProfileStore } from '../src/profile/index.ts'
import { alertPolicy, DueIndex, nextDue, prepareBatch, silencePolicy, type BatchContext, type ProfileOverlay, type SourceRecord } from '../src/processor/index.ts'
import { defaultRetryPolicy, Dependency } from '../src/stream/index.ts'

const { values } = parseArgs({ options: { customers: { type: 'string', default: '1000000' }, events: { type: 'string', default: '300000' }, rounds: { type: 'string', default: '4' } } })
const CUSTOMERS = Number(values.customers)
const EVENTS = Number(values.events)
const ROUNDS = Number(values.rounds)
const PARTITIONS = 6
const BATCH = 5000
const DAY = 86_400_000
const START = Date.UTC(2026, 0, 1)
const policy = silencePolicy({ stepsMs: [1, 2, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90].map(d => d * DAY), liveWindowHours: 24 })

const silent = createLogger({ level: 'silent', format: 'json' })
const models = new ModelHolder(shippedChurnModelPath, silent)
const types = ['product_view', 'add_to_cart', 'checkout', 'bounce']
const count = (n: number): string => Math.round(n).toLocaleString('en-US')
const mb = (bytes: number): string => `${(bytes / 1048576).toFixed(0)} MB`

const offsets = new Array<bigint>(PARTITIONS).fill(0n)
function record (customer: number, time: number, type: string): SourceRecord {
  const id = `C${customer}`
  const partition = customer % PARTITIONS
  const offset = offsets[partition] as bigint
  offsets[partition] = offset + 1n
  return { topic: 'user-events', partition, offset, key: Buffer.from(id), value: Buffer.from(`{"user_id":"${id}","event_type":"${type}","timestamp":"${new Date(time).toISOString()}","metadata":{"session_length":4}}`), headers: undefined, timestamp: time }
}

let rows = 0
const store = new MemoryProfileStore()
const indexes = new Map<number, DueIndex>()
for (let p = 0; p < PARTITIONS; p++) indexes.set(p, new DueIndex())

function context (sweeps: boolean): BatchContext {
  const dep = (name: string): Dependency => new Dependency(name, defaultRetryPolicy, silent)
  return {
    profiles: store,
    predictions: countingPredictionStore(n => { rows += n }),
    output: { send: async () => undefined },
    scorer: { kind: 'model', name: 'model', current: models.current },
    alerts: alertPolicy({ enter: 0.7, hysteresis: 0.05, cooldownHours: 24 }),
    topics: { predictions: 'churn-predictions', alerts: 'churn-alerts', deadLetter: t => `${t}-failed`, streamOf: () => 'user-events' },
    scoredCustomerTypes: new Set(),
    dependencies: { kafka: dep('kafka'), database: dep('db'), profiles: dep('profiles'), scoring: undefined },
    signal: new AbortController().signal,
    ...(sweeps ? { silence: { policy, index: (p: number) => indexes.get(p), partitions: () => indexes.keys() } } : {})
  }
}

/** Runs the records in batches, each prepared while the one before is written; resolves to the checks scored and the ms taken. */
async function drain (records: readonly SourceRecord[], ctx: BatchContext): Promise<{ ms: number, checks: number }> {
  const overlay: ProfileOverlay = new Map()
  const started = performance.now()
  let checks = 0
  let writing: Promise<{ checks: readonly unknown[] }> | undefined
  for (let i = 0; i < records.length; i += BATCH) {
    const prepared = await prepareBatch(records.slice(i, i + BATCH), ctx, overlay)
    if (writing !== undefined) checks += (await writing).checks.length
    writing = prepared.write()
  }
  if (writing !== undefined) checks += (await writing).checks.length
  return { ms: performance.now() - started, checks }
}

// 1. A million customers, one event each, over a day of event time, in time order.
const history: SourceRecord[] = []
for (let i = 0; i < CUSTOMERS; i++) history.push(record(i, START + Math.floor((i / CUSTOMERS) * DAY), types[i % 4] as string))
const built = await drain(history, context(false))
history.length = 0
process.stdout.write(`1. build: ${count(CUSTOMERS)} customers, one event each over a day: ${(built.ms / 1000).toFixed(1)} s\n`)
global.gc?.()
const heapBefore = process.memoryUsage().heapUsed
let t = performance.now()
for (let p = 0; p < PARTITIONS; p++) {
  const index = indexes.get(p) as DueIndex
  let watermark = 0
  store.eachSilence((id, lastSeen, steps) => {
    if (Number(id.slice(1)) % PARTITIONS !== p) return
    index.set(id, nextDue(policy, lastSeen, steps))
    if (lastSeen > watermark) watermark = lastSeen
  })
  index.watermark = watermark
}
const buildMs = performance.now() - t
global.gc?.()
let indexed = 0
let entries = 0
for (const index of indexes.values()) { indexed += index.size; entries += index.entries }
process.stdout.write(`   the ${PARTITIONS} due indexes built from the state (as on assignment): ${(buildMs / 1000).toFixed(2)} s for ${count(indexed)} customers (${count(entries)} heap entries), ${global.gc === undefined ? '' : `${mb(process.memoryUsage().heapUsed - heapBefore)} of heap, `}RSS ${mb(process.memoryUsage().rss)}\n`)

// 2. Steady: events of 100,000 customers, each round the next hour, sweeps on and off alternating.
const end = START + DAY
function steady (round: number): SourceRecord[] {
  const out: SourceRecord[] = []
  const from = end + round * 3_600_000
  for (let i = 0; i < EVENTS; i++) out.push(record((i * 7919 + round) % 100_000 * 10, from + Math.floor((i / EVENTS) * 3_600_000), types[i % 4] as string))
  return out
}
const on: number[] = []
const off: number[] = []
let steadyChecks = 0
for (let r = 0; r < ROUNDS; r++) {
  const sweeps = r % 2 === 0
  const result = await drain(steady(r), context(sweeps))
  ;(sweeps ? on : off).push((result.ms * 1000) / EVENTS)
  if (sweeps) steadyChecks += result.checks
  process.stdout.write(`2. steady round ${r + 1}/${ROUNDS} (sweeps ${sweeps ? 'on' : 'off'}): ${((result.ms * 1000) / EVENTS).toFixed(2)} µs per event, ${count(result.checks)} checks\n`)
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
process.stdout.write(`   per event: ${mean(on).toFixed(2)} µs with the sweeps, ${mean(off).toFixed(2)} µs without: ratio ${(mean(on) / mean(off)).toFixed(3)} (${count(steadyChecks)} checks scored in the rounds with them)\n`)

// 3. Idle, nothing due: a sweep over the million indexed customers takes only what is due.
const idleCtx = context(true)
await (await prepareBatch([], idleCtx, new Map(), { idleAt: 0 })).write()
t = performance.now()
const idleRuns = 200
let idleChecks = 0
for (let i = 0; i < idleRuns; i++) idleChecks += (await (await prepareBatch([], idleCtx, new Map(), { idleAt: 0 })).write()).checks.length
process.stdout.write(`3. idle sweep with ${idleChecks === 0 ? 'nothing' : count(idleChecks)} due, ${count(indexed)} customers indexed: ${(((performance.now() - t) * 1000) / idleRuns).toFixed(0)} µs per sweep\n`)

// 4. A day passes: every customer whose step it makes due is scored, SWEEP_LIMIT customers a batch.
for (const index of indexes.values()) index.watermark += DAY
t = performance.now()
let dueChecks = 0
let batches = 0
for (;;) {
  const done = await (await prepareBatch([], idleCtx, new Map(), { idleAt: 0 })).write()
  if (done.checks.length === 0) break
  dueChecks += done.checks.length
  batches++
}
const ms = performance.now() - t
process.stdout.write(`4. one more day of event time: ${count(dueChecks)} checks due, scored and written in ${batches} batches, ${(ms / 1000).toFixed(1)} s (${count(dueChecks / (ms / 1000))} checks/s); RSS ${mb(process.memoryUsage().rss)}\n`)
process.stdout.write(`   rows written in all: ${count(rows)}\n`)
