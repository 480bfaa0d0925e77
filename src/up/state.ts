import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { ChurnflowError, ErrorCodes } from '../errors.ts'

/** What `churnflow up` keeps between runs, beside the data itself (Kafka, SQL, profiles). */
export interface UpState {
  /** The simulated population: the same seed and start regenerate the same customers and events. */
  readonly producer: {
    readonly seed: number
    readonly customers: number
    /** Simulated start (epoch ms): the history begins here. */
    readonly start: number
    /** Events already acknowledged by Kafka; a resumed run skips this many. */
    produced: number
  }
  /** Counts over every run, for the status line. */
  readonly totals: {
    events: number
    predictions: number
    alerts: number
    deadLettered: number
  }
  /** The fraud pipeline's counts over every run (a state written before up ran it has none: zeros). */
  readonly fraud: {
    scored: number
    flagged: number
    deadLettered: number
  }
}

/** The fraud counts of a first run. */
export const noFraudTotals = (): UpState['fraud'] => ({ scored: 0, flagged: 0, deadLettered: 0 })

export const upStatePath = (stateDir: string): string => join(stateDir, 'up', 'state.json')

/** The saved state, or undefined on a first run. A file that is not a state stops `up` with the fix. */
export async function readUpState (path: string): Promise<UpState | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  try {
    const read = JSON.parse(text) as Omit<UpState, 'fraud'> & { fraud?: UpState['fraud'] }
    const state: UpState = { ...read, fraud: read.fraud ?? noFraudTotals() }
    const p = state.producer
    const f = state.fraud
    const numbers = [p.seed, p.customers, p.start, p.produced, state.totals.events, state.totals.predictions, state.totals.alerts, state.totals.deadLettered, f.scored, f.flagged, f.deadLettered]
    if (!numbers.every(n => Number.isSafeInteger(n) && n >= 0)) throw new Error('a count is not a whole number')
    return state
  } catch (error) {
    throw new ChurnflowError(ErrorCodes.USAGE, `${path} is not churnflow up's state (${(error as Error).message})`, {
      details: ['churnflow up --fresh starts over (it deletes the local data)'],
      exitCode: 2
    })
  }
}

/** Writes the state atomically (a crash leaves the old file or the new one, never half of one). */
export async function writeUpState (path: string, state: UpState): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const temp = `${path}.tmp`
  await writeFile(temp, JSON.stringify(state, null, 2) + '\n')
  await rename(temp, path)
}
