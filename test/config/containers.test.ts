// The container files (Dockerfile, docker-compose.yml) against churnflow's own configuration schema and
// command line: every variable a churnflow container is given must be one churnflow knows (a typo such
// as KAFKA_BROKERS would otherwise be ignored silently), every value must pass churnflow's validation,
// every command and flag must exist, and every host a churnflow service points at must be a service of
// the file. No Docker engine and no services are needed: the files are parsed here.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util'
import { commands, main } from '../../src/cli/main.ts'
import { configFlags, configKeys, configSchema, loadConfig, type Config, type ConfigKey } from '../../src/config/index.ts'
import { isChurnflowError } from '../../src/errors.ts'
import { KAFKA_VERSION } from '../../src/kafka/local/index.ts'

const repoFile = (name: string): string => readFileSync(fileURLToPath(new URL(`../../${name}`, import.meta.url)), 'utf8')

// ---------------------------------------------------------------------------------------------------
// A strict parser for the subset of YAML docker-compose.yml keeps to: block mappings and block
// sequences indented by two spaces, one value a line; scalars plain, "double-quoted" (JSON escapes),
// a flow sequence written as a JSON array, or {}; comments on their own lines. Anything else (tabs,
// anchors, single quotes, block strings, flow mappings, trailing comments, YAML's yes/no/null words)
// is an error, so the file cannot drift into a shape this test would misread.

type Yaml = string | Yaml[] | { [key: string]: Yaml }
type YamlMap = Record<string, Yaml>

interface Line { readonly no: number, readonly indent: number, readonly text: string }

class YamlSubsetError extends Error {}

function fail (line: Line | undefined, message: string): never {
  throw new YamlSubsetError(line === undefined ? message : `line ${line.no}: ${message}`)
}

const AMBIGUOUS_PLAIN = /^(?:true|false|yes|no|on|off|y|n|null|~)$/i

function parseScalar (raw: string, line: Line): Yaml {
  const text = raw.trim()
  if (text === '') fail(line, 'empty value')
  if (text === '{}') return {}
  if (text.startsWith('"') || text.startsWith('[')) {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      fail(line, `${text} is not a complete "string" or ["sequence"] in JSON form`)
    }
    if (typeof value === 'string') return value
    if (Array.isArray(value) && value.every(v => typeof v === 'string' || typeof v === 'number')) return value.map(String)
    fail(line, `${text}: a flow sequence may hold only strings and numbers`)
  }
  if (/^['{&*!|>%@`#,?-]/.test(text)) fail(line, `${text}: this form of value is outside the YAML subset (use "double quotes")`)
  if (text.includes(' #') || text.includes(': ') || text.endsWith(':')) fail(line, `${text}: quote a value holding ": " or " #"`)
  if (AMBIGUOUS_PLAIN.test(text)) fail(line, `${text}: quote it ("${text}"), YAML would not read it as text`)
  return text
}

export function parseYamlSubset (source: string): YamlMap {
  const lines: Line[] = []
  source.split('\n').forEach((rawLine, index) => {
    const no = index + 1
    const text = rawLine.replace(/\r$/, '')
    if (text.includes('\t')) fail({ no, indent: 0, text }, 'tab character')
    if (/^\s*(?:#.*)?$/.test(text)) return
    if (/\s+$/.test(text)) fail({ no, indent: 0, text }, 'trailing whitespace')
    const indent = text.length - text.trimStart().length
    if (indent % 2 !== 0) fail({ no, indent, text }, 'indentation is not a multiple of two spaces')
    if (text.trimStart() === '---' || text.trimStart() === '...') fail({ no, indent, text }, 'one document only')
    lines.push({ no, indent, text: text.trimStart() })
  })
  let at = 0

  const isItem = (line: Line): boolean => line.text === '-' || line.text.startsWith('- ')

  function block (indent: number): Yaml {
    const first = lines[at]
    if (first === undefined || first.indent !== indent) fail(first, `expected a block indented by ${indent}`)
    return isItem(first) ? sequence(indent) : mapping(indent)
  }

  function sequence (indent: number): Yaml[] {
    const items: Yaml[] = []
    for (let line = lines[at]; line !== undefined && line.indent >= indent; line = lines[at]) {
      if (line.indent > indent) fail(line, 'unexpected indentation')
      if (!isItem(line)) fail(line, 'a mapping key among sequence items')
      const value = parseScalar(line.text.slice(1), line)
      if (typeof value === 'string' && /^[A-Za-z0-9_.-]+:$/.test(value)) fail(line, 'mappings inside sequences are outside the YAML subset')
      items.push(value)
      at++
    }
    return items
  }

  function mapping (indent: number): YamlMap {
    const map: YamlMap = {}
    for (let line = lines[at]; line !== undefined && line.indent >= indent; line = lines[at]) {
      if (line.indent > indent) fail(line, 'unexpected indentation')
      if (isItem(line)) fail(line, 'a sequence item among mapping keys')
      const match = /^([A-Za-z0-9_.-]+):(?: (.*))?$/.exec(line.text)
      if (match === null) fail(line, `"${line.text}" is not "key: value" or "key:"`)
      const key = match[1]!
      if (Object.hasOwn(map, key)) fail(line, `duplicate key ${key}`)
      at++
      if (match[2] !== undefined) {
        map[key] = parseScalar(match[2], line)
      } else {
        const next = lines[at]
        if (next === undefined || next.indent !== indent + 2) fail(line, `${key}: has no value (nested values are indented by two more spaces)`)
        map[key] = block(indent + 2)
      }
    }
    return map
  }

  if (lines.length === 0) fail(undefined, 'empty document')
  const root = block(0)
  if (at < lines.length) fail(lines[at], 'unexpected indentation')
  if (Array.isArray(root) || typeof root === 'string') fail(lines[0], 'the document must be a mapping')
  return root
}

// ---------------------------------------------------------------------------------------------------
// Compose interpolation: ${VAR:-default} and ${VAR-default} resolve to their default (the value the
// file gives when nothing overrides it), $$ is a literal $. A bare $VAR or ${VAR} has no value of the
// file's own to check, so it is reported.

function interpolate (value: string, where: string, problems: string[]): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)|\$\{[^}]*\}?/g,
    (whole: string, name?: string, op?: string, arg?: string, bare?: string) => {
      if (whole === '$$') return '$'
      if (name !== undefined && (op === ':-' || op === '-')) return arg ?? ''
      problems.push(`${where}: ${whole} has no default; write \${${name ?? bare ?? 'VAR'}:-value} so the file's value can be checked`)
      return ''
    })
}

