import { describeConfig, renderConfigTable, renderEnvExample } from '../config/index.ts'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import type { Command } from './command.ts'

export const configCommand: Command = {
  name: 'config',
  summary: 'show the effective configuration and where each value came from (secrets hidden)',
  usage: 'churnflow config [--format text|env-example|markdown]',
  help: [
    'Resolves flags, the environment, the .env file and defaults, validates them and prints the result.',
    '  --format env-example   print .env.example (every variable with its default)',
    '  --format markdown      print the README configuration table'
  ].join('\n'),
  options: { format: { type: 'string', default: 'text' } },
  async run ({ values, loaded, out }) {
    switch (values.format) {
      case 'text':
        for (const line of describeConfig(loaded)) out(line)
        if (loaded.envFile !== undefined) out(`# .env file read: ${loaded.envFile}`)
        return 0
      case 'env-example':
        out(renderEnvExample().trimEnd())
        return 0
      case 'markdown':
        out(renderConfigTable().trimEnd())
        return 0
      default:
        throw new ChurnflowError(ErrorCodes.USAGE, `--format ${String(values.format)} is not one of text, env-example, markdown`, { exitCode: 2 })
    }
  }
}
