// Starts one real local Kafka for the whole test run (unless CHURNFLOW_TEST_KAFKA names one already)
// and stops it at the end, whether the tests passed or not.
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/index.ts'
import { startLocalKafka, stopLocalKafka } from '../../src/kafka/local/index.ts'
import { createLogger } from '../../src/logging/index.ts'

const stateDir = process.env.CHURNFLOW_TEST_STATE_DIR ?? join(tmpdir(), `churnflow-test-${process.pid}`)
// The tests' brokers listen below 32768, and so do their controllers (broker + 10000): Linux gives
// 32768-60999 to outgoing connections, so a fixed port there can be held by any client's socket
// when a broker starts (a CI run failed so, on 39192).
const port = Number(process.env.CHURNFLOW_TEST_KAFKA_PORT ?? '21092')
let started = false

export async function globalSetup (): Promise<void> {
  if (process.env.CHURNFLOW_TEST_KAFKA !== undefined) return
  const { config } = loadConfig({ env: process.env, envFile: false })
  const log = createLogger({ level: 'info', format: 'text', destination: process.stderr })
  await rm(stateDir, { recursive: true, force: true })
  try {
    const result = await startLocalKafka({ stateDir, cacheDir: config.cacheDir, log, env: process.env, brokerPort: port })
    started = true
    process.env.CHURNFLOW_TEST_KAFKA = result.bootstrap
    process.stderr.write(`test Kafka ${result.version} at ${result.bootstrap} (started in ${(result.startedInMs / 1000).toFixed(1)} s, state ${stateDir})\n`)
  } catch (error) {
    if (process.env.CI === 'true') throw error
    process.stderr.write(`\n!!! the test Kafka could not start; tests that need it will SKIP: ${(error as Error).message}\n\n`)
  }
}

export async function globalTeardown (): Promise<void> {
  if (!started) return
  const log = createLogger({ level: 'info', format: 'text', destination: process.stderr })
  await stopLocalKafka({ stateDir, log })
  await rm(stateDir, { recursive: true, force: true })
}
