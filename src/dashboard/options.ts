import { shippedChurnModelPath } from '../churn/index.ts'
import type { Config } from '../config/index.ts'
import type { KafkaConnection } from '../kafka/client/index.ts'
import type { Logger } from '../logging/index.ts'
import type { SqlConnection } from '../sql/index.ts'
import { defaultDashboardTables, type DashboardTables } from './indexes.ts'
import type { AtRiskCustomer, AtRiskQuery } from './queries.ts'
import { deadLetterTopic } from '../stream/index.ts'

/**
 * An at-risk list of one's own, in place of the default: the processors' `/customers/at-risk`
 * routes (their current-risk state) when any answers, else each customer's latest prediction in SQL.
 */
export type AtRiskSource = (query: AtRiskQuery) => Promise<AtRiskCustomer[]>

export interface DashboardTopics {
  /** The input streams whose arrival rate the overview shows. */
  readonly streams: readonly string[]
  readonly predictions: string
  readonly alerts: string
  readonly deadLetters: readonly string[]
}

export interface DashboardOptions {
  readonly sql: SqlConnection
  readonly kafka: KafkaConnection
  readonly topics: DashboardTopics
  readonly tables: DashboardTables
  /** The processors' ops endpoints. */
  readonly opsUrls: readonly string[]
  /** The churn model artifact the Model view describes. */
  readonly modelPath: string
  /** When set, every request needs it (basic auth password, bearer token or x-api-key). */
  readonly key?: string
  /** The basic-auth user name (`churnflow`). */
  readonly user: string
  readonly log: Logger
  /** How often the live feed looks for new predictions, ms (500). */
  readonly liveIntervalMs: number
  /** Looks at start for indexes the queries need and the database lacks, and warns (true). */
  readonly checkIndexes: boolean
  readonly atRisk?: AtRiskSource
}

/** The dashboard's options from churnflow's configuration. */
export function dashboardOptions (config: Config, log: Logger, overrides: Partial<DashboardOptions> = {}): DashboardOptions {
  const streams = [config.userEventsTopic, config.customerEventsTopic, config.transactionsTopic]
  return {
    sql: config,
    kafka: config,
    topics: {
      streams,
      predictions: config.predictionsTopic,
      alerts: config.alertsTopic,
      deadLetters: [...new Set(streams.map(s => deadLetterTopic(config, s)))]
    },
    tables: defaultDashboardTables,
    opsUrls: config.opsUrls,
    modelPath: config.churnModel ?? shippedChurnModelPath,
    ...(config.dashboardKey === undefined ? {} : { key: config.dashboardKey }),
    user: config.dashboardUser,
    log,
    liveIntervalMs: 500,
    checkIndexes: true,
    ...overrides
  }
}
