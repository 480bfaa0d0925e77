import assert from 'node:assert/strict'
import { test } from 'node:test'
import { kOptions } from '@platformatic/kafka'
import { createProducer } from '../../src/kafka/client/index.ts'
import { createLogger } from '../../src/logging/index.ts'
import { FetchModes, KafkaSource, type TakenRecord } from '../../src/stream/source.ts'
import { createTopic, deleteTopics, kafkaConfig, uniqueName } from '../helpers/services.ts'

const silent = createLogger({ level: 'silent', format: 'json' })

/** The fetch settings every fetch of this source's consumer falls back to. */
function fetchOptions (source: KafkaSource): { minBytes: number, maxWaitTime: number } {
  const options = source.consumer?.[kOptions]
  assert.ok(options !== undefined)
  return { minBytes: options.minBytes as number, maxWaitTime: options.maxWaitTime as number }
}

test('the source fetches busy (64 KiB or 10 ms) while records pour in and quiet (1 byte or 200 ms) when they stop, losing and doubling nothing', async t => {
  const config = await kafkaConfig(t)
  if (config === undefined) return
  const topic = uniqueName('source-pace')
  await createTopic(config, topic, 3)
  t.after(() => deleteTopics(config, [topic]))
  const producer = createProducer(config, { suffix: 'test' })
  const count = 6000
  try {
    for (let i = 0; i < count; i += 1000) {
      await producer.send({ messages: Array.from({ length: 1000 }, (_, j) => ({ topic, key: Buffer.from(`k${(i + j) % 97}`), value: Buffer.from(`{"n":${i + j}}`) })) })
    }
  } finally {
    await producer.close()
  }

  const source = new KafkaSource({ connection: config, groupId: uniqueName('source-pace'), topics: [topic], maxBuffered: 10_000, log: silent })
  await source.start()
  t.after(() => source.close())
  assert.equal(source.busy, false)
  assert.deepEqual(fetchOptions(source), FetchModes.QUIET)

  const signal = new AbortController().signal
  const taken: TakenRecord[] = []
  let sawBusy = false
  const deadline = Date.now() + 30_000
  // The backlog comes in far above 2,000 records a second: the next rate window turns fetches busy.
  while ((taken.length < count || !sawBusy) && Date.now() < deadline) {
    taken.push(...await source.take(500, 200, 0, signal))
    if (source.busy) {
      sawBusy = true
      assert.deepEqual(fetchOptions(source), FetchModes.BUSY)
    }
  }
  assert.ok(sawBusy, 'fetches never went busy while the backlog came in')
  assert.equal(taken.length, count)
  assert.equal(new Set(taken.map(r => `${r.partition}:${r.offset}`)).size, count, 'a record was taken twice')

  // Nothing more comes: a window with no records turns fetches quiet again.
  while (source.busy && Date.now() < deadline) assert.deepEqual(await source.take(500, 200, 0, signal), [])
  assert.equal(source.busy, false)
  assert.deepEqual(fetchOptions(source), FetchModes.QUIET)
})
