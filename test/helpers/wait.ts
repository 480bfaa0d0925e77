import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Polls `check` every 250 ms until it holds, or fails naming `what` after `timeoutMs` (generous:
 * a test waits for a condition, never for a guess of how long something takes on a busy machine).
 */
export async function waitFor (what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs / 1000} s waiting for ${what}`)
    await sleep(250)
  }
}
