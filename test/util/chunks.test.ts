import assert from 'node:assert/strict'
import { test } from 'node:test'
import { requestChunks } from '../../src/kafka/client/index.ts'
import { chunkBySize } from '../../src/util/chunks.ts'

test('chunkBySize keeps the order, fills each run up to its bytes or items, and sends an oversized item alone', () => {
  const sizes = [3, 3, 3, 10, 1, 1, 1, 1, 1]
  assert.deepEqual(chunkBySize(sizes, s => s, 6), [[3, 3], [3], [10], [1, 1, 1, 1, 1]])
  assert.deepEqual(chunkBySize(sizes, s => s, 6, 2), [[3, 3], [3], [10], [1, 1], [1, 1], [1]])
  assert.deepEqual(chunkBySize([], s => s, 6), [])
})

test('requestChunks: no request over its bytes counted on keys and values, nothing lost or reordered', () => {
  const records = Array.from({ length: 1000 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.alloc(i % 7 === 0 ? 3000 : 100) }))
  const chunks = requestChunks(records, 8192)
  assert.deepEqual(chunks.flat(), records)
  for (const c of chunks) assert.ok(c.reduce((n, r) => n + r.key.length + r.value.length + 16, 0) <= 8192)
  assert.ok(chunks.length > 1)
})