// ---------------------------------------------------------------------------------------------------
// Dockerfile: ENV, ENTRYPOINT, CMD and EXPOSE.

interface Dockerfile {
  readonly env: Record<string, string>
  readonly entrypoint: readonly string[] | undefined
  readonly cmd: readonly string[] | undefined
  readonly expose: readonly number[]
}

function parseDockerfile (source: string, problems: string[]): Dockerfile {
  const env: Record<string, string> = {}
  let entrypoint: string[] | undefined
  let cmd: string[] | undefined
  const expose: number[] = []
  const instructions: string[] = []
  let pending = ''
  for (const raw of source.split('\n')) {
    const line = raw.replace(/\r$/, '')
    if (pending === '' && /^\s*(?:#.*)?$/.test(line)) continue
    if (pending !== '' && /^\s*#/.test(line)) continue // comment lines inside a continuation
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' '
      continue
    }
    instructions.push((pending + line).trim())
    pending = ''
  }
  if (pending !== '') instructions.push(pending.trim())
  let stages = 0
  for (const instruction of instructions) {
    const match = /^([A-Za-z]+)\s+(.*)$/s.exec(instruction)
    if (match === null) {
      problems.push(`Dockerfile: cannot read "${instruction}"`)
      continue
    }
    const keyword = match[1]!.toUpperCase()
    const rest = match[2]!.trim()
    if (keyword === 'FROM') {
      // ENV, ENTRYPOINT and CMD of the last stage are the image's: start over at each stage.
      if (++stages > 1) {
        for (const name of Object.keys(env)) Reflect.deleteProperty(env, name)
        entrypoint = undefined
        cmd = undefined
        expose.length = 0
      }
    } else if (keyword === 'ENV') {
      if (!rest.includes('=')) {
        const legacy = /^([A-Za-z_][A-Za-z0-9_]*)\s+(.*)$/.exec(rest)
        if (legacy === null) problems.push(`Dockerfile: cannot read ENV ${rest}`)
        else env[legacy[1]!] = legacy[2]!
        continue
      }
      const pair = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)\s*/gy
      let read = 0
      for (let m = pair.exec(rest); m !== null; m = pair.exec(rest)) {
        const value = m[2]!
        env[m[1]!] = value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value
        read = pair.lastIndex
      }
      if (read !== rest.length) problems.push(`Dockerfile: cannot read ENV ${rest}`)
    } else if (keyword === 'ENTRYPOINT' || keyword === 'CMD') {
      let form: unknown
      try {
        form = JSON.parse(rest)
      } catch {
        form = undefined
      }
      if (!Array.isArray(form) || !form.every(v => typeof v === 'string')) {
        // Shell form runs under /bin/sh -c, which does not pass SIGTERM on: the processor could not
        // finish its batch and commit on `docker stop`.
        problems.push(`Dockerfile: ${keyword} ${rest} must be in exec form, a JSON array of strings`)
        continue
      }
      if (keyword === 'ENTRYPOINT') entrypoint = form
      else cmd = form
    } else if (keyword === 'EXPOSE') {
      for (const port of rest.split(/\s+/)) expose.push(Number(port.replace(/\/tcp$/, '')))
    }
  }
  return { env, entrypoint, cmd, expose }
}

// ---------------------------------------------------------------------------------------------------
// The checker.

/** Every variable churnflow reads: each setting's preferred name and the original components' spellings of it. */
const knownVariables: ReadonlySet<string> = new Set(configKeys.flatMap(key => configSchema[key].env))

export interface ChurnflowService {
  readonly name: string
  readonly args: readonly string[]
  /** The variables the container gets: the image's ENV, then the service's environment. */
  readonly env: Readonly<Record<string, string>>
  readonly config: Config | undefined
}

export interface ContainerReport {
  readonly problems: readonly string[]
  readonly services: ReadonlyMap<string, ChurnflowService>
  readonly compose: YamlMap
  readonly dockerfile: Dockerfile
}

const asMap = (value: Yaml | undefined): YamlMap | undefined =>
  value !== undefined && typeof value !== 'string' && !Array.isArray(value) ? value : undefined

/** Whether a compose service runs the churnflow image: built from the Dockerfile, or tagged churnflow. */
function isChurnflowService (service: YamlMap): boolean {
  const image = service.image
  return service.build !== undefined || (typeof image === 'string' && /^(?:[^/]+\/)*churnflow(?::|@|$)/.test(image))
}

function checkVariables (env: Readonly<Record<string, string>>, where: string, problems: string[]): void {
  for (const name of Object.keys(env)) {
    if (!knownVariables.has(name)) problems.push(`${where}: ${name} is not a variable churnflow knows (src/config/schema.ts)`)
  }
}

function loadOrReport (env: Readonly<Record<string, string>>, flags: Partial<Record<ConfigKey, string>>, where: string, problems: string[]): Config | undefined {
  try {
    return loadConfig({ env, flags, envFile: false }).config
  } catch (error) {
    if (!isChurnflowError(error)) throw error
    problems.push(...(error.details.length > 0 ? error.details : [error.message]).map(d => `${where}: ${d}`))
    return undefined
  }
}

/**
 * Checks a command line against churnflow's: the command must exist and churnflow's own parser must
 * accept its flags (run with --help appended, which parses strictly and stops before doing anything).
 * Returns the configuration flags it sets, by setting key.
 */
async function checkCommand (args: readonly string[], where: string, problems: string[]): Promise<Partial<Record<ConfigKey, string>>> {
  const [name, ...rest] = args
  const command = commands.find(c => c.name === name)
  if (command === undefined) {
    problems.push(`${where}: "${String(name)}" is not a churnflow command (${commands.map(c => c.name).join(', ')})`)
    return {}
  }
  let stderr = ''
  const code = await main([...args, '--help'], { stdout: () => undefined, stderr: text => { stderr += text }, env: {} })
  if (code !== 0) {
    problems.push(`${where}: churnflow rejects "${args.join(' ')}": ${stderr.trim()}`)
    return {}
  }
  const flags = configFlags()
  const options: ParseArgsOptionsConfig = { ...flags.options, ...command.options, help: { type: 'boolean' }, 'env-file': { type: 'string' } }
  const { values } = parseArgs({ args: rest, options, strict: false, allowPositionals: true })
  const set: Partial<Record<ConfigKey, string>> = {}
  for (const [flag, key] of flags.keyOf) {
    const value = values[flag]
    if (typeof value === 'string') set[key] = value
  }
  if (typeof values['env-file'] === 'string') problems.push(`${where}: --env-file is read inside the container; set environment: instead`)
  return set
}

function stringList (value: Yaml | undefined, where: string, problems: string[]): string[] | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string') return value.split(/\s+/).filter(s => s !== '')
  if (Array.isArray(value) && value.every(v => typeof v === 'string')) return value as string[]
  problems.push(`${where}: expected a list of strings`)
  return undefined
}

