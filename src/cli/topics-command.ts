import { ChurnflowError, ErrorCodes } from '../errors.ts'
import { createAdmin, describeCluster } from '../kafka/client/index.ts'
import { ensureTopics } from '../kafka/topics/index.ts'
import type { Command } from './command.ts'
import { churnflowTopics } from '../stream/index.ts'

export const topicsCommand: Command = {
  name: 'topics',
  summary: 'create churnflow\'s topics where they are missing (safe to run again)',
  usage: 'churnflow topics create [--partitions N] [--replication-factor auto|N]',
  help: 'Creates user-events, customer-events, transactions, churn-predictions, churn-alerts and the\n<topic>-failed dead-letter topics (names from the configuration) with the configured partitions.',
  async run ({ positionals, config, out }) {
    const action = positionals[0] ?? 'create'
    if (action !== 'create') {
      throw new ChurnflowError(ErrorCodes.USAGE, `unknown topics action "${action}": expected create`, { exitCode: 2 })
    }
    let info
    try {
      info = await describeCluster(config)
    } catch (error) {
      throw new ChurnflowError(ErrorCodes.KAFKA_UNREACHABLE, `no Kafka broker answered at ${config.kafkaBrokers.join(',')}`, {
        cause: error,
        details: ['start the local one with `churnflow kafka start`, or set KAFKA_BROKER to a running cluster']
      })
    }
    const admin = createAdmin(config)
    try {
      const result = await ensureTopics(admin, churnflowTopics(config, info.brokers.length))
      for (const t of result.created) out(`created ${t.name} (${t.partitions} partitions, replication ${t.replicas})`)
      for (const t of result.existing) out(`exists  ${t.name} (${t.partitions} partitions)`)
      return 0
    } finally {
      await admin.close()
    }
  }
}
