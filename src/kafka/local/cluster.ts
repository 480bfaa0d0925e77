import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import type { Logger } from '../../logging/index.ts'
import { describeCluster, type KafkaConnection } from '../client/index.ts'
import { findJava } from './java.ts'
import { CONTROLLER_PORT_OFFSET, localKafkaDefaults } from './options.ts'
import { bootstrapOf, HOST, log4jProperties, serverProperties, type LocalNode } from './properties.ts'
import { ensureKafkaDistribution, type KafkaDistribution } from './provision.ts'

type Env = Readonly<Record<string, string | undefined>>

export interface LocalKafkaOptions {
  /** churnflow's state directory; the cluster lives in its `kafka/` folder. */
  readonly stateDir: string
  readonly cacheDir: string
  readonly log: Logger
  readonly env: Env
  readonly nodes?: number
  /** Broker port of node 1; node i listens on brokerPort + i - 1. */
  readonly brokerPort?: number
  /** Controller port of node 1; brokerPort + 10000 when not given. */
  readonly controllerPort?: number
  readonly heapOpts?: readonly string[]
  readonly startTimeoutMs?: number
  readonly stopTimeoutMs?: number
}

/** What `cluster.json` records of a formatted local cluster. */
interface ClusterFile {
  version: string
  clusterId: string
  nodes: LocalNode[]
  createdAt: string
}

export interface NodeStatus {
  readonly node: LocalNode
  readonly pid: number | undefined
  readonly running: boolean
}

export interface LocalKafkaStatus {
  /** True when every node's process runs and the cluster answers with all its brokers. */
  readonly running: boolean
  readonly formatted: boolean
  readonly version: string | undefined
  readonly clusterDir: string
  readonly bootstrap: string | undefined
  readonly nodes: readonly NodeStatus[]
  /** Brokers the cluster reported, when it answered. */
  readonly brokersAnswering: number
}

export interface StartResult {
  readonly alreadyRunning: boolean
  readonly bootstrap: string
  readonly nodes: readonly NodeStatus[]
  readonly startedInMs: number
  readonly clusterDir: string
  readonly version: string
}

const clusterDirOf = (stateDir: string): string => join(stateDir, 'kafka')
const pidFileOf = (node: LocalNode): string => join(node.dir, 'kafka.pid')

async function readClusterFile (clusterDir: string): Promise<ClusterFile | undefined> {
  const path = join(clusterDir, 'cluster.json')
  if (!existsSync(path)) return undefined
  return JSON.parse(await readFile(path, 'utf8')) as ClusterFile
}

/** Kafka's Uuid.randomUuid: 16 random bytes, base64url, never starting with '-'. */
export function randomClusterId (): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    if (!id.startsWith('-')) return id
  }
}

function pidOf (node: LocalNode): number | undefined {
  try {
    const pid = Number(readFileSync(pidFileOf(node), 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** True when `pid` is alive and, where /proc tells, is this node's Kafka (not a reused pid). */
function isNodeProcess (pid: number, node: LocalNode): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    // Gone, or (EPERM) someone else's process that reused the pid: not ours either way.
    return false
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return cmdline.includes('kafka.Kafka') && cmdline.includes(node.dir)
  } catch {
    return true
  }
}

function nodeStatuses (nodes: readonly LocalNode[]): NodeStatus[] {
  return nodes.map(node => {
    const pid = pidOf(node)
    return { node, pid, running: pid !== undefined && isNodeProcess(pid, node) }
  })
}

function connectionTo (nodes: readonly LocalNode[]): KafkaConnection {
  return {
    kafkaBrokers: nodes.map(n => `${HOST}:${n.brokerPort}`),
    kafkaClientId: 'churnflow-local',
    saslMechanism: undefined,
    saslUsername: undefined,
    saslPassword: undefined,
    kafkaTls: false
  }
}

async function brokersAnswering (nodes: readonly LocalNode[], timeoutMs: number): Promise<number> {
  try {
    const info = await describeCluster(connectionTo(nodes), timeoutMs)
    return info.brokers.length
  } catch {
    return 0
  }
}

function portFree (port: number): Promise<boolean> {
  return new Promise(resolve => {
    const server = createServer()
    server.once('error', () => { resolve(false) })
    server.listen({ port, host: HOST, exclusive: true }, () => { server.close(() => { resolve(true) }) })
  })
}

/** The last lines of a node's logs, for an error that says why a broker died. */
function logTail (node: LocalNode, lines = 15): string[] {
  const out: string[] = []
  for (const file of ['stdout.log', 'server.log']) {
    const path = join(node.dir, file)
    if (!existsSync(path)) continue
    const text = readFileSync(path, 'utf8').trimEnd()
    if (text === '') continue
    out.push(`--- ${path}`, ...text.split('\n').slice(-lines))
  }
  return out
}

function layout (clusterDir: string, count: number, brokerPort: number, controllerPort: number): LocalNode[] {
  return Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    brokerPort: brokerPort + i,
    controllerPort: controllerPort + i,
    dir: join(clusterDir, `node-${i + 1}`)
  }))
}