function environmentOf (value: Yaml | undefined, where: string, problems: string[]): Record<string, string> {
  const env: Record<string, string> = {}
  if (value === undefined) return env
  if (Array.isArray(value)) {
    for (const item of value) {
      const match = typeof item === 'string' ? /^([^=]+)=(.*)$/.exec(item) : null
      if (match === null) problems.push(`${where}: "${String(item)}" is not NAME=value`)
      else env[match[1]!] = interpolate(match[2]!, `${where}.${match[1]!}`, problems)
    }
    return env
  }
  const map = asMap(value)
  if (map === undefined) {
    problems.push(`${where}: expected a mapping of NAME: "value"`)
    return env
  }
  for (const [name, raw] of Object.entries(map)) {
    if (typeof raw !== 'string') problems.push(`${where}.${name}: expected a "string" value`)
    else env[name] = interpolate(raw, `${where}.${name}`, problems)
  }
  return env
}

function dependsOn (service: YamlMap): string[] {
  const value = service.depends_on
  if (value === undefined) return []
  if (Array.isArray(value)) return value.filter(v => typeof v === 'string')
  return Object.keys(asMap(value) ?? {})
}

/** The container side of a port mapping: "5000:5000", "127.0.0.1:5000:5000", "5000", "5000/tcp". */
function containerPort (mapping: string): number {
  return Number(mapping.replace(/\/(?:tcp|udp)$/, '').split(':').at(-1))
}

