/** Resolves at the first SIGINT or SIGTERM, then stops listening for them. */
export function stopSignal (): Promise<void> {
  return new Promise<void>(resolve => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
