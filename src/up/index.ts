export { livePopulationSource, type LivePopulationOptions } from './population-source.ts'
export { noFraudTotals, readUpState, upStatePath, writeUpState, type UpState } from './state.ts'
export { runUp, type UpOptions } from './system.ts'