/** The commands that connect to KAFKA_BROKER (which has a default, 127.0.0.1:9092, unlike the other hosts). */
const kafkaCommands: ReadonlySet<string> = new Set(['process', 'produce', 'topics', 'doctor'])

/** The hosts a churnflow command connects to with this configuration, and what it calls each. */
function hostsOf (command: string, config: Config): Array<{ setting: string, host: string, port: number | undefined }> {
  const hosts: Array<{ setting: string, host: string, port: number | undefined }> = []
  for (const broker of kafkaCommands.has(command) ? config.kafkaBrokers : []) {
    const at = broker.lastIndexOf(':')
    hosts.push({ setting: 'KAFKA_BROKER', host: broker.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(broker.slice(at + 1)) })
  }
  if (config.scoringApiUrl !== undefined) {
    const url = new URL(config.scoringApiUrl)
    hosts.push({ setting: 'FLASK_API_URL', host: url.hostname, port: Number(url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : url.port) })
  }
  if (config.databaseUrl !== undefined) {
    const url = new URL(config.databaseUrl)
    if (url.hostname !== '') hosts.push({ setting: 'DATABASE_URL', host: url.hostname, port: url.port === '' ? undefined : Number(url.port) })
  } else if (config.dbHost !== undefined) {
    hosts.push({ setting: 'DB_HOST', host: config.dbHost, port: config.dbPort })
  }
  if (config.redisHost !== undefined) hosts.push({ setting: 'REDIS_HOST', host: config.redisHost, port: config.redisPort })
  return hosts
}

/**
 * Checks docker-compose.yml and the Dockerfile against churnflow's configuration and command line.
 * Returns every problem found (an empty list is a pass) and, per churnflow service, what it runs with.
 */
