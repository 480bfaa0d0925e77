import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseEnv } from 'node:util'
import { ChurnflowError, ErrorCodes } from '../errors.ts'
import {
  configKeys, configSchema, settingOf, Sensitivity,
  type Config, type ConfigKey, type Setting
} from './schema.ts'

/** Where a value came from, strongest first. */
export const Layers = {
  FLAG: 'flag',
  ENV: 'environment',
  ENV_FILE: '.env file',
  DEFAULT: 'default'
} as const
export type Layer = (typeof Layers)[keyof typeof Layers]

export interface Source {
  readonly layer: Layer
  /** The flag (`--broker`) or variable (`KAFKA_BOOTSTRAP_SERVERS`) that set it; empty for defaults. */
  readonly name: string
}

export interface LoadConfigOptions {
  /** Values given as command-line flags, by setting key. */
  readonly flags?: Partial<Readonly<Record<ConfigKey, string>>>
  /** The process environment; `process.env` when not given. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /**
   * A `.env` file to read. An explicit path must exist; when not given, `.env` in `cwd`
   * is read if it is there. `false` reads none.
   */
  readonly envFile?: string | false
  readonly cwd?: string
}

export interface LoadedConfig {
  readonly config: Config
  readonly sources: Readonly<Record<ConfigKey, Source>>
  /** Things worth a line in the log that do not stop the program (two spellings of one setting). */
  readonly warnings: readonly string[]
  /** The `.env` file that was read, if any. */
  readonly envFile: string | undefined
}

type RawLayer = Readonly<Record<string, string | undefined>>

function readEnvFile (options: LoadConfigOptions): { path: string | undefined, values: RawLayer } {
  if (options.envFile === false) return { path: undefined, values: {} }
  const cwd = options.cwd ?? process.cwd()
  const explicit = options.envFile !== undefined
  const path = resolve(cwd, options.envFile ?? '.env')
  if (!existsSync(path)) {
    if (explicit) {
      throw new ChurnflowError(ErrorCodes.ENV_FILE, `env file ${path} does not exist`, { exitCode: 2 })
    }
    return { path: undefined, values: {} }
  }
  try {
    return { path, values: parseEnv(readFileSync(path, 'utf8')) }
  } catch (error) {
    throw new ChurnflowError(ErrorCodes.ENV_FILE, `env file ${path} cannot be read: ${(error as Error).message}`, { cause: error, exitCode: 2 })
  }
}

/** Shows a raw value as it may appear in output: secrets hidden, URL passwords masked. */
export function redact (setting: Setting<unknown>, raw: string): string {
  if (setting.sensitive === Sensitivity.SECRET) return raw === '' ? '' : '***'
  if (setting.sensitive === Sensitivity.URL_CREDENTIALS) {
    try {
      const parsed = new URL(raw)
      if (parsed.password !== '') {
        parsed.password = '***'
        return parsed.toString()
      }
      return raw
    } catch {
      // An unparseable URL may still hold a password: show only its scheme.
      const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(raw)
      return scheme === null ? '***' : `${scheme[0]}***`
    }
  }
  return raw
}

function describeSource (source: Source): string {
  switch (source.layer) {
    case Layers.FLAG: return `--${source.name}`
    case Layers.ENV: return source.name
    case Layers.ENV_FILE: return `${source.name} (in .env file)`
    case Layers.DEFAULT: return 'default'
  }
}

/**
 * Resolves every setting from flags, then the environment, then the `.env` file, then defaults,
 * and validates all of them. Throws one `CHURNFLOW_CONFIG_INVALID` error (exit code 2) whose
 * details hold one line per problem, naming the variable, the value given and what is allowed.
 */
