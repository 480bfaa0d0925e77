/** One node of a local KRaft cluster: broker and controller in one process. */
export interface LocalNode {
  readonly id: number
  readonly brokerPort: number
  readonly controllerPort: number
  /** The node's folder: its properties, logs, pid file and data. */
  readonly dir: string
}

export const HOST = '127.0.0.1'

export function bootstrapOf (nodes: readonly LocalNode[]): string {
  return nodes.map(n => `${HOST}:${n.brokerPort}`).join(',')
}

/** server.properties of one node; replication settings follow the cluster size. */
export function serverProperties (node: LocalNode, nodes: readonly LocalNode[]): string {
  const size = nodes.length
  const replication = size >= 3 ? 3 : 1
  const minIsr = size >= 3 ? 2 : 1
  const entries: [string, string | number][] = [
    ['process.roles', 'broker,controller'],
    ['node.id', node.id],
    ['controller.quorum.voters', nodes.map(n => `${n.id}@${HOST}:${n.controllerPort}`).join(',')],
    ['listeners', `PLAINTEXT://${HOST}:${node.brokerPort},CONTROLLER://${HOST}:${node.controllerPort}`],
    ['advertised.listeners', `PLAINTEXT://${HOST}:${node.brokerPort}`],
    ['controller.listener.names', 'CONTROLLER'],
    ['inter.broker.listener.name', 'PLAINTEXT'],
    ['listener.security.protocol.map', 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT'],
    ['log.dirs', `${node.dir}/data`],
    ['num.partitions', 3],
    ['default.replication.factor', replication],
    ['min.insync.replicas', minIsr],
    ['offsets.topic.replication.factor', replication],
    ['transaction.state.log.replication.factor', replication],
    ['transaction.state.log.min.isr', minIsr],
    ['share.coordinator.state.topic.replication.factor', replication],
    ['share.coordinator.state.topic.min.isr', minIsr],
    // A local cluster serves tests and demos: a new consumer group should start at once.
    ['group.initial.rebalance.delay.ms', 0],
    ['auto.create.topics.enable', 'true'],
    // `kafka stop` stops every node at once, so a controlled shutdown has no broker to hand
    // leadership to; and on a node slower to stop than the others it waits for the controller
    // quorum's approval after the quorum has gone, until churnflow kills it. Without it a broker
    // still flushes its logs and writes the clean-shutdown marker.
    ['controlled.shutdown.enable', 'false'],
    // Records carry their event time, and replayed history is older than any time limit: time
    // retention would delete it minutes after it was produced, before a processor reads it. The
    // local cluster keeps records by size instead.
    ['log.retention.ms', -1],
    ['log.retention.bytes', 2 * 1024 * 1024 * 1024],
    ['log.segment.bytes', 256 * 1024 * 1024]
  ]
  return `# Written by churnflow for local node ${node.id} of ${size}; rewritten at every start.\n` +
    entries.map(([k, v]) => `${k}=${v}`).join('\n') + '\n'
}

/** log4j2 configuration: Kafka's own log into the node folder, rolled at 20 MB. */
export function log4jProperties (node: LocalNode): string {
  return [
    'status = warn',
    'appender.file.type = RollingFile',
    'appender.file.name = FILE',
    `appender.file.fileName = ${node.dir}/server.log`,
    `appender.file.filePattern = ${node.dir}/server.log.%i`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'appender.file.policies.type = Policies',
    'appender.file.policies.size.type = SizeBasedTriggeringPolicy',
    'appender.file.policies.size.size = 20MB',
    'appender.file.strategy.type = DefaultRolloverStrategy',
    'appender.file.strategy.max = 2',
    'rootLogger.level = INFO',
    'rootLogger.appenderRef.file.ref = FILE',
    ''
  ].join('\n')
}
