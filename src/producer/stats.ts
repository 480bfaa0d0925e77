/** The producer's counts. generated = sent + failed once every batch has an answer. */
export class ProducerStats {
  readonly startedAt = Date.now()
  /** When the first record was handed to the sink, and when the last answer came: the production phase. */
  firstSendAt: number | undefined
  lastAnswerAt: number | undefined
  generated = 0
  sent = 0
  failed = 0

  get runtimeSeconds (): number {
    return (Date.now() - this.startedAt) / 1000
  }

  /** the e-commerce event producer's PRODUCER STATISTICS block, one line per entry. */
  block (): string[] {
    const runtime = this.runtimeSeconds
    const attempted = this.sent + this.failed
    const rate = runtime > 0 ? this.sent / runtime : 0
    const success = attempted > 0 ? (100 * this.sent) / attempted : 100
    const rule = '='.repeat(60)
    return [
      rule,
      'PRODUCER STATISTICS',
      rule,
      `Runtime: ${runtime.toFixed(1)} seconds`,
      `Events Generated: ${this.generated}`,
      `Events Sent: ${this.sent}`,
      `Events Failed: ${this.failed}`,
      `Events/Second: ${rate.toFixed(2)}`,
      `Success Rate: ${success.toFixed(1)}%`,
      ...(this.firstSendAt !== undefined && this.lastAnswerAt !== undefined && this.lastAnswerAt > this.firstSendAt
        ? [`Producing: ${((this.lastAnswerAt - this.firstSendAt) / 1000).toFixed(1)} seconds, ${(this.sent / ((this.lastAnswerAt - this.firstSendAt) / 1000)).toFixed(0)} events/second`]
        : []),
      rule
    ]
  }
}
