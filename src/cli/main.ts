import { parseArgs, type ParseArgsOptionsConfig } from 'node:util'
import { configFlags, loadConfig, type ConfigKey } from '../config/index.ts'
import { ChurnflowError, ErrorCodes, isChurnflowError } from '../errors.ts'
import { createLogger } from '../logging/index.ts'
import type { Command, Env } from './command.ts'
import { apiCommand } from './api-command.ts'
import { configCommand } from './config-command.ts'
import { dbCommand } from './db-command.ts'
import { dashboardCommand } from './dashboard-command.ts'
import { demoCommand } from './demo-command.ts'
import { dlqCommand } from './dlq-command.ts'
import { doctorCommand } from './doctor-command.ts'
import { kafkaCommand } from './kafka-command.ts'
import { processCommand } from './process-command.ts'
import { produceCommand } from './produce-command.ts'
import { scoreCommand } from './score-command.ts'
import { topicsCommand } from './topics-command.ts'
import { upCommand } from './up-command.ts'
import { evaluateCommand, trainCommand } from './train-command.ts'

/** Every subcommand, in the order `churnflow --help` lists them. */
export const commands: readonly Command[] = [upCommand, kafkaCommand, topicsCommand, produceCommand, processCommand, demoCommand, doctorCommand, dlqCommand, dbCommand, trainCommand, evaluateCommand, scoreCommand, apiCommand, dashboardCommand, configCommand]

export interface Io {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: Env
}

const commonOptions: ParseArgsOptionsConfig = {
  help: { type: 'boolean', short: 'h' },
  'env-file': { type: 'string' }
}

function overview (): string {
  const width = Math.max(...commands.map(c => c.name.length))
  return [
    'churnflow: real-time churn early warning on Apache Kafka',
    '',
    'Usage: churnflow <command> [options]',
    '',
    'Commands:',
    ...commands.map(c => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --env-file FILE and the configuration flags (churnflow config lists them).',
    'churnflow <command> --help tells more.'
  ].join('\n')
}

function commandHelp (command: Command): string {
  const flags = Object.keys(configFlags().options).map(f => `--${f}`).join(' ')
  return `Usage: ${command.usage}\n\n${command.help}\n\nConfiguration flags: ${flags}\n  --env-file FILE  read this .env file (default: .env in the current directory, when present)`
}

function report (error: unknown, io: Io): number {
  if (isChurnflowError(error)) {
    if (error.code === ErrorCodes.CONFIG_INVALID) {
      for (const line of error.details) io.stderr(`churnflow: config error: ${line}\n`)
    } else {
      io.stderr(`churnflow: ${error.message}\n`)
      for (const line of error.details) io.stderr(`  ${line}\n`)
    }
    return error.exitCode
  }
  const err = error as Error
  io.stderr(`churnflow: unexpected error: ${err.message}\n${err.stack ?? ''}\n`)
  return 1
}

/** Runs one command line; resolves to the exit code. */
export async function main (argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const target = name === 'help' ? commands.find(c => c.name === rest[0]) : undefined
    io.stdout(`${target === undefined ? overview() : commandHelp(target)}\n`)
    return 0
  }
  if (name === '--version' || name === '-v') {
    io.stdout('churnflow 0.1.0\n')
    return 0
  }
  const command = commands.find(c => c.name === name)
  try {
    if (command === undefined) {
      throw new ChurnflowError(ErrorCodes.USAGE, `unknown command "${name}"; churnflow --help lists the commands`, { exitCode: 2 })
    }
    const flags = configFlags()
    let parsed
    try {
      parsed = parseArgs({
        args: [...rest],
        options: { ...commonOptions, ...flags.options, ...command.options },
        allowPositionals: true,
        strict: true
      })
    } catch (error) {
      throw new ChurnflowError(ErrorCodes.USAGE, `${(error as Error).message.split('\n')[0] ?? ''}; churnflow ${command.name} --help shows the options`, { exitCode: 2 })
    }
    const values = parsed.values as Record<string, string | boolean | undefined>
    if (values.help === true) {
      io.stdout(`${commandHelp(command)}\n`)
      return 0
    }
    const flagValues: Partial<Record<ConfigKey, string>> = {}
    for (const [flag, key] of flags.keyOf) {
      const value = values[flag]
      if (typeof value === 'string') flagValues[key] = value
    }
    const envFile = values['env-file']
    const loaded = loadConfig({ flags: flagValues, env: io.env, ...(typeof envFile === 'string' ? { envFile } : {}) })
    const log = createLogger({ level: loaded.config.logLevel, format: loaded.config.logFormat, destination: { write: io.stdout } })
    for (const warning of loaded.warnings) log.warn(warning)
    return await command.run({
      positionals: parsed.positionals,
      values,
      config: loaded.config,
      loaded,
      env: io.env,
      log,
      out: line => { io.stdout(`${line}\n`) }
    })
  } catch (error) {
    return report(error, io)
  }
}
