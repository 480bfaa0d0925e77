import { ChurnflowError, ErrorCodes } from '../errors.ts'
import type { CommandContext } from './command.ts'

/** A mistake on the command line: the message, exit code 2, no stack trace. */
export function usage (message: string): ChurnflowError {
  return new ChurnflowError(ErrorCodes.USAGE, message, { exitCode: 2 })
}

/** `--name N`, a whole number from min to max; undefined when not given. */
export function wholeNumberFlag (values: CommandContext['values'], name: string, min: number, max: number): number | undefined {
  const raw = values[name]
  if (raw === undefined || typeof raw === 'boolean') return undefined
  const n = Number(raw)
  if (!/^\d+$/.test(raw) || n < min || n > max) throw usage(`--${name}="${raw}" is invalid: expected a whole number from ${min} to ${max}`)
  return n
}

/** `--name X`, a number above 0, or `max`; undefined when not given. */
export function decimalOrMaxFlag (values: CommandContext['values'], name: string): number | 'max' | undefined {
  const raw = values[name]
  if (raw === undefined || typeof raw === 'boolean') return undefined
  if (raw === 'max') return 'max'
  const n = Number(raw)
  if (!/^\d+(\.\d+)?$/.test(raw) || n <= 0) throw usage(`--${name}="${raw}" is invalid: expected a number above 0, or max`)
  return n
}

/** `--map field=column,...`: which CSV column holds each event field (empty when the flag is absent). */
export function mapFlag (values: CommandContext['values']): Record<string, string> {
  const mapping: Record<string, string> = {}
  if (typeof values.map !== 'string') return mapping
  for (const pair of values.map.split(',')) {
    const [field, column] = pair.split('=').map(s => s.trim())
    if (field === undefined || column === undefined || field === '' || column === '') throw usage(`--map="${values.map}" is invalid: expected field=column[,field=column...]`)
    mapping[field] = column
  }
  return mapping
}
