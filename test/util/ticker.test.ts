import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'node:test'
import { startTicker } from '../../src/util/ticker.ts'

test('a ticker stopped while a tick runs starts no other tick', async () => {
  let started = 0
  let finished = 0
  const running = Promise.withResolvers<undefined>()
  const release = Promise.withResolvers<undefined>()
  const done = Promise.withResolvers<undefined>()
  const ticker = startTicker(async () => {
    started++
    running.resolve(undefined)
    await release.promise
    finished++
    done.resolve(undefined)
  }, 5)
  // Stop while the first tick is certainly running, however slow the machine: it waits for us.
  await running.promise
  ticker.stop()
  release.resolve(undefined)
  await done.promise
  assert.equal(finished, 1, 'the running tick finished')
  // Ten intervals more: a tick scheduled after the first would have started by now.
  await sleep(50)
  assert.equal(started, 1, 'no tick after stop()')
})

test('a ticker runs its ticks one after another, and a failing tick rejects `failed`', async () => {
  let running = 0
  let overlapped = false
  let ticks = 0
  const ticker = startTicker(async () => {
    if (running > 0) overlapped = true
    running++
    await sleep(10)
    running--
    if (++ticks === 4) throw new Error('tick 4 failed')
  }, 1)
  await assert.rejects(ticker.failed, /tick 4 failed/)
  ticker.stop()
  assert.equal(overlapped, false)
  assert.equal(ticks, 4)
})