export async function checkContainers (composeText: string, dockerfileText: string): Promise<ContainerReport> {
  const problems: string[] = []
  const dockerfile = parseDockerfile(dockerfileText, problems)
  let compose: YamlMap
  try {
    compose = parseYamlSubset(composeText)
  } catch (error) {
    if (!(error instanceof YamlSubsetError)) throw error
    return { problems: [...problems, `docker-compose.yml: ${error.message}`], services: new Map(), compose: {}, dockerfile }
  }

  // The image on its own.
  checkVariables(dockerfile.env, 'Dockerfile ENV', problems)
  loadOrReport(dockerfile.env, {}, 'Dockerfile ENV', problems)
  if (JSON.stringify(dockerfile.entrypoint) !== JSON.stringify(['node', 'bin/churnflow.js'])) {
    problems.push(`Dockerfile: ENTRYPOINT is ${JSON.stringify(dockerfile.entrypoint)}, expected ["node", "bin/churnflow.js"]`)
  }
  if (dockerfile.cmd === undefined) problems.push('Dockerfile: no CMD (the default churnflow command)')
  else await checkCommand(dockerfile.cmd, 'Dockerfile CMD', problems)

  const services = asMap(compose.services)
  if (services === undefined) {
    return { problems: [...problems, 'docker-compose.yml: no services mapping'], services: new Map(), compose, dockerfile }
  }
  const found = new Map<string, ChurnflowService>()
  const commandOf = new Map<string, string>()
  for (const [name, value] of Object.entries(services)) {
    const service = asMap(value)
    const where = `service ${name}`
    if (service === undefined) {
      problems.push(`${where}: expected a mapping`)
      continue
    }
    for (const dependency of dependsOn(service)) {
      if (services[dependency] === undefined) problems.push(`${where}: depends_on ${dependency}, which is not a service`)
    }
    if (!isChurnflowService(service)) continue // kafka, mariadb, redis: their images' own variables

    if (service.entrypoint !== undefined) problems.push(`${where}: overrides the image's ENTRYPOINT (node bin/churnflow.js)`)
    const env = environmentOf(service.environment, `${where} environment`, problems)
    checkVariables(env, where, problems)
    const args = stringList(service.command, `${where} command`, problems) ?? [...(dockerfile.cmd ?? [])]
    const flags = await checkCommand(args, `${where} command`, problems)
    const effective = { ...dockerfile.env, ...env }
    const config = loadOrReport(effective, flags, where, problems)
    found.set(name, { name, args, env: effective, config })
    commandOf.set(name, args[0] ?? '')

    if (config === undefined) continue
    const listensOn = args[0] === 'api' ? config.apiPort : args[0] === 'process' || args[0] === 'up' ? config.opsPort : undefined
    if (listensOn !== undefined && config.apiHost !== '0.0.0.0' && config.apiHost !== '::') {
      problems.push(`${where}: API_HOST=${config.apiHost} is not reachable from other containers; use 0.0.0.0`)
    }
    for (const port of stringList(service.ports, `${where} ports`, problems) ?? []) {
      if (listensOn === undefined) problems.push(`${where}: publishes ${port}, but churnflow ${args[0] ?? ''} listens on no port`)
      else if (containerPort(port) !== listensOn) problems.push(`${where}: publishes ${port}, but churnflow ${args[0] ?? ''} listens on ${listensOn}`)
    }
  }

  // Every host a churnflow service connects to is a service it waits for; a scoring API is a churnflow
  // api on the port the URL names.
  for (const service of found.values()) {
    if (service.config === undefined) continue
    const waitsFor = new Set(dependsOn(asMap(services[service.name])!))
    for (const { setting, host, port } of hostsOf(service.args[0] ?? '', service.config)) {
      const where = `service ${service.name}: ${setting} names ${host}`
      if (services[host] === undefined) {
        problems.push(`${where}, which is not a service of this file${host === 'localhost' || host.startsWith('127.') ? ' (localhost is the container itself)' : ''}`)
        continue
      }
      if (!waitsFor.has(host)) problems.push(`${where}, but ${service.name} does not depend_on it`)
      if (setting === 'FLASK_API_URL') {
        const api = found.get(host)
        if (api === undefined || commandOf.get(host) !== 'api') problems.push(`${where}, which does not run churnflow api`)
        else if (api.config !== undefined && api.config.apiPort !== port) problems.push(`${where}:${String(port)}, but that api listens on ${api.config.apiPort}`)
      }
    }
  }
  return { problems, services: found, compose, dockerfile }
}

// ---------------------------------------------------------------------------------------------------
// The files of the repository.

const composeText = repoFile('docker-compose.yml')
const dockerfileText = repoFile('Dockerfile')

test('the repository\'s Dockerfile and docker-compose.yml use only churnflow\'s variables, values, commands and flags', async () => {
  const report = await checkContainers(composeText, dockerfileText)
  assert.deepEqual(report.problems, [])
  assert.deepEqual([...report.services.keys()].sort(), ['api', 'processor', 'producer'])
})

