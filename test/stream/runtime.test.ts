// The stream runtime with a small pipeline and no broker: records come from memory, outputs are
// collected, and every step of the batch loop is observed (prepare, write, flush, commit), in the
// style of platformatic's kafka-hooks processMessage tests.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/index.ts'
import { ChurnflowError, ErrorCodes } from '../../src/errors.ts'
import { createLogger } from '../../src/logging/index.ts'
import {
  deadLetterMessage, StreamRuntime, type BatchIO, type BatchOutcome, type OutMessage, type Pipeline, type Poison, type PreparedBatch,
  type RecordSource, type TakenRecord
} from '../../src/stream/index.ts'

const { config } = loadConfig({ env: { MAX_RETRIES: '1' }, envFile: false })
const log = createLogger({ level: 'silent', format: 'text', destination: process.stderr })

function record (partition: number, offset: number, value: string): TakenRecord {
  return { topic: 'words', partition, offset: BigInt(offset), key: Buffer.from(value), value: Buffer.from(value), headers: undefined, timestamp: 1_700_000_000_000 + offset, leaderEpoch: 0 }
}

/** Records in memory, taken in order, a few per take; commits are recorded. */
class MemorySource implements RecordSource {
  readonly commits: { topic: string, partition: number, next: bigint }[][] = []
  readonly generation = 1
  readonly consumer = undefined
  lastRecordAt = Date.now()
  #records: TakenRecord[]
  readonly #perTake: number

  constructor (records: TakenRecord[], perTake: number) {
    this.#records = [...records]
    this.#perTake = perTake
  }

  get buffered (): number { return this.#records.length }
  async start (): Promise<void> {}
  async take (max: number): Promise<TakenRecord[]> {
    const out = this.#records.splice(0, Math.min(max, this.#perTake))
    if (out.length > 0) this.lastRecordAt = Date.now()
    else await new Promise(resolve => setTimeout(resolve, 5))
    return out
  }

  async commit (last: readonly TakenRecord[]): Promise<void> {
    this.commits.push(last.map(r => ({ topic: r.topic, partition: r.partition, next: r.offset + 1n })))
  }

  async reconnect (): Promise<void> {}
  async close (): Promise<void> {}
  holds (): boolean { return true }
  heldPartitions (): number[] { return [0, 1] }
  assignments (): { topic: string, partitions: number[] }[] { return [{ topic: 'words', partitions: [0, 1] }] }
  touch (): void { this.lastRecordAt = Date.now() }
  async endOffsets (): Promise<Map<string, bigint[]>> { return new Map() }
}

interface Outcome extends BatchOutcome { readonly words: readonly string[] }

/** Counts words; a value that is not a lowercase word is poison. Every step is logged in `steps`. */
class WordsPipeline implements Pipeline<Outcome> {
  readonly name = 'words'
  readonly groupId = 'words-group'
  readonly topics = ['words']
  readonly outputTopics = ['word-counts']
  readonly dependencies = { sink: { name: 'the word sink', ping: async () => undefined } }
  readonly durableOnWrite: boolean
  writesInFlight = 1
  readonly steps: string[] = []
  readonly counts = new Map<string, number>()
  readonly sent: OutMessage[] = []
  /** Each write waits for this before it resolves, when set. */
  gate: Promise<void> | undefined
  failWrite: Error | undefined
  failFlush: Error | undefined

  constructor (durableOnWrite: boolean) {
    this.durableOnWrite = durableOnWrite
  }

  deadLetterTopic (source: string): string { return `${source}-failed` }

  async flush (): Promise<void> {
    this.steps.push('flush')
    if (this.failFlush !== undefined) throw this.failFlush
  }

  async start (): Promise<void> { this.steps.push('start') }

