import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createServer, type Server, type Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import { command, RespBuffer, RespConnection, RespError, RespTimeout } from '../../src/profile/stores/resp.ts'
import { redisStore } from '../helpers/services.ts'
import { emptyProfile, RedisProfileStore, type ProfileRecord } from '../../src/profile/index.ts'
import { ErrorCodes, isChurnflowError } from '../../src/errors.ts'
import { isRetriable } from '../../src/stream/index.ts'

/** Listens on a free port; the test's end destroys its connections and closes it. */
async function listen (t: TestContext, server: Server): Promise<number> {
  const sockets = new Set<Socket>()
  server.on('connection', s => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>(resolve => {
    for (const s of sockets) s.destroy()
    server.close(() => { resolve() })
  }))
  return (server.address() as { port: number }).port
}

/**
 * A server that answers each command (counted by its `*` lines) with the next canned reply,
 * written `split` bytes at a time: replies cut at every possible place must parse the same.
 */
async function cannedServer (t: TestContext, replies: string[], split: number, seen: string[] = []): Promise<number> {
  const server: Server = createServer((socket: Socket) => {
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8')
      seen.push(text)
      const commands = text.split('\r\n').filter(l => l.startsWith('*')).length
      const out = Buffer.from(replies.splice(0, commands).join(''))
      let at = 0
      const next = (): void => {
        if (at >= out.length || socket.destroyed) return
        socket.write(out.subarray(at, at + split))
        at += split
        setImmediate(next)
      }
      next()
    })
  })
  return listen(t, server)
}

const replies = [
  '$5\r\nhello\r\n',
  '$-1\r\n',
  ':-42\r\n',
  ':1234567\r\n',
  '+OK\r\n',
  '-NOSCRIPT No matching script\r\n',
  '*0\r\n',
  '*4\r\n$1\r\na\r\n$3\r\n1.5\r\n$8\r\nü日本\r\n$0\r\n\r\n',
  '*2\r\n*1\r\n:1\r\n$-1\r\n',
  '*-1\r\n'
]
const expected = ['hello', null, -42, 1234567, 'OK', new RespError('NOSCRIPT No matching script'), [], ['a', '1.5', 'ü日本', ''], [[1], null], null]

for (const split of [1, 2, 3, 7, 1000]) {
  test(`RESP replies cut every ${split} bytes read back whole and in order`, async t => {
    const port = await cannedServer(t, [...replies], split)
    const c = new RespConnection({ host: '127.0.0.1', port })
    t.after(() => { c.close() })
    await c.connect(1000)
    const payload = replies.map((_r, i) => command(['ECHO', String(i)])).join('')
    const got = await c.request(payload, replies.length, 5000)
    assert.equal(got.length, expected.length)
    got.forEach((g, i) => {
      const want = expected[i]
      if (want instanceof RespError) {
        assert.ok(g instanceof RespError, `reply ${i}: ${String(g)}`)
        assert.equal(g.message, want.message)
      } else {
        assert.deepEqual(g, want, `reply ${i}`)
      }
    })
  })
}

test('RESP: a request past its time rejects with RespTimeout, and its late replies do not answer the next request', async t => {
  // The first command's reply comes only with the second command's: the first times out meanwhile.
  const server = createServer(socket => {
    let n = 0
    socket.on('data', () => {
      n++
      if (n === 2) socket.write('$4\r\nlate\r\n$5\r\nfresh\r\n')
    })
  })
  const c = new RespConnection({ host: '127.0.0.1', port: await listen(t, server) })
  t.after(() => { c.close() })
  await c.connect(1000)
  await assert.rejects(c.request(command(['GET', 'a']), 1, 100), RespTimeout)
  assert.deepEqual(await c.request(command(['GET', 'b']), 1, 2000), ['fresh'])
})

test('RESP: a lost connection fails the requests in flight; connect opens a new one', async t => {
  const sockets: Socket[] = []
  const server = createServer(socket => { sockets.push(socket) })
  const c = new RespConnection({ host: '127.0.0.1', port: await listen(t, server) })
  t.after(() => { c.close() })
  await c.connect(1000)
  const pending = c.request(command(['PING']), 1, 5000)
  await new Promise(resolve => setTimeout(resolve, 50))
  for (const s of sockets) s.destroy()
  await assert.rejects(pending)
  assert.equal(c.connected, false)
  await c.connect(1000)
  assert.equal(c.connected, true)
})

