export { assertSafeBind, buildDashboard, type DashboardApp, contentSecurityPolicy, isLoopback, serveDashboard, startDashboard } from './app.ts'
export { DashboardData, type AlertView, type AtRiskSourceInfo, type LatestScore } from './data.ts'
export { defaultDashboardTables, missingForDashboard, type DashboardTables } from './indexes.ts'
export { StreamRates, TopicTail, type TailRecord, type TopicTailOptions } from './kafka.ts'
export { LiveHub, type LiveEvent, type LiveHubOptions } from './live.ts'
export { dashboardOptions, type AtRiskSource, type DashboardOptions, type DashboardTopics } from './options.ts'
export { histogram, parsePrometheus, readProcessor, type LatencySummary, type MetricSample, type ProcessorReport } from './ops.ts'
export {
  atRisk, customerPredictionReader, customerPredictions, describeProcessorAtRisk, DISTRIBUTION_WINDOW, fraudView, highRiskOverTime, INACTIVITY_CHECK, latestPredictions, predictionsAfter, predictionsPerMinute, readClock, scoreDistribution,
  type AtRiskCustomer, type AtRiskQuery, type Band, type Clock, type FraudView, type PredictionView, type SeriesPoint
} from './queries.ts'
export { processorCustomer, processorsAtRisk, type ProcessorsAtRisk } from './processors.ts'
export { openSqlReader, sqlTime, type OpenSqlReaderOptions, type SqlReader, type SqlRow } from './sql.ts'
export { silenceStepOf, streamOf } from '../processor/silence.ts'
