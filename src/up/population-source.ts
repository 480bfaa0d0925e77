import type { TopicNames } from '../producer/index.ts'
import type { OutRecord, RecordSource } from '../producer/index.ts'
import { Population, type SimRecord } from '../simulator/index.ts'
import { Rng } from '../util/rng.ts'

export interface LivePopulationOptions {
  readonly seed: number
  readonly customers: number
  /** Simulated start, epoch ms: history from here to now is replayed first. */
  readonly start: number
  /** Events to skip: what earlier runs produced already. */
  readonly skip: number
  readonly topics: TopicNames
  /** Called once, when the first record is held back because its time has not come: the history is replayed. */
  readonly onCaughtUp?: () => void
}

/**
 * A population that is replayed from its start and then runs live: a record is handed out only once
 * its event time has come, so the history catches up at the producer's pace and the stream then
 * follows the wall clock. The same seed, start and skip continue exactly where an earlier run stopped.
 */
export function livePopulationSource (options: LivePopulationOptions): RecordSource & { readonly simulatedTime: number | undefined } {
  const population = new Population(new Rng(options.seed), { customers: options.customers, start: options.start, end: Infinity })
  for (let i = 0; i < options.skip; i++) {
    if (population.next() === undefined) break
  }
  let ahead: SimRecord | undefined
  let dry = false
  let last: number | undefined
  let caughtUp = false
  const peek = (): SimRecord | undefined => {
    if (ahead === undefined && !dry) {
      ahead = population.next()
      if (ahead === undefined) dry = true
    }
    return ahead
  }
  return {
    get simulatedTime () { return last },
    take (max, now) {
      const out: OutRecord[] = []
      while (out.length < max) {
        const record = peek()
        if (record === undefined || record.time > now) {
          if (record !== undefined && !caughtUp) {
            caughtUp = true
            options.onCaughtUp?.()
          }
          break
        }
        ahead = undefined
        last = record.time
        out.push({
          topic: options.topics[record.stream],
          key: record.key,
          payload: JSON.stringify(record.value),
          time: record.time,
          event: record.value as unknown as Record<string, unknown>
        })
      }
      return out
    },
    peekTime () {
      return peek()?.time
    }
  }
}
