import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { compatibilityPartitioner, murmur2 as clientMurmur2 } from '@platformatic/kafka'
import { javaCompatiblePartitioner, murmur2 } from '../../src/kafka/client/partitioner.ts'

test('murmur2 gives the Java client\'s hashes (Kafka\'s own test vectors)', () => {
  // From Apache Kafka's UtilsTest.testMurmur2.
  const cases: [string | number[], number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    [[0x61, 0x62, 0x63], 479470107]
  ]
  for (const [input, hash] of cases) {
    const bytes = typeof input === 'string' ? Buffer.from(input) : Buffer.from(input)
    assert.equal(murmur2(bytes), hash, String(input))
  }
})

test('murmur2 and the partitioner agree with the Kafka client\'s on keys of every length', () => {
  for (let length = 0; length <= 70; length++) {
    for (let i = 0; i < 40; i++) {
      const key = randomBytes(length)
      assert.equal(murmur2(key), clientMurmur2(key), `key ${key.toString('hex')}`)
      assert.equal(javaCompatiblePartitioner(undefined, key), compatibilityPartitioner(undefined as never, key), `key ${key.toString('hex')}`)
    }
  }
  assert.equal(javaCompatiblePartitioner(undefined, undefined), 0)
})