export function loadConfig (options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env
  const envFile = readEnvFile(options)
  const values: Record<string, unknown> = {}
  const sources: Partial<Record<ConfigKey, Source>> = {}
  const problems: string[] = []
  const warnings: string[] = []

  for (const key of configKeys) {
    const setting = settingOf(key)
    let raw: string | undefined
    let source: Source | undefined

    const flagValue = options.flags?.[key]
    if (flagValue !== undefined && setting.flag !== undefined) {
      raw = flagValue
      source = { layer: Layers.FLAG, name: setting.flag }
    } else {
      for (const [layer, layerValues] of [[Layers.ENV, env], [Layers.ENV_FILE, envFile.values]] as const) {
        const present = setting.env.filter(name => layerValues[name] !== undefined && layerValues[name] !== '')
        const first = present[0]
        if (first === undefined) continue
        raw = layerValues[first]
        source = { layer, name: first }
        for (const other of present.slice(1)) {
          if (layerValues[other] !== raw) {
            warnings.push(`${first} and ${other} are both set and differ; using ${first}=${JSON.stringify(redact(setting, raw ?? ''))}`)
          }
        }
        break
      }
    }

    if (raw === undefined || source === undefined) {
      if (!setting.required) {
        values[key] = undefined
        sources[key] = { layer: Layers.DEFAULT, name: '' }
        continue
      }
      raw = typeof setting.default === 'function' ? setting.default(env) : setting.default
      source = { layer: Layers.DEFAULT, name: '' }
    }

    const parsed = setting.kind.parse(raw)
    if (parsed.ok) {
      values[key] = parsed.value
    } else {
      problems.push(`${describeSource(source)}=${JSON.stringify(redact(setting, raw))} is invalid: expected ${setting.kind.allowed}`)
    }
    sources[key] = source
  }

  if (values.databaseUrl !== undefined && values.dbHost !== undefined) {
    warnings.push('DATABASE_URL and DB_HOST are both set; DATABASE_URL is used')
  }
  if ((values.saslUsername !== undefined || values.saslPassword !== undefined) && values.saslMechanism === undefined) {
    problems.push('KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD are set but KAFKA_SASL_MECHANISM is not: expected one of plain, scram-sha-256, scram-sha-512')
  }

  if (problems.length > 0) {
    // One variable may serve two settings (BATCH_SIZE: both pipelines): one line for it.
    const lines = [...new Set(problems)]
    throw new ChurnflowError(
      ErrorCodes.CONFIG_INVALID,
      `invalid configuration (${lines.length} problem${lines.length === 1 ? '' : 's'})`,
      { details: lines, exitCode: 2 }
    )
  }
  return { config: values as Config, sources: sources as Record<ConfigKey, Source>, warnings, envFile: envFile.path }
}

/** The effective configuration as `NAME=value  (source)` lines, secrets hidden. */
export function describeConfig (loaded: LoadedConfig): string[] {
  return configKeys.map(key => {
    const setting = settingOf(key)
    const value = loaded.config[key]
    const shown = value === undefined ? '' : redact(setting, setting.kind.format?.(value) ?? String(value))
    const source = loaded.sources[key]
    const origin = source.layer !== Layers.DEFAULT
      ? describeSource(source)
      : setting.required ? 'default' : `unset: ${setting.unsetDoc.replaceAll('`', '')}`
    return `${setting.env[0]}=${shown}  (${origin})`
  })
}

function defaultText (setting: Setting<unknown>): string {
  if (!setting.required) return ''
  return typeof setting.default === 'function' ? '' : setting.default
}

/** `.env.example`: every variable with its default, grouped, each with its documentation. */
export function renderEnvExample (): string {
  const lines = [
    '# churnflow configuration. Copy to .env and edit; flags and the environment override this file.',
    '# Generated from src/config/schema.ts by `churnflow config --format env-example`.',
    ''
  ]
  let group = ''
  for (const key of configKeys) {
    const setting = settingOf(key)
    if (setting.group !== group) {
      group = setting.group
      lines.push(`# --- ${group}`)
    }
    const aliases = setting.env.length > 1 ? ` Also read as ${setting.env.slice(1).join(', ')}.` : ''
    const unset = setting.required ? (setting.defaultDoc === undefined ? '' : ` Default: ${setting.defaultDoc.replaceAll('`', '')}.`) : ` Unset: ${setting.unsetDoc.replaceAll('`', '')}.`
    lines.push(`# ${setting.doc.replaceAll('`', '')}${aliases}${unset}`)
    lines.push(`${setting.env[0]}=${defaultText(setting)}`)
  }
  lines.push('')
  return lines.join('\n')
}

/** The README's configuration table. */
export function renderConfigTable (): string {
  const rows = ['| Variable | Flag | Default | Allowed | Meaning |', '|---|---|---|---|---|']
  for (const key of configKeys) {
    const setting = settingOf(key)
    const names = setting.env.map(n => `\`${n}\``).join(', ')
    const flag = setting.flag === undefined ? '' : `\`--${setting.flag}\``
    const def = setting.required
      ? (setting.defaultDoc ?? (setting.default === '' ? '(empty)' : `\`${String(setting.default)}\``))
      : `unset: ${setting.unsetDoc}`
    rows.push(`| ${names} | ${flag} | ${def} | ${setting.kind.allowed} | ${setting.doc.replaceAll('|', '\\|')} |`)
  }
  return rows.join('\n') + '\n'
}

/** The flags every command accepts for configuration, in `util.parseArgs` form, and their keys. */
export function configFlags (): { options: Record<string, { type: 'string' }>, keyOf: ReadonlyMap<string, ConfigKey> } {
  const options: Record<string, { type: 'string' }> = {}
  const keyOf = new Map<string, ConfigKey>()
  for (const key of configKeys) {
    const flag = configSchema[key].flag
    if (flag === undefined) continue
    options[flag] = { type: 'string' }
    keyOf.set(flag, key)
  }
  return { options, keyOf }
}
