export { CHURN_FEATURES, churnFeatureNames, churnFeatures, type ChurnFeatureName } from './features.ts'
export {
  applyEvent, emptyProfile, HALF_LIVES, profileEventOf, profileFields, type CustomerProfile, type ProfileEvent
} from './profile.ts'
export { RedisProfileStore, type RedisProfileStoreOptions } from './stores/redis.ts'