test('the image: non-root, exec-form entrypoint, runs the processor by default, exposes the API and ops ports', async () => {
  const { dockerfile } = await checkContainers(composeText, dockerfileText)
  assert.match(dockerfileText, /^FROM node:24(?:-bookworm)?-slim\b/m)
  assert.match(dockerfileText, /^USER node$/m)
  assert.match(dockerfileText, /npm ci --omit=dev/)
  assert.deepEqual(dockerfile.cmd, ['process'])
  const defaults = loadConfig({ env: dockerfile.env, envFile: false }).config
  assert.ok(dockerfile.expose.includes(defaults.apiPort), `EXPOSE ${defaults.apiPort} (API_PORT)`)
  assert.ok(dockerfile.expose.includes(defaults.opsPort), `EXPOSE ${defaults.opsPort} (OPS_PORT)`)
  assert.equal(defaults.apiHost, '0.0.0.0')
  // Everything the image copies is there, and nothing it needs is left out by .dockerignore.
  const ignored = repoFile('.dockerignore').split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
  for (const copied of ['package.json', 'package-lock.json', 'bin', 'src', 'models']) {
    assert.match(dockerfileText, new RegExp(`^COPY .*\\b${copied.replace('.', '\\.')}\\b`, 'm'), `the image copies ${copied}`)
    assert.ok(!ignored.includes(copied), `.dockerignore must not drop ${copied}`)
  }
  for (const kept of ['node_modules', '.git', '.env', 'test', 'bench']) assert.ok(ignored.includes(kept), `.dockerignore drops ${kept}`)
})

test('the compose topology: processor, api and producer wired to kafka, mariadb and redis as the seeds were', async () => {
  const { services, compose } = await checkContainers(composeText, dockerfileText)
  const processor = services.get('processor')!.config!
  const producer = services.get('producer')!.config!
  const api = services.get('api')!.config!
  assert.deepEqual(services.get('processor')!.args, ['process'])
  assert.deepEqual(services.get('api')!.args, ['api'])
  assert.equal(services.get('producer')!.args[0], 'produce')
  assert.deepEqual(processor.kafkaBrokers, ['kafka:9092'])
  assert.deepEqual(producer.kafkaBrokers, ['kafka:9092'])
  assert.equal(processor.userEventsTopic, producer.userEventsTopic)
  assert.equal(processor.customerEventsTopic, producer.customerEventsTopic)
  assert.equal(processor.scoringApiUrl, 'http://api:5000')
  assert.equal(processor.dbHost, 'mariadb')
  assert.equal(processor.redisHost, 'redis')
  assert.equal(api.redisHost, 'redis')
  assert.equal(api.apiPort, 5000)
  assert.equal(processor.opsPort, 3000)

  const third = asMap(compose.services)!
  const kafka = asMap(third.kafka)!
  assert.equal(kafka.image, `apache/kafka:${KAFKA_VERSION}`, 'the same Apache Kafka as `churnflow kafka start`')
  const kafkaEnv = environmentOf(kafka.environment, 'kafka', [])
  assert.match(kafkaEnv.KAFKA_PROCESS_ROLES ?? '', /broker/)
  assert.match(kafkaEnv.KAFKA_PROCESS_ROLES ?? '', /controller/)
  for (const broker of processor.kafkaBrokers) {
    assert.ok((kafkaEnv.KAFKA_ADVERTISED_LISTENERS ?? '').split(',').some(l => l.endsWith(`://${broker}`)), `kafka advertises ${broker}`)
  }

  // MariaDB creates the database and the user the processor logs in as (the churn prediction consumer's churn_db).
  const mariadb = asMap(third.mariadb)!
  assert.match(String(mariadb.image), /^mariadb:10\.11\b/)
  const dbEnv = environmentOf(mariadb.environment, 'mariadb', [])
  assert.equal(processor.dbName, 'churn_db')
  assert.equal(dbEnv.MARIADB_DATABASE, processor.dbName)
  assert.equal(dbEnv.MARIADB_USER, processor.dbUser)
  assert.equal(dbEnv.MARIADB_PASSWORD, processor.dbPassword)
  assert.match(String(asMap(third.redis)!.image), /^redis:7\b/)
})

