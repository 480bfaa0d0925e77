import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createRecordsBatch, produceV11, type MessageRecord } from '@platformatic/kafka'
import { createProduceRequestV11, encodeRecordBatch, encodeRecordBatchAsync, type EncodableRecord, type RecordBatchOptions } from '../../src/kafka/client/record-batch.ts'
import { Rng } from '../../src/util/rng.ts'

// The client's own encoder is the reference: churnflow's must write the same bytes for anything.

function bytes (rng: Rng, max: number): Buffer {
  const b = Buffer.allocUnsafe(Math.floor(rng.next() * (max + 1)))
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rng.next() * 256)
  return b
}

function maybeBytes (rng: Rng, max: number): Buffer | undefined | null {
  const p = rng.next()
  if (p < 0.1) return undefined
  if (p < 0.15) return null
  if (p < 0.25) return Buffer.alloc(0)
  return bytes(rng, max)
}

const BASE = BigInt(Date.UTC(2026, 11, 1))

/** Timestamps within ±12 days of BASE: the client's encoder is right only for deltas under 2^31 ms (below). */
function randomRecords (rng: Rng, n: number, topics: readonly string[], partitions: number): EncodableRecord[] {
  const base = BASE
  const out: EncodableRecord[] = []
  for (let i = 0; i < n; i++) {
    let headers: Map<Buffer, Buffer> | undefined
    if (rng.next() < 0.4) {
      headers = new Map()
      const count = Math.floor(rng.next() * 4)
      for (let h = 0; h < count; h++) headers.set(bytes(rng, 20), bytes(rng, 40))
    }
    const t = rng.next()
    const timestamp = t < 0.1 ? undefined : base + BigInt(Math.floor((rng.next() - 0.3) * 1e9))
    const record: EncodableRecord = { topic: topics[Math.floor(rng.next() * topics.length)] as string, key: maybeBytes(rng, 40), value: maybeBytes(rng, rng.next() < 0.05 ? 20_000 : 600), headers }
    if (timestamp !== undefined) record.timestamp = timestamp
    if (rng.next() < 0.95) record.partition = Math.floor(rng.next() * partitions)
    out.push(record)
  }
  return out
}

const copy = (records: readonly EncodableRecord[]): EncodableRecord[] => records.map(r => ({ ...r }))

function sequences (values: Record<string, number>): NonNullable<RecordBatchOptions['sequences']> {
  return { getWithDefault: (key, fallback) => values[key] ?? fallback }
}

test('a record batch is byte for byte what the Kafka client writes', () => {
  const rng = new Rng(11)
  for (let round = 0; round < 300; round++) {
    // Without a timestamp a record gets the clock's: the two encoders may read it a millisecond apart.
    const records = randomRecords(rng, 1 + Math.floor(rng.next() * 200), ['t'], 1).map(r => ({ ...r, partition: 0, timestamp: r.timestamp ?? BASE }))
    const options: RecordBatchOptions = round % 3 === 0
      ? {}
      : { producerId: BigInt(Math.floor(rng.next() * 1e12)), producerEpoch: Math.floor(rng.next() * 30000), sequences: sequences({ 't:0': Math.floor(rng.next() * 2 ** 31) }), ...(round % 3 === 2 ? { transactionalId: 'tx' } : {}) }
    const reference = createRecordsBatch(copy(records) as MessageRecord[], options as never).buffer
    assert.deepEqual(encodeRecordBatch(copy(records), options), reference, `round ${round}`)
  }
})

/** Reads a record batch as the protocol defines it: each record's timestamp, offset delta, key and value. */
function decodeBatch (batch: Buffer): { timestamp: bigint, offsetDelta: bigint, key: Buffer | null, value: Buffer | null }[] {
  let o = 61
  const varlong = (): bigint => {
    let u = 0n
    for (let shift = 0n; ; shift += 7n) {
      const b = batch[o++] as number
      u |= BigInt(b & 127) << shift
      if (b < 128) break
    }
    return (u >> 1n) ^ -(u & 1n)
  }
  const bytes = (): Buffer | null => {
    const n = Number(varlong())
    if (n < 0) return null
    o += n
    return batch.subarray(o - n, o)
  }
  const first = batch.readBigInt64BE(27)
  const out = []
  for (let i = batch.readInt32BE(57); i > 0; i--) {
    varlong()
    o++
    const timestamp = first + varlong()
    const offsetDelta = varlong()
    const key = bytes()
    const value = bytes()
    for (let h = Number(varlong()); h > 0; h--) { bytes(); bytes() }
    out.push({ timestamp, offsetDelta, key, value })
  }
  assert.equal(o, batch.length)
  return out
}

