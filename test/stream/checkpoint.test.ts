import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { ErrorCodes } from '../../src/errors.ts'
import { readCheckpoint, StateDirLock, writeCheckpoint } from '../../src/stream/index.ts'

function dir (t: TestContext): string {
  const d = mkdtempSync(join(tmpdir(), 'churnflow-checkpoint-'))
  t.after(() => { rmSync(d, { recursive: true, force: true }) })
  return d
}

test('a checkpoint reads back what was written; none is undefined; a damaged one is refused', async t => {
  const path = join(dir(t), 'sub', '3.checkpoint')
  assert.equal(await readCheckpoint(path), undefined)
  const entries: [string, Buffer][] = Array.from({ length: 500 }, (_, i) => [`CUST-${i}-ü`, Buffer.alloc(i % 37, i)])
  await writeCheckpoint(path, { next: 123_456_789_012n, entries })
  const back = await readCheckpoint(path)
  assert.equal(back?.next, 123_456_789_012n)
  assert.deepEqual(back?.entries.map(([k, v]) => [k, Buffer.from(v)]), entries)
  const bytes = readFileSync(path)
  for (const damaged of [bytes.subarray(0, bytes.length - 10), Buffer.concat([bytes.subarray(0, 40), Buffer.from([bytes[40]! ^ 1]), bytes.subarray(41)]), Buffer.from('not a checkpoint at all')]) {
    writeFileSync(path, damaged)
    await assert.rejects(readCheckpoint(path), { code: ErrorCodes.STATE_RECORD_INVALID })
  }
})

test('a state directory is held by one process: a second is refused while it lives, a dead one\'s lock is taken over', async t => {
  const d = dir(t)
  const lock = await StateDirLock.acquire(d)
  // Another live process holds it: this one (its pid in the file) is told who.
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' })
  t.after(() => child.kill('SIGKILL'))
  lock.release()
  writeFileSync(join(d, 'LOCK'), `${child.pid}\n`)
  await assert.rejects(StateDirLock.acquire(d), (error: Error & { code?: string }) => error.code === ErrorCodes.STATE_DIR_LOCKED && error.message.includes(`pid ${child.pid}`))
  child.kill('SIGKILL')
  await new Promise(resolve => child.once('exit', resolve))
  const taken = await StateDirLock.acquire(d)
  assert.equal(readFileSync(join(d, 'LOCK'), 'utf8').trim(), String(process.pid))
  taken.release()
})