  async prepare (records: readonly TakenRecord[], io: BatchIO): Promise<PreparedBatch<Outcome>> {
    const first = records[0] as TakenRecord
    this.steps.push(`prepare ${first.partition}:${first.offset}`)
    const words: string[] = []
    const poison: Poison[] = []
    for (const r of records) {
      const w = r.value?.toString() ?? ''
      if (/^[a-z]+$/.test(w)) words.push(w)
      else poison.push({ record: r, code: 'NOT_A_WORD', message: `"${w}" is not a word` })
    }
    return {
      write: async () => {
        await this.gate
        if (this.failWrite !== undefined) throw this.failWrite
        for (const w of words) this.counts.set(w, (this.counts.get(w) ?? 0) + 1)
        const messages = [...words.map(w => ({ topic: 'word-counts', key: Buffer.from(w), value: Buffer.from(String(this.counts.get(w))) })), ...poison.map(p => deadLetterMessage(p, this.deadLetterTopic(p.record.topic), 0))]
        await io.dependencies.sink?.run(() => io.output.send(messages), io.signal)
        this.steps.push(`write ${first.partition}:${first.offset}`)
        return { records: records.length, processed: words.length, poison, words, timings: { scoreMs: 0, databaseMs: 0 } }
      }
    }
  }

  written (_records: readonly TakenRecord[], result: Outcome): void {
    this.steps.push(`written ${result.words.length}`)
  }
}

function runtimeOf (pipeline: WordsPipeline, source: MemorySource): StreamRuntime<Outcome> {
  return new StreamRuntime({
    pipeline,
    config,
    log,
    batchSize: 100,
    exitWhenIdleMs: 50,
    flushIntervalMs: 0,
    retry: { maxRetries: 2, baseDelayMs: 1, factor: 1, maxDelayMs: 5 },
    connector: { source, output: { send: async messages => { pipeline.sent.push(...messages) } } }
  })
}

const until = async (what: string, check: () => boolean): Promise<void> => {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 2))
  }
}

test('offsets are committed only after the batch\'s sinks hold it, and the next batch is prepared while one is written', async () => {
  const source = new MemorySource([record(0, 0, 'a'), record(0, 1, 'b'), record(1, 0, 'c'), record(1, 1, 'a')], 2)
  const pipeline = new WordsPipeline(true)
  let open: () => void = () => undefined
  pipeline.gate = new Promise(resolve => { open = resolve })
  const runtime = runtimeOf(pipeline, source)
  const done = runtime.run()
  await until('the second batch to be prepared', () => pipeline.steps.includes('prepare 1:0'))
  assert.deepEqual(source.commits, [], 'nothing is committed while the first batch is being written')
  assert.deepEqual(pipeline.steps, ['start', 'prepare 0:0', 'prepare 1:0'])
  open()
  await done
  assert.deepEqual(pipeline.steps, ['start', 'prepare 0:0', 'prepare 1:0', 'write 0:0', 'written 2', 'write 1:0', 'written 2'])
  assert.deepEqual(source.commits, [[{ topic: 'words', partition: 0, next: 2n }], [{ topic: 'words', partition: 1, next: 2n }]])
  assert.deepEqual([...pipeline.counts], [['a', 2], ['b', 1], ['c', 1]])
  assert.equal(runtime.stats.eventsProcessed, 4)
  assert.equal(runtime.stats.commits, 2)
})

test('a pipeline with two writes in flight has the next batch written beside the previous, each finished and committed in order', async () => {
  const source = new MemorySource([record(0, 0, 'a'), record(0, 1, 'b'), record(1, 0, 'c'), record(1, 1, 'a'), record(0, 2, 'd'), record(0, 3, 'e')], 2)
  const pipeline = new WordsPipeline(true)
  pipeline.writesInFlight = 2
  let open: () => void = () => undefined
  pipeline.gate = new Promise(resolve => { open = resolve })
  const runtime = runtimeOf(pipeline, source)
  const done = runtime.run()
  // With one write in flight the third batch waits for the first write; with two it is prepared.
  await until('the third batch to be prepared', () => pipeline.steps.includes('prepare 0:2'))
  assert.deepEqual(source.commits, [], 'nothing is committed while the first two batches are being written')
  assert.deepEqual(pipeline.steps, ['start', 'prepare 0:0', 'prepare 1:0', 'prepare 0:2'])
  open()
  await done
  assert.deepEqual(pipeline.steps.filter(s => s.startsWith('written')), ['written 2', 'written 2', 'written 2'])
  assert.deepEqual(source.commits, [[{ topic: 'words', partition: 0, next: 2n }], [{ topic: 'words', partition: 1, next: 2n }], [{ topic: 'words', partition: 0, next: 4n }]])
  assert.equal(runtime.stats.eventsProcessed, 6)
})

