import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import type { Logger } from '../../logging/index.ts'
import { which } from './java.ts'
import { DEPENDENCY_PLUGIN, KAFKA_VERSION, LOG4J_VERSION, SLF4J_VERSION } from './options.ts'

type Env = Readonly<Record<string, string | undefined>>

export interface KafkaDistribution {
  readonly version: string
  /** Folder holding every jar the broker and Kafka's tools need. */
  readonly libDir: string
  /** `-cp` argument for java. */
  readonly classpath: string
}

interface Manifest {
  version: string
  jars: string[]
}

function pom (version: string): string {
  const dep = (g: string, a: string, v: string): string =>
    `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.churnflow</groupId>
  <artifactId>local-kafka</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
${[
    dep('org.apache.kafka', 'kafka_2.13', version),
    dep('org.apache.kafka', 'kafka-tools', version),
    dep('org.apache.logging.log4j', 'log4j-api', LOG4J_VERSION),
    dep('org.apache.logging.log4j', 'log4j-core', LOG4J_VERSION),
    dep('org.apache.logging.log4j', 'log4j-slf4j-impl', LOG4J_VERSION),
    dep('org.slf4j', 'slf4j-api', SLF4J_VERSION)
  ].join('\n')}
  </dependencies>
</project>
`
}

function installedAt (dir: string, version: string): KafkaDistribution | undefined {
  const manifestPath = join(dir, 'manifest.json')
  if (!existsSync(manifestPath)) return undefined
  try {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest
    const libDir = join(dir, 'lib')
    if (manifest.version !== version || manifest.jars.length === 0) return undefined
    if (!manifest.jars.every(jar => existsSync(join(libDir, jar)))) return undefined
    return { version, libDir, classpath: join(libDir, '*') }
  } catch {
    return undefined
  }
}

function formatBytes (bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.round(bytes / 1024)} kB`
}

/** Maven prints `Downloaded from central: URL (54 kB at 1.2 MB/s)`; this adds up the sizes. */
export function parseDownloadedBytes (line: string): number | undefined {
  const match = /^Downloaded from .*\((\d+(?:\.\d+)?) (B|kB|MB|GB)/.exec(line.replace(/^\[INFO\]\s*/, ''))
  if (match === null) return undefined
  const scale = { B: 1, kB: 1024, MB: 1024 * 1024, GB: 1024 * 1024 * 1024 }[match[2] as 'B' | 'kB' | 'MB' | 'GB']
  return Number(match[1]) * scale
}

/**
 * Makes sure the pinned Apache Kafka is in the per-user cache, downloading it from Maven Central
 * with Maven on first use. Safe to run from several processes at once: each downloads into its
 * own folder and the first to finish renames it into place.
 */
export async function ensureKafkaDistribution (cacheDir: string, log: Logger, env: Env, version = KAFKA_VERSION): Promise<KafkaDistribution> {
  const dir = join(cacheDir, `kafka-${version}`)
  const cached = installedAt(dir, version)
  if (cached !== undefined) return cached

  const mvn = which('mvn', env) ?? (env.MAVEN_HOME === undefined ? undefined : join(env.MAVEN_HOME, 'bin', 'mvn'))
  if (mvn === undefined || !existsSync(mvn)) {
    throw new ChurnflowError(ErrorCodes.MAVEN_MISSING,
      `Apache Kafka ${version} is not in ${cacheDir} yet, and Maven (mvn) is needed to download it from Maven Central`, {
        details: [
          'install Maven (Debian/Ubuntu: apt-get install maven) and run this again; the download happens once,',
          'or set KAFKA_BROKER to an existing Kafka cluster and skip the local one'
        ]
      })
  }

  await mkdir(cacheDir, { recursive: true })
  const work = join(cacheDir, `.kafka-${version}.${process.pid}.${randomBytes(4).toString('hex')}`)
  await mkdir(work, { recursive: true })
  try {
    await writeFile(join(work, 'pom.xml'), pom(version))
    log.info({ version, cacheDir }, `Downloading Apache Kafka ${version} from Maven Central (first run only)`)
    const started = Date.now()
    let files = 0
    let bytes = 0
    const tail: string[] = []
    const progress = setInterval(() => {
      log.info(`Downloading Apache Kafka ${version}: ${files} files, ${formatBytes(bytes)}, ${Math.round((Date.now() - started) / 1000)} s`)
    }, 2000)
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(mvn, ['-B', '-f', join(work, 'pom.xml'), `${DEPENDENCY_PLUGIN}:copy-dependencies`,
        `-DoutputDirectory=${join(work, 'lib')}`, '-DincludeScope=runtime'], { env: { ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
      let pending = ''
      const onData = (chunk: Buffer): void => {
        pending += chunk.toString('utf8')
        const lines = pending.split('\n')
        pending = lines.pop() ?? ''
        for (const line of lines) {
          const size = parseDownloadedBytes(line)
          if (size !== undefined) {
            files++
            bytes += size
          }
          tail.push(line)
          if (tail.length > 40) tail.shift()
        }
      }
      child.stdout.on('data', onData)
      child.stderr.on('data', onData)
      child.on('error', reject)
      child.on('close', resolve)
    }).finally(() => { clearInterval(progress) })

    if (code !== 0) {
      const errors = tail.filter(l => l.includes('[ERROR]')).slice(0, 8)
      throw new ChurnflowError(ErrorCodes.KAFKA_PROVISION_FAILED,
        `Maven could not download Apache Kafka ${version} (exit code ${String(code)})`, {
          retriable: true,
          details: [...(errors.length > 0 ? errors : tail.slice(-8)), 'check that Maven Central is reachable, or set KAFKA_BROKER to an existing cluster']
        })
    }
    const jars = (await readdir(join(work, 'lib'))).filter(f => f.endsWith('.jar')).sort()
    await writeFile(join(work, 'manifest.json'), JSON.stringify({ version, jars } satisfies Manifest, null, 2))
    // Another process may have finished first; its copy is as good as ours and may be in use.
    if (installedAt(dir, version) === undefined) {
      await rm(dir, { recursive: true, force: true })
      try {
        await rename(work, dir)
      } catch (error) {
        if (installedAt(dir, version) === undefined) throw error
      }
    }
    log.info(`Apache Kafka ${version} is in ${dir} (${jars.length} jars, ${files} files downloaded in ${((Date.now() - started) / 1000).toFixed(1)} s)`)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  const installed = installedAt(dir, version)
  if (installed === undefined) {
    throw new ChurnflowError(ErrorCodes.KAFKA_PROVISION_FAILED, `Apache Kafka ${version} was downloaded but ${dir} is incomplete`)
  }
  return installed
}
