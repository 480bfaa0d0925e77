import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { heapFlags } from '../../bin/heap.js'

test('processing commands get bounded heap flags unless the user set their own', () => {
  const flags = ['--max-old-space-size=1024', '--max-semi-space-size=32']
  assert.deepEqual(heapFlags(['process', '--streams', 'user-events'], undefined, []), flags)
  assert.deepEqual(heapFlags(['up'], '', []), flags)
  for (const other of [['api'], ['produce'], ['train'], []]) assert.deepEqual(heapFlags(other, undefined, []), [], other.join(' '))
  assert.deepEqual(heapFlags(['process'], '--max-old-space-size=4096', []), [])
  assert.deepEqual(heapFlags(['process'], '--enable-source-maps --max_semi_space_size=8', []), [])
  assert.deepEqual(heapFlags(['process'], undefined, ['--max-heap-size=2048']), [])
  assert.deepEqual(heapFlags(['process'], '--enable-source-maps', ['--cpu-prof']), flags)
})

test('churnflow process restarts itself with those flags, keeping Node\'s own', () => {
  // `process --help` starts as a real run does, then prints and exits.
  const probe = "import v8 from 'node:v8'; process.on('exit', () => { process.stdout.write(JSON.stringify({ limit: v8.getHeapStatistics().heap_size_limit, argv: process.execArgv })) })"
  const run = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(probe)}`, 'bin/churnflow.js', 'process', '--help'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } })
  assert.equal(run.status, 0, run.stderr)
  const report = JSON.parse(/\{"limit".*\}$/.exec(run.stdout)?.[0] ?? '{}') as { limit: number, argv: string[] }
  assert.ok(report.argv.includes('--max-old-space-size=1024'), run.stdout.slice(-300))
  // The old space's 1024 MB plus the young generation: well under V8's default limit on this machine.
  assert.ok(report.limit > 1024 * 2 ** 20 && report.limit < 1300 * 2 ** 20, String(report.limit))
})