function runJava (java: string, dist: KafkaDistribution, args: string[], env: Env): { status: number | null, output: string } {
  const result = spawnSync(java, ['-cp', dist.classpath, ...args], { encoding: 'utf8', env: { ...env } })
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` }
}

/**
 * Starts the local Apache Kafka (KRaft, broker and controller in each node) and waits until
 * every broker answers a metadata request. Idempotent: a cluster that already runs is left as it is.
 */
export async function startLocalKafka (options: LocalKafkaOptions): Promise<StartResult> {
  const started = Date.now()
  const { log, env } = options
  const clusterDir = clusterDirOf(options.stateDir)
  const count = options.nodes ?? localKafkaDefaults.nodes
  const brokerPort = options.brokerPort ?? localKafkaDefaults.brokerPort
  const controllerPort = options.controllerPort ?? brokerPort + CONTROLLER_PORT_OFFSET
  if (controllerPort + count - 1 > 65535 || brokerPort + count - 1 > 65535) {
    throw new ChurnflowError(ErrorCodes.USAGE, `ports ${brokerPort} and ${controllerPort} leave no room for ${count} nodes below 65536`, { exitCode: 2 })
  }

  const existing = await readClusterFile(clusterDir)
  if (existing !== undefined) {
    const statuses = nodeStatuses(existing.nodes)
    const sameShape = existing.nodes.length === count && existing.nodes[0]?.brokerPort === brokerPort && existing.nodes[0]?.controllerPort === controllerPort
    if (statuses.some(s => s.running)) {
      if (!sameShape) {
        throw new ChurnflowError(ErrorCodes.LOCAL_CLUSTER_MISMATCH,
          `a local Kafka of ${existing.nodes.length} node(s) at ${bootstrapOf(existing.nodes)} already runs from ${clusterDir}`, {
            details: ['stop it first (churnflow kafka stop), or use another --state-dir']
          })
      }
      if (statuses.every(s => s.running) && await brokersAnswering(existing.nodes, 5000) === existing.nodes.length) {
        return { alreadyRunning: true, bootstrap: bootstrapOf(existing.nodes), nodes: statuses, startedInMs: Date.now() - started, clusterDir, version: existing.version }
      }
    } else if (!sameShape) {
      throw new ChurnflowError(ErrorCodes.LOCAL_CLUSTER_MISMATCH,
        `${clusterDir} holds a ${existing.nodes.length}-node cluster at ${bootstrapOf(existing.nodes)}, not ${count} node(s) at ${HOST}:${brokerPort}`, {
          details: [`delete ${clusterDir} to start over (its topics and data go with it), or use another --state-dir`]
        })
    }
  }

  const java = findJava(env)
  const dist = await ensureKafkaDistribution(options.cacheDir, log, env)
  const nodes = existing?.nodes ?? layout(clusterDir, count, brokerPort, controllerPort)
  const running = new Set(nodeStatuses(nodes).filter(s => s.running).map(s => s.node.id))

  for (const node of nodes) {
    if (running.has(node.id)) continue
    for (const port of [node.brokerPort, node.controllerPort]) {
      if (!await portFree(port)) {
        throw new ChurnflowError(ErrorCodes.PORT_IN_USE, `port ${port} on ${HOST} is in use by another program, so Kafka node ${node.id} cannot listen there`, {
          details: [
            'stop what holds it, or run the local Kafka elsewhere: KAFKA_BROKER=127.0.0.1:<port> churnflow kafka start,',
            'or, if a Kafka already runs there, set KAFKA_BROKER to it and skip the local one'
          ]
        })
      }
    }
  }

  await mkdir(clusterDir, { recursive: true })
  let cluster = existing
  if (cluster === undefined) {
    cluster = { version: dist.version, clusterId: randomClusterId(), nodes, createdAt: new Date().toISOString() }
    for (const node of nodes) {
      await rm(node.dir, { recursive: true, force: true })
      await mkdir(node.dir, { recursive: true })
      await writeFile(join(node.dir, 'server.properties'), serverProperties(node, nodes))
      const format = runJava(java.path, dist, ['kafka.tools.StorageTool', 'format', '-t', cluster.clusterId, '-c', join(node.dir, 'server.properties')], env)
      if (format.status !== 0) {
        throw new ChurnflowError(ErrorCodes.BROKER_EXITED, `formatting the storage of Kafka node ${node.id} failed`, { details: format.output.trim().split('\n').slice(-10) })
      }
    }
    // Written last: a cluster.json means every node is formatted.
    await writeFile(join(clusterDir, 'cluster.json'), JSON.stringify(cluster, null, 2))
    log.info({ clusterId: cluster.clusterId, nodes: nodes.length }, `Formatted a new ${nodes.length}-node KRaft cluster in ${clusterDir}`)
  }

  const heap = options.heapOpts ?? ['-Xms256m', '-Xmx512m']
  const exits = new Map<number, string>()
  for (const node of nodes) {
    if (running.has(node.id)) continue
    await writeFile(join(node.dir, 'server.properties'), serverProperties(node, nodes))
    await writeFile(join(node.dir, 'log4j2.properties'), log4jProperties(node))
    const out = openSync(join(node.dir, 'stdout.log'), 'w')
    const child = spawn(java.path, [
      ...heap,
      '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${join(node.dir, 'log4j2.properties')}`,
      `-Dkafka.logs.dir=${node.dir}`,
      '-cp', dist.classpath,
      'kafka.Kafka', join(node.dir, 'server.properties')
    ], { detached: true, stdio: ['ignore', out, out], env: { ...env }, cwd: node.dir })
    closeSync(out)
    child.on('exit', (code, signal) => { exits.set(node.id, signal === null ? `exit code ${String(code)}` : `signal ${signal}`) })
    child.unref()
    if (child.pid === undefined) throw new ChurnflowError(ErrorCodes.BROKER_EXITED, `java could not be started for Kafka node ${node.id}`)
    await writeFile(pidFileOf(node), `${child.pid}\n`)
  }

  const timeoutMs = options.startTimeoutMs ?? localKafkaDefaults.startTimeoutMs
  const deadline = Date.now() + timeoutMs
  for (;;) {
    for (const node of nodes) {
      const exit = exits.get(node.id)
      if (exit !== undefined) {
        throw new ChurnflowError(ErrorCodes.BROKER_EXITED, `Kafka node ${node.id} exited while starting (${exit})`, { details: logTail(node) })
      }
    }
    if (await brokersAnswering(nodes, 2000) === nodes.length) break
    if (Date.now() > deadline) {
      throw new ChurnflowError(ErrorCodes.BROKER_START_TIMEOUT,
        `the local Kafka at ${bootstrapOf(nodes)} did not answer within ${Math.round(timeoutMs / 1000)} s`, {
          retriable: true,
          details: [...nodes.flatMap(n => logTail(n, 8)), 'churnflow kafka stop ends what was started']
        })
    }
    await sleep(200)
  }
  return { alreadyRunning: false, bootstrap: bootstrapOf(nodes), nodes: nodeStatuses(nodes), startedInMs: Date.now() - started, clusterDir, version: cluster.version }
}