// ---------------------------------------------------------------------------------------------------
// The checker rejects what it should, on synthetic files.

const baseDockerfile = 'FROM node:24-slim\nENV API_HOST=0.0.0.0\nENTRYPOINT ["node", "bin/churnflow.js"]\nCMD ["process"]\n'

/**
 * A small compose file: a churnflow service `app` (running `process`) that depends on kafka and redis,
 * and a mariadb it does not depend on. `environment` lines are added to app's KAFKA_BROKER; `extra`
 * lines go at the end (indented by 4 they belong to app, by 2 they are services).
 */
function composeWith (environment: string, extra = ''): string {
  return [
    'services:',
    '  kafka:',
    '    image: apache/kafka:4.1.2',
    '  redis:',
    '    image: redis:7',
    '    environment:',
    '      NOT_A_CHURNFLOW_NAME: "fine for a third-party image"',
    '  mariadb:',
    '    image: mariadb:10.11',
    '  app:',
    '    build: .',
    '    command: ["process"]',
    '    depends_on:',
    '      - kafka',
    '      - redis',
    '    environment:',
    '      KAFKA_BROKER: "kafka:9092"',
    ...environment.split('\n').filter(l => l !== '').map(l => `      ${l}`),
    ...(extra === '' ? [] : [extra])
  ].join('\n') + '\n'
}

async function problemsOf (compose: string, dockerfile = baseDockerfile): Promise<readonly string[]> {
  return (await checkContainers(compose, dockerfile)).problems
}

test('the synthetic baseline passes, and third-party services may set their own images\' variables', async () => {
  assert.deepEqual(await problemsOf(composeWith('REDIS_HOST: "redis"\nOPS_PORT: "3000"')), [])
})

test('a variable churnflow does not know is rejected, in compose and in the Dockerfile', async () => {
  const found = await problemsOf(composeWith('REDIS_HOST: "redis"\nKAFKA_BROKERS: "kafka:9092"'))
  assert.equal(found.length, 1)
  assert.match(found[0]!, /service app: KAFKA_BROKERS is not a variable churnflow knows/)
  const listForm = await problemsOf(composeWith('').replace('      KAFKA_BROKER: "kafka:9092"\n', '      - KAFKA_BROKER=kafka:9092\n      - CHURN_FLOW_MADE_UP=1\n'))
  assert.deepEqual(listForm, ['service app: CHURN_FLOW_MADE_UP is not a variable churnflow knows (src/config/schema.ts)'])
  const image = await problemsOf(composeWith('REDIS_HOST: "redis"'), baseDockerfile.replace('ENV API_HOST=0.0.0.0', 'ENV API_HOST=0.0.0.0 NODE_ENV=production'))
  assert.deepEqual(image, ['Dockerfile ENV: NODE_ENV is not a variable churnflow knows (src/config/schema.ts)'])
  // A churnflow service is recognised by its image name too.
  const tagged = await problemsOf(composeWith('MADE_UP: "x"').replace('    build: .', '    image: registry.example.com/team/churnflow:1.2'))
  assert.ok(tagged.some(p => p.includes('MADE_UP is not a variable churnflow knows')), tagged.join('\n'))
})

test('values are validated by churnflow\'s own loadConfig, after ${VAR:-default} interpolation', async () => {
  const bad = await problemsOf(composeWith('REDIS_HOST: "redis"\nREDIS_PORT: "70000"\nLOG_LEVEL: "loud"'))
  assert.equal(bad.length, 2, bad.join('\n'))
  assert.match(bad[0]!, /service app: REDIS_PORT="70000" is invalid/)
  assert.match(bad[1]!, /service app: LOG_LEVEL="loud" is invalid/)
  assert.deepEqual(await problemsOf(composeWith('REDIS_HOST: "redis"\nREDIS_PORT: "${REDIS_PORT:-6380}"\nDB_PASSWORD: "$${literal}"')), [])
  const defaulted = await problemsOf(composeWith('REDIS_HOST: "redis"\nREDIS_PORT: "${REDIS_PORT:-not-a-port}"'))
  assert.match(defaulted.join('\n'), /REDIS_PORT="not-a-port" is invalid/)
  const unresolved = await problemsOf(composeWith('REDIS_HOST: "redis"\nREDIS_PASSWORD: "${REDIS_PASSWORD}"'))
  assert.match(unresolved.join('\n'), /\$\{REDIS_PASSWORD\} has no default/)
  const image = await problemsOf(composeWith('REDIS_HOST: "redis"'), baseDockerfile.replace('ENV API_HOST=0.0.0.0', 'ENV API_HOST=0.0.0.0 \\\n    OPS_PORT=99999'))
  assert.match(image.join('\n'), /Dockerfile ENV: OPS_PORT="99999" is invalid/)
})

