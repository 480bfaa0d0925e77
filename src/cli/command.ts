import type { ParseArgsOptionsConfig } from 'node:util'
import type { Config, LoadedConfig } from '../config/index.ts'
import type { Logger } from '../logging/index.ts'

export type Env = Readonly<Record<string, string | undefined>>

/** What a command gets to run: its parsed arguments, the loaded configuration and a logger. */
export interface CommandContext {
  readonly positionals: readonly string[]
  readonly values: Readonly<Record<string, string | boolean | undefined>>
  readonly config: Config
  readonly loaded: LoadedConfig
  readonly env: Env
  readonly log: Logger
  /** A line for the person at the terminal (results, not logs). */
  readonly out: (line: string) => void
}

export interface Command {
  readonly name: string
  /** One line for `churnflow --help`. */
  readonly summary: string
  /** The full help text of `churnflow <name> --help`, after the usage line. */
  readonly help: string
  readonly usage: string
  readonly options?: ParseArgsOptionsConfig
  /** Resolves to the process exit code. */
  run (context: CommandContext): Promise<number>
}
