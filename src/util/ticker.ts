/** A repeating task started by {@link startTicker}. */
export interface Ticker {
  /** Rejects with the first error a tick throws; never resolves. */
  readonly failed: Promise<never>
  /** No tick starts after this; one already running finishes, and is the last. */
  stop (): void
}

/**
 * Runs `tick` every `intervalMs`, each time after the previous tick has finished, until `stop()`.
 * A tick still running at `stop()` schedules nothing after it: a timer set then would keep the
 * process alive after everything else has stopped.
 */
export function startTicker (tick: () => Promise<void>, intervalMs: number): Ticker {
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  const failed = new Promise<never>((_resolve, reject) => {
    const next = (): void => {
      if (!stopped) timer = setTimeout(() => { tick().then(next, reject) }, intervalMs)
    }
    next()
  })
  failed.catch(() => undefined)
  return {
    failed,
    stop () {
      stopped = true
      clearTimeout(timer)
    }
  }
}