test('state that is not durable on write is flushed before every commit; a failing flush commits nothing', async () => {
  const source = new MemorySource([record(0, 0, 'a'), record(0, 1, 'b')], 1)
  const pipeline = new WordsPipeline(false)
  await runtimeOf(pipeline, source).run()
  assert.deepEqual(pipeline.steps.filter(s => s === 'flush' || s.startsWith('write')), ['write 0:0', 'flush', 'write 0:1', 'flush'])
  assert.equal(source.commits.length, 2)

  const failing = new WordsPipeline(false)
  failing.failFlush = new ChurnflowError(ErrorCodes.DATABASE_FAILED, 'the state cannot be written', { retriable: false })
  const quiet = new MemorySource([record(0, 0, 'a')], 1)
  await assert.rejects(runtimeOf(failing, quiet).run(), /the state cannot be written/)
  assert.deepEqual(quiet.commits, [], 'nothing is committed when the state is not durable')
})

test('poison records are counted and dead-lettered with their reason; good ones go on', async () => {
  const source = new MemorySource([record(0, 0, 'ok'), record(0, 1, '{"not": "a word"}'), record(0, 2, 'fine')], 10)
  const pipeline = new WordsPipeline(true)
  const runtime = runtimeOf(pipeline, source)
  await runtime.run()
  assert.equal(runtime.stats.deadLettered, 1)
  assert.equal(runtime.stats.eventsProcessed, 2)
  const dead = pipeline.sent.filter(m => m.topic === 'words-failed')
  assert.equal(dead.length, 1)
  assert.equal(dead[0]?.value?.toString(), '{"not": "a word"}')
  const headers = new Map([...(dead[0]?.headers ?? new Map<Buffer, Buffer>())].map(([k, v]) => [k.toString(), v.toString()]))
  assert.equal(headers.get('churnflow-error-code'), 'NOT_A_WORD')
  assert.equal(headers.get('churnflow-source-offset'), '1')
  assert.deepEqual(source.commits, [[{ topic: 'words', partition: 0, next: 3n }]])
})

test('a sink that fails for good stops the runtime with nothing committed; one that fails for a while is waited for', async () => {
  const broken = new WordsPipeline(true)
  broken.failWrite = new ChurnflowError(ErrorCodes.DATABASE_FAILED, 'bad SQL', { retriable: false })
  const source = new MemorySource([record(0, 0, 'a')], 1)
  await assert.rejects(runtimeOf(broken, source).run(), /bad SQL/)
  assert.deepEqual(source.commits, [])

  const flaky = new WordsPipeline(true)
  let failures = 2
  const later = new MemorySource([record(0, 0, 'a')], 1)
  const runtime = new StreamRuntime({
    pipeline: flaky,
    config,
    log,
    batchSize: 10,
    exitWhenIdleMs: 50,
    retry: { maxRetries: 5, baseDelayMs: 1, factor: 1, maxDelayMs: 5 },
    connector: {
      source: later,
      output: {
        send: async messages => {
          if (failures-- > 0) throw new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE, 'the sink is away', { retriable: true })
          flaky.sent.push(...messages)
        }
      }
    }
  })
  await runtime.run()
  assert.equal(runtime.stats.dependencyFailures, 2)
  assert.equal(flaky.sent.length, 1)
  assert.deepEqual(later.commits, [[{ topic: 'words', partition: 0, next: 1n }]])
})
