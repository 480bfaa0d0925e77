export { buildApi, type ScoringApi } from './app.ts'
export { AccountSources } from './fraud-routes.ts'
export type { ApiOptions, ApiPlugin, ProfileReader } from './types.ts'
