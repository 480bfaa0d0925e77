import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { allocatorEnv, heapFlags } from '../../bin/heap.js'

test('processing commands get bounded heap flags unless the user set their own', () => {
  const flags = ['--max-old-space-size=1024', '--max-semi-space-size=16']
  assert.deepEqual(heapFlags(['process', '--streams', 'user-events'], undefined, []), flags)
  assert.deepEqual(heapFlags(['up'], '', []), flags)
  for (const other of [['api'], ['produce'], ['train'], []]) assert.deepEqual(heapFlags(other, undefined, []), [], other.join(' '))
  assert.deepEqual(heapFlags(['process'], '--max-old-space-size=4096', []), [])
  assert.deepEqual(heapFlags(['process'], '--enable-source-maps --max_semi_space_size=8', []), [])
  assert.deepEqual(heapFlags(['process'], undefined, ['--max-heap-size=2048']), [])
  assert.deepEqual(heapFlags(['process'], '--enable-source-maps', ['--cpu-prof']), flags)
})

test('the fraud pipeline gets a larger young generation and old space, unless the user set their own', () => {
  const fraud = ['--max-old-space-size=4096', '--max-semi-space-size=64']
  assert.deepEqual(heapFlags(['process', '--streams', 'transactions'], undefined, []), fraud)
  assert.deepEqual(heapFlags(['process', '--exit-when-idle', '5', '--streams=transactions'], '', []), fraud)
  assert.deepEqual(heapFlags(['process', '--streams', 'both'], undefined, []), ['--max-old-space-size=1024', '--max-semi-space-size=16'])
  assert.deepEqual(heapFlags(['up', '--streams', 'transactions'], undefined, []), ['--max-old-space-size=1024', '--max-semi-space-size=16'])
  assert.deepEqual(heapFlags(['process', '--streams', 'transactions'], '--max-old-space-size=2048', []), [])
})

test('processing commands get a fixed malloc mmap threshold unless the user set one', () => {
  assert.deepEqual(allocatorEnv(['process'], {}), { MALLOC_MMAP_THRESHOLD_: '131072' })
  assert.deepEqual(allocatorEnv(['up'], { NODE_OPTIONS: '--max-old-space-size=4096' }), { MALLOC_MMAP_THRESHOLD_: '131072' })
  assert.deepEqual(allocatorEnv(['process'], { MALLOC_MMAP_THRESHOLD_: '1048576' }), {})
  for (const other of [['api'], ['produce'], []]) assert.deepEqual(allocatorEnv(other, {}), {}, other.join(' '))
})

test('churnflow process restarts itself with those flags and that setting, keeping Node\'s own', () => {
  // `process --help` starts as a real run does, then prints and exits.
  const probe = "import v8 from 'node:v8'; process.on('exit', () => { process.stdout.write(JSON.stringify({ limit: v8.getHeapStatistics().heap_size_limit, argv: process.execArgv, mmap: process.env.MALLOC_MMAP_THRESHOLD_ })) })"
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' }
  delete env.MALLOC_MMAP_THRESHOLD_
  const run = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(probe)}`, 'bin/churnflow.js', 'process', '--help'], { encoding: 'utf8', env })
  assert.equal(run.status, 0, run.stderr)
  const report = JSON.parse(/\{"limit".*\}$/.exec(run.stdout)?.[0] ?? '{}') as { limit: number, argv: string[], mmap?: string }
  assert.ok(report.argv.includes('--max-old-space-size=1024'), run.stdout.slice(-300))
  assert.ok(report.argv.includes('--max-semi-space-size=16'), run.stdout.slice(-300))
  assert.equal(report.mmap, '131072')
  // The old space's 1024 MB plus the young generation: well under V8's default limit on this machine.
  assert.ok(report.limit > 1024 * 2 ** 20 && report.limit < 1300 * 2 ** 20, String(report.limit))
})

test('churnflow process --streams transactions restarts itself with the fraud pipeline\'s flags', () => {
  const probe = "process.on('exit', () => { process.stdout.write(JSON.stringify({ argv: process.execArgv })) })"
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' }
  const run = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(probe)}`, 'bin/churnflow.js', 'process', '--streams', 'transactions', '--help'], { encoding: 'utf8', env })
  assert.equal(run.status, 0, run.stderr)
  const report = JSON.parse(/\{"argv".*\}$/.exec(run.stdout)?.[0] ?? '{}') as { argv?: string[] }
  assert.ok(report.argv?.includes('--max-old-space-size=4096'), run.stdout.slice(-300))
  assert.ok(report.argv?.includes('--max-semi-space-size=64'), run.stdout.slice(-300))
})
