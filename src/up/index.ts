export { livePopulationSource, type LivePopulationOptions } from './population-source.ts'
export { readUpState, upStatePath, writeUpState, type UpState } from './state.ts'
export { runUp, type UpOptions } from './system.ts'