test('commands and flags must be churnflow\'s', async () => {
  const unknown = await problemsOf(composeWith('REDIS_HOST: "redis"').replace('["process"]', '["serve"]'))
  assert.match(unknown.join('\n'), /"serve" is not a churnflow command/)
  const badFlag = await problemsOf(composeWith('REDIS_HOST: "redis"').replace('["process"]', '["process", "--stremas", "both"]'))
  assert.match(badFlag.join('\n'), /churnflow rejects "process --stremas both"/)
  const badConfigFlag = await problemsOf(composeWith('REDIS_HOST: "redis"').replace('["process"]', '["process", "--ops-port", "x"]'))
  assert.match(badConfigFlag.join('\n'), /--ops-port="x" is invalid/)
  assert.deepEqual(await problemsOf(composeWith('REDIS_HOST: "redis"').replace('["process"]', '"process --streams user-events --batch-size 100"')), [])
  const image = await problemsOf(composeWith('REDIS_HOST: "redis"'), baseDockerfile.replace('CMD ["process"]', 'CMD churnflow process'))
  assert.match(image.join('\n'), /CMD churnflow process must be in exec form/)
})

test('hosts and ports must fit the file: services that exist and are waited for, a listening address reachable from outside', async () => {
  const local = await problemsOf(composeWith('REDIS_HOST: "localhost"'))
  assert.match(local.join('\n'), /REDIS_HOST names localhost, which is not a service of this file \(localhost is the container itself\)/)
  const notWaited = await problemsOf(composeWith('REDIS_HOST: "redis"\nDB_HOST: "mariadb"'))
  assert.deepEqual(notWaited, ['service app: DB_HOST names mariadb, but app does not depend_on it'])
  const missing = await problemsOf(composeWith('REDIS_HOST: "redis"').replace('KAFKA_BROKER: "kafka:9092"', 'KAFKA_BROKER: "broker:9092"'))
  assert.deepEqual(missing, ['service app: KAFKA_BROKER names broker, which is not a service of this file'])
  const loopback = await problemsOf(composeWith('REDIS_HOST: "redis"\nAPI_HOST: "127.0.0.1"'))
  assert.match(loopback.join('\n'), /API_HOST=127\.0\.0\.1 is not reachable from other containers/)
  const port = await problemsOf(composeWith('REDIS_HOST: "redis"', '    ports:\n      - "3000:3001"'))
  assert.match(port.join('\n'), /publishes 3000:3001, but churnflow process listens on 3000/)
  const api = await problemsOf(composeWith('REDIS_HOST: "redis"\nFLASK_API_URL: "http://redis:5000"'))
  assert.match(api.join('\n'), /FLASK_API_URL names redis, which does not run churnflow api/)
})

test('the YAML subset parser reads the shapes the compose file uses and refuses the rest', () => {
  assert.deepEqual(parseYamlSubset('# c\na:\n  b: "x: y"\n  c: [ "p", 1 ]\n  d:\n    - plain\n    - "q"\n  e: {}\n'), {
    a: { b: 'x: y', c: ['p', '1'], d: ['plain', 'q'], e: {} }
  })
  for (const [bad, why] of [
    ['a:\n\tb: 1\n', /tab/],
    ['a: &anchor x\n', /outside the YAML subset/],
    ['a: \'single\'\n', /outside the YAML subset/],
    ['a: |\n  text\n', /outside the YAML subset/],
    ['a: yes\n', /quote it/],
    ['a: x # trailing\n', /quote a value/],
    ['a:\n   b: 1\n', /multiple of two/],
    ['a: 1\na: 2\n', /duplicate key a/],
    ['a:\n- x\n', /has no value/],
    ['a:\n  - k: v\n', /quote a value|mappings inside sequences/]
  ] as const) {
    assert.throws(() => parseYamlSubset(bad), why, JSON.stringify(bad))
  }
})
