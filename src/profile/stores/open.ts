import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../../config/index.ts'
import { MemoryProfileStore } from './memory.ts'
import { RedisProfileStore } from './redis.ts'
import type { ProfileStore } from './types.ts'

export interface OpenProfileStoreOptions {
  /** Prefix of the Redis keys (default `churnflow:profile:`); ignored by the in-process store. */
  readonly prefix?: string
  /** The in-process store's snapshot is `<stateDir>/profiles/<snapshotName>.snapshot` (default `profiles`). */
  readonly snapshotName?: string
}

/**
 * The processor's profile store: Redis when REDIS_HOST is set (shared with the scoring API, which
 * reads the same hashes), else the in-process store with its snapshot under the state directory,
 * loaded now. Redis connects lazily: an unreachable Redis shows on the first call, as a retriable error.
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
  const dir = join(config.stateDir, 'profiles')
  await mkdir(dir, { recursive: true })
  return MemoryProfileStore.open({ snapshotPath: join(dir, `${options.snapshotName ?? 'profiles'}.snapshot`) })
}
