import { pino, type DestinationStream, type Logger } from 'pino'

export type { Logger }

export interface LoggerOptions {
  readonly level: string
  /** `text` reads like the original components' Python logs; `json` is pino's own line format. */
  readonly format: 'text' | 'json'
  /** Where lines go; stdout when not given. */
  readonly destination?: { write (line: string): unknown }
}

const levelNames: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARNING', 50: 'ERROR', 60: 'CRITICAL' }
const omitted = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'component', 'err'])

function timestamp (ms: number): string {
  const d = new Date(ms)
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())},${pad(d.getMilliseconds(), 3)}`
}

/** Formats one pino JSON line as `2024-01-15 10:30:00,123 - INFO - [component] message key=value`. */
export function formatTextLine (line: string): string {
  const record = JSON.parse(line) as Record<string, unknown>
  const extras = Object.entries(record)
    .filter(([k]) => !omitted.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
  const component = typeof record.component === 'string' ? `[${record.component}] ` : ''
  const err = record.err as { message?: string, stack?: string } | undefined
  const errText = err === undefined ? '' : ` - ${err.message ?? ''}`
  const level = levelNames[record.level as number] ?? String(record.level)
  return `${timestamp(record.time as number)} - ${level} - ${component}${String(record.msg ?? '')}${errText}${extras.length > 0 ? ' ' + extras.join(' ') : ''}\n`
}

function textDestination (out: { write (line: string): unknown }): DestinationStream {
  return { write: (line: string) => { out.write(formatTextLine(line)) } }
}

/** The process's root logger; components take `logger.child({ component: 'name' })`. */
export function createLogger (options: LoggerOptions): Logger {
  const out = options.destination ?? process.stdout
  const destination = options.format === 'json' ? out as DestinationStream : textDestination(out)
  return pino({ level: options.level, base: { pid: process.pid } }, destination)
}