/** Where the local cluster is and whether it runs; never starts or downloads anything. */
export async function localKafkaStatus (options: Pick<LocalKafkaOptions, 'stateDir'>): Promise<LocalKafkaStatus> {
  const clusterDir = clusterDirOf(options.stateDir)
  const cluster = await readClusterFile(clusterDir)
  if (cluster === undefined) {
    return { running: false, formatted: false, version: undefined, clusterDir, bootstrap: undefined, nodes: [], brokersAnswering: 0 }
  }
  const nodes = nodeStatuses(cluster.nodes)
  const answering = nodes.some(n => n.running) ? await brokersAnswering(cluster.nodes, 3000) : 0
  return {
    running: nodes.every(n => n.running) && answering === nodes.length,
    formatted: true,
    version: cluster.version,
    clusterDir,
    bootstrap: bootstrapOf(cluster.nodes),
    nodes,
    brokersAnswering: answering
  }
}

export interface StopResult {
  readonly stopped: number
  /** Nodes that ignored SIGTERM for the whole stop timeout and were killed. */
  readonly killed: number
}

/** Stops every node with SIGTERM (a clean, controlled shutdown) and waits for it to exit. */
export async function stopLocalKafka (options: Pick<LocalKafkaOptions, 'stateDir' | 'log' | 'stopTimeoutMs'>): Promise<StopResult> {
  const clusterDir = clusterDirOf(options.stateDir)
  const cluster = await readClusterFile(clusterDir)
  if (cluster === undefined) return { stopped: 0, killed: 0 }
  const live = nodeStatuses(cluster.nodes).filter(s => s.running && s.pid !== undefined)
  for (const s of live) process.kill(s.pid as number, 'SIGTERM')
  const deadline = Date.now() + (options.stopTimeoutMs ?? localKafkaDefaults.stopTimeoutMs)
  let killed = 0
  for (const s of live) {
    while (isNodeProcess(s.pid as number, s.node)) {
      if (Date.now() > deadline) {
        options.log.warn(`Kafka node ${s.node.id} (pid ${String(s.pid)}) did not stop after SIGTERM; killing it`)
        process.kill(s.pid as number, 'SIGKILL')
        killed++
        await sleep(200)
        break
      }
      await sleep(100)
    }
  }
  for (const node of cluster.nodes) await rm(pidFileOf(node), { force: true })
  return { stopped: live.length, killed }
}
