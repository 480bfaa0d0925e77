/** The processor's counts: seed 000's PROCESSING STATISTICS, plus what churnflow adds. */
export class ProcessingStats {
  readonly startedAt = Date.now()
  /** Records taken from Kafka. */
  records = 0
  /** Valid events applied to their profiles (each exactly once). */
  eventsProcessed = 0
  /** Predictions written to every sink. */
  predictionsSaved = 0
  /** Rows the database did not have yet (a replay inserts none). */
  rowsInserted = 0
  alerts = 0
  /** Records sent to the dead-letter topic. */
  deadLettered = 0
  /** Events skipped because their profile had applied them already (replays). */
  duplicates = 0
  /** Dependency calls that failed and were retried. */
  dependencyFailures = 0
  batches = 0
  commits = 0
  /** When the first record was taken and when the last commit landed: the processing phase. */
  firstRecordAt: number | undefined
  lastCommitAt: number | undefined

  /** Events per second over the processing phase (first record to last commit). */
  get processingRate (): number | undefined {
    if (this.firstRecordAt === undefined || this.lastCommitAt === undefined || this.lastCommitAt <= this.firstRecordAt) return undefined
    return this.eventsProcessed / ((this.lastCommitAt - this.firstRecordAt) / 1000)
  }

  /** The process's peak resident memory so far, MB. */
  static peakRssMb (): number {
    return Math.round(process.resourceUsage().maxRSS / 1024)
  }

  get runtimeSeconds (): number {
    return (Date.now() - this.startedAt) / 1000
  }

  /** Records that were errors: the poison ones. Failed dependency calls are retried, so they are not. */
  get errors (): number {
    return this.deadLettered
  }

  get successRate (): number {
    const total = this.eventsProcessed + this.deadLettered
    return total === 0 ? 100 : (100 * this.eventsProcessed) / total
  }

  toJSON (): Record<string, number> {
    return {
      runtime_s: Math.round(this.runtimeSeconds * 10) / 10,
      records: this.records,
      events_processed: this.eventsProcessed,
      predictions_saved: this.predictionsSaved,
      rows_inserted: this.rowsInserted,
      alerts: this.alerts,
      errors: this.errors,
      dead_lettered: this.deadLettered,
      duplicates_skipped: this.duplicates,
      dependency_failures: this.dependencyFailures,
      batches: this.batches,
      commits: this.commits,
      events_per_s: Math.round(this.processingRate ?? 0),
      peak_rss_mb: ProcessingStats.peakRssMb(),
      success_rate: Math.round(this.successRate * 10) / 10
    }
  }

  /** seed 000's PROCESSING STATISTICS block, one line per entry. */
  block (): string[] {
    const s = Math.floor(this.runtimeSeconds)
    const runtime = `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`
    const rule = '='.repeat(60)
    return [
      rule,
      'PROCESSING STATISTICS',
      rule,
      `Runtime: ${runtime}`,
      `Events Processed: ${this.eventsProcessed}`,
      `Predictions Saved: ${this.predictionsSaved}`,
      `Errors: ${this.errors}`,
      `Success Rate: ${this.successRate.toFixed(1)}%`,
      `Alerts: ${this.alerts}`,
      `Dead-lettered: ${this.deadLettered}`,
      `Replayed events skipped: ${this.duplicates}`,
      ...(this.processingRate === undefined || this.firstRecordAt === undefined || this.lastCommitAt === undefined
        ? []
        : [`Processing: ${((this.lastCommitAt - this.firstRecordAt) / 1000).toFixed(1)} seconds, ${Math.round(this.processingRate)} events/second`]),
      `Peak memory (RSS): ${ProcessingStats.peakRssMb()} MB`,
      rule
    ]
  }
}
