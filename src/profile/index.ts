export { CHURN_FEATURES, churnFeatureNames, churnFeatures, type ChurnFeatureName } from './features.ts'
export {
  applyEvent, emptyProfile, HALF_LIVES, profileEventOf, profileFields, profileFromRow, profileToRow, type CustomerProfile, type ProfileEvent
} from './profile.ts'
export { MemoryProfileStore, type MemoryProfileStoreOptions } from './stores/memory.ts'
export { ChangelogProfileStore, legacySnapshotPath, PROFILES_STORE } from './stores/changelog.ts'
export { decodeProfileRecord, encodeProfileRecord, supersedes } from './stores/codec.ts'
export { openProfileStore, type OpenProfileStoreOptions } from './stores/open.ts'
export { RedisProfileStore, type RedisProfileStoreOptions } from './stores/redis.ts'
export { RISK_REASONS, RiskTriggers, type AlertState, type CurrentRisk, type ProfileRecord, type ProfileStore, type RiskReason, type RiskTrigger, type RiskVisitor, type SilenceState } from './stores/types.ts'
export { TENURE_SEGMENTS, tenureDays, tenureSegment, type TenureSegment } from './tenure.ts'
