import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import mysql from 'mysql2/promise'
import { freePort } from './ports.ts'
import { hasCommand, run, unavailable } from './services.ts'

const mariadbd = '/usr/sbin/mariadbd'

export interface PrivateMariadb {
  readonly port: number
  /** `mysql://root@127.0.0.1:PORT/<database>`. */
  url (database: string): string
  /** Shuts the server down (SIGTERM, as a service manager would) and waits for it to exit. */
  stop (): Promise<void>
  /** Starts it again on the same data directory and waits until it accepts connections. */
  start (): Promise<void>
}

async function acceptsConnections (port: number): Promise<boolean> {
  try {
    const connection = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 })
    await connection.query('SELECT 1')
    await connection.end()
    return true
  } catch {
    return false
  }
}

/**
 * A throwaway MariaDB server of its own (root, empty password) on 127.0.0.1:`port`, for tests
 * that stop and start the database under a running store. The test's end kills it and removes
 * its data directory. Undefined (after skipping) when MariaDB is not installed.
 */
export async function startPrivateMariadb (t: TestContext, port?: number): Promise<PrivateMariadb | undefined> {
  if (!hasCommand('mariadb-install-db') || !hasCommand(mariadbd)) {
    unavailable(t, 'a MariaDB installation (mariadb-install-db, mariadbd)')
    return undefined
  }
  const serverPort = port ?? await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'churnflow-mariadb-'))
  const datadir = join(dir, 'data')
  let child: ChildProcess | undefined
  let log = ''

  t.after(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise(resolve => child?.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  })

  const installed = await run('mariadb-install-db', [
    '--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=normal', '--skip-test-db'
  ], { timeoutMs: 120_000 })
  if (installed.code !== 0) throw new Error(`mariadb-install-db failed (${installed.code}):\n${installed.stderr.slice(-2000)}`)

  const start = async (): Promise<void> => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) throw new Error('the private MariaDB is already running')
    log = ''
    const server = spawn(mariadbd, [
      '--no-defaults', `--datadir=${datadir}`, `--port=${serverPort}`, '--bind-address=127.0.0.1',
      `--socket=${join(dir, 'sock')}`, `--pid-file=${join(dir, 'mariadbd.pid')}`, '--user=root',
      '--skip-name-resolve', '--innodb-buffer-pool-size=32M'
    ], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = server
    const keep = (d: Buffer): void => { log = (log + d.toString('utf8')).slice(-4000) }
    server.stdout?.on('data', keep)
    server.stderr?.on('data', keep)
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      if (server.exitCode !== null || server.signalCode !== null) throw new Error(`mariadbd exited (${server.exitCode ?? server.signalCode}):\n${log}`)
      if (await acceptsConnections(serverPort)) return
      await sleep(200)
    }
    server.kill('SIGKILL')
    throw new Error(`mariadbd did not accept connections on ${serverPort} within 60 s:\n${log}`)
  }

  const stop = async (): Promise<void> => {
    const server = child
    if (server === undefined || server.exitCode !== null || server.signalCode !== null) return
    const exited = new Promise(resolve => server.once('exit', resolve))
    server.kill('SIGTERM')
    const timer = setTimeout(() => { server.kill('SIGKILL') }, 30_000)
    await exited
    clearTimeout(timer)
  }

  await start()
  return { port: serverPort, url: database => `mysql://root@127.0.0.1:${serverPort}/${database}`, start, stop }
}
