import type { Logger } from '../logging/index.ts'

/**
 * SIGINT and SIGTERM while a command runs: the first calls `onFirst` with the signal's name (stop
 * gracefully); a second exits at once with 130, saying `forced` (what that costs). Disposing the
 * result removes the handlers.
 */
export function stopSignals (log: Logger, forced: string, onFirst: (signal: string) => void): Disposable {
  let signals = 0
  const onSignal = (signal: string): void => {
    signals++
    if (signals === 1) {
      onFirst(signal)
      return
    }
    log.error(`${signal} again: exiting now; ${forced}`)
    process.exit(130)
  }
  const sigint = (): void => { onSignal('SIGINT') }
  const sigterm = (): void => { onSignal('SIGTERM') }
  process.on('SIGINT', sigint)
  process.on('SIGTERM', sigterm)
  return {
    [Symbol.dispose] () {
      process.off('SIGINT', sigint)
      process.off('SIGTERM', sigterm)
    }
  }
}
