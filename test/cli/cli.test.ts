import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { binPath, cli, run } from '../helpers/services.ts'

test('--help lists every command with one line each', async () => {
  const result = await cli(['--help'])
  assert.equal(result.code, 0)
  for (const name of ['kafka', 'topics', 'config']) assert.match(result.stdout, new RegExp(`^  ${name} +\\S.+$`, 'm'))
})

test('an unknown command or flag is a usage error with exit code 2', async () => {
  const unknown = await cli(['frobnicate'])
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /unknown command "frobnicate"/)
  const flag = await cli(['config', '--no-such-flag'])
  assert.equal(flag.code, 2)
  assert.match(flag.stderr, /no-such-flag/)
})

test('invalid configuration stops at start: one line per problem, exit 2, no stack trace, no password', async () => {
  const result = await cli(['config'], { KAFKA_BROKER: 'nohost', KAFKA_PARTITIONS: 'many', DATABASE_URL: 'mysql://u:topsecret@h:70000/db' })
  assert.equal(result.code, 2)
  const lines = result.stderr.trimEnd().split('\n')
  assert.deepEqual(lines.map(l => l.split('=')[0]), [
    'churnflow: config error: KAFKA_BROKER', 'churnflow: config error: KAFKA_PARTITIONS', 'churnflow: config error: DATABASE_URL'
  ])
  assert.ok(!/\bat .*\.ts:\d+/.test(result.stderr), 'no stack trace')
  assert.ok(!result.stderr.includes('topsecret'))
  assert.equal(result.stdout, '')
})

test('churnflow config shows values and sources with secrets hidden', async () => {
  const result = await cli(['config', '--broker', 'x:1'], { DB_PASSWORD: 'topsecret', KAFKA_BOOTSTRAP_SERVERS: 'y:2' })
  assert.equal(result.code, 0)
  assert.match(result.stdout, /^KAFKA_BROKER=x:1 {2}\(--broker\)$/m)
  assert.match(result.stdout, /^DB_PASSWORD=\*\*\* {2}\(DB_PASSWORD\)$/m)
  assert.ok(!result.stdout.includes('topsecret'))
})

test('on a Node.js too old for type stripping the CLI says what it needs', async t => {
  const old = '/usr/bin/node'
  if (!existsSync(old)) {
    t.skip('no system Node.js at /usr/bin/node to try')
    return
  }
  const version = (await run(old, ['--version'])).stdout.trim()
  const major = Number(/^v(\d+)/.exec(version)?.[1])
  if (major >= 22) {
    t.skip(`the system Node.js is ${version}, new enough`)
    return
  }
  const result = await run(old, [binPath, '--help'])
  assert.equal(result.code, 1)
  assert.match(result.stderr, /churnflow needs Node\.js 24 LTS \(or 22\.22\+\); this is v\d+/)
})

test('churnflow doctor on a fresh state directory looks at SQLite without leaving a database file behind', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'churnflow-doctor-fresh-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const result = await cli(['doctor'], { CHURNFLOW_STATE_DIR: join(dir, 'state'), KAFKA_BROKER: '127.0.0.1:1' }, 60_000)
  assert.match(result.stdout, /✅ database sqlite \S+churnflow\.db: login works/)
  assert.match(result.stdout, /table churn_predictions does not exist yet/)
  assert.equal(existsSync(join(dir, 'state', 'churnflow.db')), false, result.stdout)
})
