import type { Config } from '../../config/index.ts'
import type { Logger } from '../../logging/index.ts'
import { ChangelogProfileStore } from './changelog.ts'
import { RedisProfileStore } from './redis.ts'
import type { ProfileStore } from './types.ts'

export interface OpenProfileStoreOptions {
  /** Prefix of the Redis keys (default `churnflow:profile:`); ignored by the in-process store. */
  readonly prefix?: string
  readonly log?: Logger
}

/**
 * The processor's profile store: Redis when REDIS_HOST is set (shared with the scoring API, which
 * reads the same hashes), else the in-process store, kept per partition and backed by a changelog
 * topic, with local checkpoints under the state directory (the processor binds it to Kafka when it
 * starts). Redis connects lazily: an unreachable Redis shows on the first call, as a retriable error.
 */
export async function openProfileStore (
  config: Pick<Config, 'redisHost' | 'redisPort' | 'redisPassword' | 'stateDir'>,
  options: OpenProfileStoreOptions = {}
): Promise<ProfileStore> {
  if (config.redisHost !== undefined) {
    return new RedisProfileStore({
      host: config.redisHost,
      port: config.redisPort,
      ...(config.redisPassword === undefined ? {} : { password: config.redisPassword }),
      ...(options.prefix === undefined ? {} : { prefix: options.prefix })
    })
  }
  return new ChangelogProfileStore({ stateDir: config.stateDir, ...(options.log === undefined ? {} : { log: options.log }) })
}
