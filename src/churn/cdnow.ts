import { createReadStream, existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import { History } from './history.ts'

/**
 * CDNOW, the public purchase record of the "buy till you die" literature: its calibration period
 * ends 1997-09-30 and its holdout runs to 1998-06-30 (39 weeks each).
 */
export const CDNOW = {
  calibrationEnd: Date.UTC(1997, 8, 30),
  holdoutEnd: Date.UTC(1998, 5, 30),
  masterFile: 'CDNOW_master.txt',
  sampleFile: 'CDNOW_sample.txt'
} as const

/** Where the data lives: `CHURNFLOW_CDNOW_DIR`, else `../shared/data/cdnow` beside the repository. */
export function cdnowDir (env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.CHURNFLOW_CDNOW_DIR ?? resolve(fileURLToPath(new URL('../../', import.meta.url)), '../shared/data/cdnow')
}

/**
 * Reads a CDNOW file (master: `customer_id date cds dollars` with a header; sample: `master_id
 * sample_id date cds dollars`) into a history of `order_placed` events, one per customer and
 * purchase day (several lines on one day are one transaction, as the literature counts them),
 * at 00:00 UTC of that day, with the day's dollars as the order value.
 */
export async function readCdnow (dir: string, file: string = CDNOW.masterFile): Promise<History> {
  const path = join(dir, file)
  if (!existsSync(path)) throw new ChurnflowError(ErrorCodes.USAGE, `${path} does not exist (set CHURNFLOW_CDNOW_DIR to the folder with the CDNOW files)`, { exitCode: 2 })
  const days = new Map<string, { id: string, day: string, value: number }>()
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    const cols = line.trim().split(/\s+/)
    if (cols.length < 4 || !/^\d+$/.test(cols[0] as string)) continue
    const [id, date, value] = cols.length >= 5 ? [cols[0], cols[2], cols[4]] : [cols[0], cols[1], cols[3]]
    if (!/^\d{8}$/.test(date as string)) continue
    const key = `${id as string}:${date as string}`
    const day = days.get(key)
    if (day === undefined) days.set(key, { id: id as string, day: date as string, value: Number(value) })
    else day.value += Number(value)
  }
  const history = new History()
  for (const { id, day, value } of days.values()) {
    history.add({ customer_id: id, event_type: 'order_placed', timestamp: `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}T00:00:00Z`, data: { order_value: value } })
  }
  return history
}

/**
 * Churn labels at a time: 1 for each customer (by history index) with no purchase after `at` up
 * to `until`, for the customers seen by `at`.
 */
export function noPurchaseLabels (history: History, at: number, until: number): Uint8Array {
  const bought = new Uint8Array(history.customers.length)
  for (let i = 0; i < history.size; i++) {
    const t = history.time[i] as number
    if (t > at && t <= until) bought[history.customer[i] as number] = 1
  }
  return bought.map(b => 1 - b)
}
