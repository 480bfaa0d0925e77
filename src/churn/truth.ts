import { createReadStream, existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import type { CustomerTruth } from '../simulator/index.ts'

/** Reads the simulator's per-customer truth (`churnflow produce --mode population --truth FILE`). */
export async function readTruthFile (path: string): Promise<Map<string, CustomerTruth>> {
  if (!existsSync(path)) throw new ChurnflowError(ErrorCodes.USAGE, `${path} does not exist`, { exitCode: 2 })
  const truth = new Map<string, CustomerTruth>()
  let n = 0
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    n++
    if (line.trim() === '') continue
    try {
      const t = JSON.parse(line) as CustomerTruth
      if (typeof t.customer_id !== 'string' || typeof t.rates !== 'object' || !Array.isArray(t.states)) throw new Error('not a customer truth')
      truth.set(t.customer_id, t)
    } catch (error) {
      throw new ChurnflowError(ErrorCodes.USAGE, `line ${n} of ${path} is not a customer truth record: ${(error as Error).message}`, { exitCode: 2 })
    }
  }
  return truth
}