test('timestamps near and past 2^31 ms apart, and before the first, are encoded as the protocol says', () => {
  const cases: bigint[][] = [
    [BASE, BASE + 2n ** 31n - 1n, BASE - 2n ** 31n + 1n, BASE - 1n],
    [0n, 2n ** 31n, 2n ** 40n, 2n ** 55n, 2n ** 62n],
    [2n ** 60n, 0n, -(2n ** 40n)],
    [BASE, BASE + 2n ** 50n, BASE - 2n ** 50n, BASE + 2n ** 50n + 1n, BASE - 2n ** 50n - 1n]
  ]
  for (const stamps of cases) {
    const records: EncodableRecord[] = stamps.map((timestamp, i) => ({ topic: 't', partition: 0, key: Buffer.from(`k${i}`), value: Buffer.from('v'), timestamp }))
    const batch = encodeRecordBatch(copy(records))
    assert.deepEqual(decodeBatch(batch).map(r => r.timestamp), stamps)
    assert.equal(batch.readBigInt64BE(35), stamps.reduce((a, b) => b > a ? b : a), 'max timestamp')
    // The client's own encoder writes the same below 2^31 ms; past it, its zigzag takes the sign from bit 31.
    if (stamps.every(t => t - (stamps[0] as bigint) < 2n ** 31n && (stamps[0] as bigint) - t < 2n ** 31n)) {
      assert.deepEqual(batch, createRecordsBatch(copy(records) as MessageRecord[]).buffer)
    }
  }
})

test('a record without a timestamp gets the clock\'s', () => {
  const records: EncodableRecord[] = [{ topic: 't', partition: 0, value: Buffer.from('a') }, { topic: 't', partition: 0, value: Buffer.from('b'), timestamp: 5n }]
  const before = BigInt(Date.now())
  const batch = encodeRecordBatch(records)
  const decoded = decodeBatch(batch)
  assert.ok((decoded[0]?.timestamp as bigint) >= before && (decoded[0]?.timestamp as bigint) <= BigInt(Date.now()))
  assert.equal(records[0]?.timestamp, decoded[0]?.timestamp)
  assert.equal(decoded[1]?.timestamp, 5n)
  // A timestamp given as a number is taken as the client takes it.
  const numeric: EncodableRecord[] = [{ topic: 't', partition: 0, value: Buffer.from('a'), timestamp: 1_700_000_000_000 }, { topic: 't', partition: 0, value: Buffer.from('b'), timestamp: 1_700_000_000_001 }]
  assert.deepEqual(decodeBatch(encodeRecordBatch(numeric)).map(r => r.timestamp), [1_700_000_000_000n, 1_700_000_000_001n])
  assert.equal(numeric[1]?.timestamp, 1_700_000_000_001n)
  assert.deepEqual(decoded.map(r => [r.offsetDelta, r.key, r.value?.toString()]), [[0n, null, 'a'], [1n, null, 'b']])
})

test('a Produce v11 request over several topics and partitions matches the client\'s', async () => {
  const rng = new Rng(5)
  for (let round = 0; round < 50; round++) {
    // A topic whose name is a number sorts first in the client's grouping: the order must match.
    const records = randomRecords(rng, 1 + Math.floor(rng.next() * 400), ['churn-predictions', 'churn-alerts', '42', 'user-events-failed'], 6)
      .map(r => ({ ...r, timestamp: r.timestamp ?? BASE }))
    const options: RecordBatchOptions = { producerId: 7n, producerEpoch: 1, sequences: sequences({ 'churn-predictions:3': 100, '42:0': 5 }) }
    const acks = [-1, 1, 0][round % 3] as number
    const reference = produceV11.createRequest(acks, 30_000, copy(records) as MessageRecord[], options as never)
    const ours = await createProduceRequestV11(acks, 30_000, copy(records), options)
    assert.deepEqual(ours.buffer, reference.buffer, `round ${round}`)
    assert.equal(ours.context.noResponse, reference.context.noResponse)
  }
})

test('compressed batches are the client\'s bytes too, with each of its algorithms', async () => {
  const rng = new Rng(8)
  for (const compression of ['gzip', 'snappy', 'lz4', 'zstd']) {
    for (let round = 0; round < 5; round++) {
      const records = randomRecords(rng, 1 + Math.floor(rng.next() * 300), ['t'], 1).map(r => ({ ...r, partition: 0, timestamp: r.timestamp ?? BASE }))
      const options: RecordBatchOptions = { compression, producerId: 3n, producerEpoch: 2, sequences: sequences({ 't:0': round }) }
      const reference = createRecordsBatch(copy(records) as MessageRecord[], options as never).buffer
      assert.deepEqual(encodeRecordBatch(copy(records), options), reference, `${compression} round ${round}`)
      assert.deepEqual(await encodeRecordBatchAsync(copy(records), options), reference, `${compression} async round ${round}`)
    }
    const records = randomRecords(rng, 50, ['a', 'b'], 3).map(r => ({ ...r, timestamp: r.timestamp ?? BASE }))
    const request = createProduceRequestV11(-1, 1000, copy(records), { compression })
    assert.equal(request instanceof Promise, compression === 'gzip', 'gzip compresses off the event loop')
    assert.deepEqual((await request).buffer, (await produceV11.createRequestAsync(-1, 1000, copy(records) as MessageRecord[], { compression } as never)).buffer)
  }
  assert.throws(() => encodeRecordBatch([{ topic: 't', value: Buffer.from('x') }], { compression: 'brotli' }), /Unsupported compression algorithm brotli/)
})

test('an empty batch is refused', () => {
  assert.throws(() => encodeRecordBatch([]), /no records/)
})
