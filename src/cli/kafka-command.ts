import { ChurnflowError, ErrorCodes } from '../errors.ts'
import {
  CONTROLLER_PORT_OFFSET, HOST, KAFKA_VERSION, localKafkaStatus, startLocalKafka, stopLocalKafka,
  type NodeStatus
} from '../kafka/local/index.ts'
import type { Config } from '../config/index.ts'
import type { Command } from './command.ts'
import { wholeNumberFlag } from './flags.ts'

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** The local cluster runs where KAFKA_BROKER points, which must be this machine. */
function localBrokerPort (config: Config): number {
  const first = config.kafkaBrokers[0] ?? `${HOST}:9092`
  const colon = first.lastIndexOf(':')
  const host = first.slice(0, colon)
  if (!LOOPBACK.has(host)) {
    throw new ChurnflowError(ErrorCodes.USAGE,
      `KAFKA_BROKER points at ${config.kafkaBrokers.join(',')}, an existing cluster; churnflow kafka runs a local one on ${HOST}`, {
        details: ['unset KAFKA_BROKER (the local broker listens on 127.0.0.1:9092), or give --broker 127.0.0.1:<port>'],
        exitCode: 2
      })
  }
  return Number(first.slice(colon + 1))
}

function nodeLines (nodes: readonly NodeStatus[]): string[] {
  return nodes.map(({ node, pid, running }) =>
    `  node ${node.id}: ${running ? `pid ${String(pid)}` : 'not running'}, broker ${HOST}:${node.brokerPort}, controller ${HOST}:${node.controllerPort}, log ${node.dir}/server.log`)
}

export const kafkaCommand: Command = {
  name: 'kafka',
  summary: `run a local Apache Kafka ${KAFKA_VERSION} (KRaft) from Maven Central jars: start | stop | status`,
  usage: 'churnflow kafka start [--nodes 1|3] [--controller-port N] [--timeout SECONDS] | stop | status',
  help: [
    `start    provisions Apache Kafka ${KAFKA_VERSION} into the cache directory on first use (Maven), then runs`,
    '         it on the port of KAFKA_BROKER (127.0.0.1:9092 by default), data in the state directory;',
    '         waits until every broker answers. Running it again while Kafka runs changes nothing.',
    '         --nodes 3 runs a three-node cluster (replication 3, min.insync.replicas 2) on consecutive ports.',
    `         --controller-port N   first controller port (default: broker port + ${CONTROLLER_PORT_OFFSET})`,
    '         --timeout SECONDS     how long to wait for the brokers (default 120)',
    'stop     shuts every node down cleanly (SIGTERM, controlled shutdown) and waits for it.',
    'status   says whether the local Kafka runs, where, and with which processes; exit code 3 when it does not.'
  ].join('\n'),
  options: {
    nodes: { type: 'string' },
    'controller-port': { type: 'string' },
    timeout: { type: 'string' }
  },
  async run ({ positionals, values, config, env, log, out }) {
    const action = positionals[0]
    const base = { stateDir: config.stateDir, cacheDir: config.cacheDir, log: log.child({ component: 'kafka' }), env }
    switch (action) {
      case 'start': {
        const brokerPort = localBrokerPort(config)
        const nodes = wholeNumberFlag(values, 'nodes', 1, 9)
        const controllerPort = wholeNumberFlag(values, 'controller-port', 1, 65535)
        const timeout = wholeNumberFlag(values, 'timeout', 1, 3600)
        const result = await startLocalKafka({
          ...base,
          brokerPort,
          heapOpts: config.kafkaHeapOpts,
          ...(nodes === undefined ? {} : { nodes }),
          ...(controllerPort === undefined ? {} : { controllerPort }),
          ...(timeout === undefined ? {} : { startTimeoutMs: timeout * 1000 })
        })
        out(`Kafka ${result.version} ${result.alreadyRunning ? 'was already running' : `is running (started in ${(result.startedInMs / 1000).toFixed(1)} s)`}: ${result.nodes.length} node${result.nodes.length === 1 ? '' : 's'}, bootstrap ${result.bootstrap}`)
        for (const line of nodeLines(result.nodes)) out(line)
        out(`  data: ${result.clusterDir}`)
        out('  stop: churnflow kafka stop')
        return 0
      }
      case 'stop': {
        const result = await stopLocalKafka(base)
        out(result.stopped === 0
          ? 'Kafka is not running; nothing to stop'
          : `Kafka stopped: ${result.stopped} node${result.stopped === 1 ? '' : 's'}${result.killed > 0 ? ` (${result.killed} killed after the stop timeout)` : ''}`)
        return 0
      }
      case 'status': {
        const status = await localKafkaStatus(base)
        if (!status.formatted) {
          out(`Kafka is not running (no local cluster in ${status.clusterDir}; churnflow kafka start creates one)`)
          return 3
        }
        const state = status.running
          ? 'running'
          : status.nodes.some(n => n.running) ? `not ready (${status.brokersAnswering} of ${status.nodes.length} brokers answer)` : 'not running'
        out(`Kafka ${status.version ?? ''} ${state}: ${status.nodes.length} node${status.nodes.length === 1 ? '' : 's'}, bootstrap ${status.bootstrap ?? ''}`)
        for (const line of nodeLines(status.nodes)) out(line)
        out(`  data: ${status.clusterDir}`)
        return status.running ? 0 : 3
      }
      default:
        throw new ChurnflowError(ErrorCodes.USAGE, action === undefined ? 'kafka needs an action: start, stop or status' : `unknown kafka action "${action}": expected start, stop or status`, { exitCode: 2 })
    }
  }
}
