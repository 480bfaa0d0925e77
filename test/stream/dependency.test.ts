import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createLogger } from '../../src/logging/index.ts'
import { Dependency, isRetriable, refusedForGood } from '../../src/stream/index.ts'

const silent = createLogger({ level: 'silent', format: 'json' })

/** Errors shaped as the Kafka client makes them: an aggregate (PLT_KFK_MULTIPLE) of per-request errors. */
const network = Object.assign(new Error('connection reset'), { code: 'PLT_KFK_NETWORK', canRetry: true })
const refused = Object.assign(new Error('MESSAGE_TOO_LARGE'), { code: 'PLT_KFK_RESPONSE', canRetry: false })
const aggregate = (...errors: Error[]): Error => Object.assign(new Error('Multiple errors'), { code: 'PLT_KFK_MULTIPLE', errors })

test('an aggregate of outages is retried; one with a refusal inside is not, however deep', () => {
  assert.equal(isRetriable(aggregate(network, network)), true)
  assert.equal(isRetriable(aggregate(network, refused)), false)
  assert.equal(isRetriable(aggregate(aggregate(refused))), false)
  assert.equal(refusedForGood(Object.assign(new Error('wrapped'), { cause: aggregate(refused) })), true)
  assert.equal(isRetriable(Object.assign(new Error('ECONNREFUSED'), { code: 'ECONNREFUSED' })), true)
  assert.equal(isRetriable(new Error('a bug')), false)
})

test('a dependency retries an outage until it passes, and gives a refusal back at once', async () => {
  const kafka = new Dependency('kafka', { maxRetries: 3, baseDelayMs: 1, factor: 1, maxDelayMs: 2 }, silent)
  let calls = 0
  const signal = new AbortController().signal
  assert.equal(await kafka.run(async () => { if (++calls < 3) throw aggregate(network); return 'sent' }, signal), 'sent')
  assert.equal(calls, 3)
  calls = 0
  await assert.rejects(kafka.run(async () => { calls++; throw aggregate(network, refused) }, signal), /Multiple errors/)
  assert.equal(calls, 1)
})