test('RESP: with a password, AUTH goes first; a refused password fails connect', async t => {
  const seen: string[] = []
  const port = await cannedServer(t, ['-WRONGPASS invalid username-password pair\r\n'], 1000, seen)
  const c = new RespConnection({ host: '127.0.0.1', port, password: 'sécret' })
  t.after(() => { c.close() })
  await assert.rejects(c.connect(1000), (error: unknown) => error instanceof RespError && /WRONGPASS/.test(error.message))
  assert.equal(seen[0], '*2\r\n$4\r\nAUTH\r\n$7\r\nsécret\r\n')
  assert.equal(c.connected, false)
})

test('RESP: a refused connection rejects connect with the socket error', async () => {
  const c = new RespConnection({ host: '127.0.0.1', port: 1 })
  await assert.rejects(c.connect(1000), { code: 'ECONNREFUSED' })
})

test('RespBuffer: many commands, multi-byte text among them, come out as their UTF-8 bytes in order', () => {
  const parts = Array.from({ length: 3000 }, (_, i) => command(['SET', `k-${i}-${i % 7 === 0 ? 'ü日本😀' : 'x'}`, String(i)]))
  const b = new RespBuffer(16)
  for (const p of parts) b.add(p)
  assert.deepEqual(b.bytes, Buffer.from(parts.join('')))
})

test('redis: customer ids and topic names beyond ASCII are stored and read back under their own keys', async t => {
  const store = await redisStore(t)
  if (store === undefined) return
  const ids = ['CUST-ü', 'CUST-日本語', 'CUST-😀-emoji', 'CUST-plain']
  const records = new Map<string, ProfileRecord>(ids.map((id, i) => {
    const profile = emptyProfile()
    profile.orders = i + 1
    return [id, { profile, offsets: { [`tópico-${i}:0`]: 10 + i }, alert: { high: i % 2 === 0, lastAt: i }, version: 0 }]
  }))
  assert.deepEqual(await store.putMany(records), [])
  const read = await store.getMany([...ids, 'CUST-absent'])
  assert.equal(read.size, ids.length)
  ids.forEach((id, i) => {
    assert.equal(read.get(id)?.profile.orders, i + 1, id)
    assert.deepEqual(read.get(id)?.offsets, { [`tópico-${i}:0`]: 10 + i })
    assert.equal(read.get(id)?.version, 1)
  })
  assert.equal((await store.get('CUST-日本語'))?.orders, 2)
})

test('RESP: a reply that is not RESP fails the request and drops the connection, since nothing after it can be matched', async t => {
  const port = await cannedServer(t, ['hello\r\n'], 1000)
  const c = new RespConnection({ host: '127.0.0.1', port })
  t.after(() => { c.close() })
  await c.connect(1000)
  await assert.rejects(c.request(command(['PING']), 1, 2000), /unexpected RESP type byte/)
  assert.equal(c.connected, false)
})

test('redis: a Redis with a password: the batch connection authenticates as the client does, and a wrong password is not retriable', async t => {
  // A Redis of its own on a free port, with requirepass: the shared one has no password.
  const probe = createServer()
  const port = await new Promise<number>(resolve => probe.listen(0, '127.0.0.1', () => { resolve((probe.address() as { port: number }).port) }))
  await new Promise<void>(resolve => probe.close(() => { resolve() }))
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', 'pässword'], { stdio: 'ignore' })
  t.after(() => { server.kill() })
  const good = new RedisProfileStore({ host: '127.0.0.1', port, password: 'pässword', prefix: 'auth-test:' })
  const bad = new RedisProfileStore({ host: '127.0.0.1', port, password: 'wrong', prefix: 'auth-test:', timeoutMs: 1000 })
  t.after(async () => { await Promise.all([good.close(), bad.close()]) })
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      await good.ping()
      break
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
  const profile = emptyProfile()
  profile.orders = 3
  assert.deepEqual(await good.putMany(new Map([['CUST-A', { profile, offsets: { 'user-events:0': 1 }, alert: { high: false, lastAt: 0 }, version: 0 }]])), [])
  assert.equal((await good.getMany(['CUST-A'])).get('CUST-A')?.profile.orders, 3)
  // The general client's calls say why as well, rather than only that Redis did not answer.
  await assert.rejects(bad.ping(), (error: unknown) => {
    assert.ok(isChurnflowError(error), String(error))
    assert.equal(error.code, ErrorCodes.PROFILE_STORE_UNAVAILABLE)
    assert.match(error.message, /is not reachable: .*(WRONGPASS|invalid password)/)
    return true
  })
  await assert.rejects(bad.getMany(['CUST-A']), (error: unknown) => {
    assert.ok(error instanceof RespError, String(error))
    assert.match(error.message, /WRONGPASS|invalid password/)
    assert.equal(isRetriable(error), false)
    return true
  })
})
