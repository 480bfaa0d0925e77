import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { connect, createServer, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig, type Config } from '../../src/config/index.ts'
import { createAdmin, createConsumer, describeCluster } from '../../src/kafka/client/index.ts'
import { MessagesStreamModes } from '@platformatic/kafka'
import { RedisProfileStore } from '../../src/profile/index.ts'
import { listenLow, tryListen } from './ports.ts'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
export const binPath = fileURLToPath(new URL('../../bin/churnflow.js', import.meta.url))

const ci = process.env.CI === 'true'

/**
 * A test that needs a service it cannot have fails under CI=true; elsewhere it is skipped with
 * a line nobody can miss.
 */
export function unavailable (t: TestContext, what: string): void {
  if (ci) assert.fail(`${what} is required under CI=true but is not available`)
  process.stderr.write(`\n!!! SKIPPED "${t.name}": ${what} is not available\n`)
  t.skip(`${what} is not available`)
}

/** A name no other test or run uses. */
export function uniqueName (prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`
}

/** The configuration tests use to reach the run's Kafka, or undefined (after skipping) when there is none. */
export async function kafkaConfig (t: TestContext, env: Record<string, string> = {}): Promise<Config | undefined> {
  const broker = process.env.CHURNFLOW_TEST_KAFKA
  if (broker === undefined) {
    unavailable(t, 'the test Kafka broker')
    return undefined
  }
  const { config } = loadConfig({ env: { KAFKA_BROKER: broker, ...env }, envFile: false })
  try {
    await describeCluster(config, 5000)
  } catch {
    unavailable(t, `Kafka at ${broker}`)
    return undefined
  }
  return config
}

export function hasCommand (name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0
}

export interface RunResult { code: number | null, stdout: string, stderr: string }

/** Runs a command to its end, with input on stdin when given. */
export function run (command: string, args: readonly string[], options: { env?: Record<string, string | undefined>, input?: string, timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeoutMs ?? 60_000)
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8') })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8') })
    child.on('error', reject)
    child.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
    // A child that exits before reading its input (one that only prints its Node.js version
    // check) closes the pipe: EPIPE on stdin then says nothing the exit code and output do not.
    child.stdin.on('error', () => undefined)
    child.stdin.end(options.input ?? '')
  })
}

/** Runs the churnflow CLI with exactly this environment (plus PATH and HOME). */
export function cli (args: readonly string[], env: Record<string, string | undefined> = {}, timeoutMs?: number): Promise<RunResult> {
  return run(process.execPath, [binPath, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    ...(timeoutMs === undefined ? {} : { timeoutMs })
  })
}

/**
 * Starts the churnflow CLI and hands back the child, for tests that signal or stop things mid-run;
 * `output()` is what it printed so far (stdout, then stderr), to wait for a line before acting.
 */
export function startCli (args: readonly string[], env: Record<string, string | undefined> = {}): { child: ChildProcess, done: Promise<RunResult>, output: () => string } {
  const child = spawn(process.execPath, [binPath, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString('utf8') })
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString('utf8') })
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', code => { resolve({ code, stdout, stderr }) })
  })
  return { child, done, output: () => stdout + stderr }
}

/** A processor started in the background, killed when the test ends however it ends. */
export function background (t: TestContext, args: string[], env: Record<string, string>): ReturnType<typeof startCli> {
  const started = startCli(args, env)
  t.after(async () => {
    if (started.child.exitCode === null) started.child.kill('SIGKILL')
    await started.done
  })
  return started
}

/** The figures of a PRODUCER STATISTICS block. */
export function producerStats (output: string): { generated: number, sent: number, failed: number } {
  const figure = (name: string): number => Number(new RegExp(`Events ${name}: (\\d+)`).exec(output)?.[1] ?? NaN)
  return { generated: figure('Generated'), sent: figure('Sent'), failed: figure('Failed') }
}

export interface ConsumedRecord { key: string, value: string, partition: number, offset: bigint, timestamp: bigint, headers: Map<string, string> }

/** Reads `count` records of a topic from the beginning with churnflow's client. */
export async function consumeFromStart (config: Config, topic: string, count: number, timeoutMs = 30_000): Promise<ConsumedRecord[]> {
  const consumer = createConsumer(config, uniqueName('test-reader'))
  const records: ConsumedRecord[] = []
  const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false, maxWaitTime: 200 })
  const timer = setTimeout(() => { stream.destroy(new Error(`only ${records.length} of ${count} records arrived in ${timeoutMs} ms`)) }, timeoutMs)
  try {
    for await (const message of stream) {
      const headers = new Map<string, string>()
      for (const [k, v] of message.headers) headers.set(k.toString('utf8'), v.toString('utf8'))
      records.push({ key: message.key?.toString('utf8') ?? '', value: message.value?.toString('utf8') ?? '', partition: message.partition, offset: message.offset, timestamp: message.timestamp, headers })
      if (records.length >= count) break
    }
  } finally {
    clearTimeout(timer)
    await stream.close().catch(() => undefined)
    await consumer.close(true).catch(() => undefined)
  }
  return records
}

export async function createTopic (config: Config, topic: string, partitions: number, replicas = 1): Promise<void> {
  const admin = createAdmin(config)
  try {
    await admin.createTopics({ topics: [topic], partitions, replicas })
  } finally {
    await admin.close()
  }
}

/** Records in a topic (its partitions' end offsets summed); 0 when it does not exist. Dead-letter topics must stay empty through outages. */
export async function recordsIn (config: Config, topic: string): Promise<number> {
  const consumer = createConsumer(config, uniqueName('count'))
  try {
    const offsets = await consumer.listOffsets({ topics: [topic] })
    return (offsets.get(topic) ?? []).reduce((a, b) => a + Number(b), 0)
  } catch {
    return 0
  } finally {
    await consumer.close(true)
  }
}

export async function deleteTopics (config: Config, topics: string[]): Promise<void> {
  const admin = createAdmin(config)
  try {
    await admin.deleteTopics({ topics })
  } catch {
    // best effort cleanup
  } finally {
    await admin.close()
  }
}

/** A Redis profile store on the test Redis (CHURNFLOW_TEST_REDIS, default 127.0.0.1:6379), or undefined after skipping. */
export async function redisStore (t: TestContext, prefix = `${uniqueName('test')}:`): Promise<RedisProfileStore | undefined> {
  const [host, port] = (process.env.CHURNFLOW_TEST_REDIS ?? '127.0.0.1:6379').split(':')
  const store = new RedisProfileStore({ host: host ?? '127.0.0.1', port: Number(port ?? 6379), prefix })
  try {
    await store.ping()
  } catch {
    await store.close()
    unavailable(t, `Redis at ${host ?? ''}:${port ?? ''}`)
    return undefined
  }
  t.after(async () => {
    await store.clear()
    await store.close()
  })
  return store
}

/**
 * A TCP proxy in front of a server (Redis, PostgreSQL, the scoring API) that can be stopped,
 * dropping every connection and refusing new ones, and started again on the same port: the
 * server going away and coming back, with the server itself left running.
 */
export class TcpProxy {
  readonly #host: string
  readonly #port: number
  readonly #sockets = new Set<Socket>()
  #server: ReturnType<typeof createServer> | undefined

  constructor (host: string, port: number) {
    this.#host = host
    this.#port = port
  }

  /**
   * Listens on `port`, or the first time on a free port below Linux's ephemeral range, so that
   * starting again on the same port cannot meet a client's socket holding it; returns the port.
   */
  async start (port?: number): Promise<number> {
    const server = createServer(client => {
      const upstream = connect(this.#port, this.#host)
      for (const s of [client, upstream]) {
        this.#sockets.add(s)
        s.on('error', () => undefined)
        s.on('close', () => { this.#sockets.delete(s) })
      }
      client.pipe(upstream).pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    this.#server = server
    if (port === undefined) return listenLow(server)
    if (!await tryListen(server, port)) throw new Error(`the proxy cannot listen on ${port} again: something holds it`)
    return port
  }

  async stop (): Promise<void> {
    const server = this.#server
    this.#server = undefined
    for (const s of this.#sockets) s.destroy()
    if (server !== undefined) await new Promise<void>(resolve => server.close(() => resolve()))
  }
}
