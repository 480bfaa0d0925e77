import { spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import { MIN_JAVA_MAJOR } from './options.ts'

type Env = Readonly<Record<string, string | undefined>>

/** Finds an executable on PATH, as a shell would. */
export function which (name: string, env: Env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here; keep looking
    }
  }
  return undefined
}

/** Parses the major version out of `java -version` output ("17.0.15", "1.8.0_392", "21"). */
export function parseJavaMajor (versionOutput: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput)
  if (match === null) return undefined
  const first = Number(match[1])
  return first === 1 && match[2] !== undefined ? Number(match[2]) : first
}

export interface JavaRuntime {
  readonly path: string
  readonly major: number
}

/** The java to run Kafka with: JAVA_HOME's when set, else the one on PATH; at least Java 17. */
export function findJava (env: Env): JavaRuntime {
  const fromHome = env.JAVA_HOME !== undefined && env.JAVA_HOME !== '' ? join(env.JAVA_HOME, 'bin', 'java') : undefined
  let path: string | undefined
  if (fromHome !== undefined) {
    try {
      accessSync(fromHome, constants.X_OK)
      path = fromHome
    } catch {
      path = undefined
    }
  }
  path ??= which('java', env)
  if (path === undefined) {
    throw new ChurnflowError(ErrorCodes.JAVA_MISSING,
      `Java ${MIN_JAVA_MAJOR} or newer is needed to run the local Apache Kafka, and none was found` +
      (fromHome === undefined ? ' on PATH' : ` (JAVA_HOME=${env.JAVA_HOME} has no bin/java, and there is none on PATH)`), {
        details: [
          'install one (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME,',
          'or set KAFKA_BROKER to an existing Kafka cluster and skip the local one'
        ]
      })
  }
  const result = spawnSync(path, ['-version'], { encoding: 'utf8', env: { ...env } })
  const major = parseJavaMajor(`${result.stderr ?? ''}${result.stdout ?? ''}`)
  if (major === undefined) {
    throw new ChurnflowError(ErrorCodes.JAVA_MISSING, `${path} -version did not print a Java version`, {
      details: [(result.stderr ?? '').trim() || (result.error?.message ?? 'no output')]
    })
  }
  if (major < MIN_JAVA_MAJOR) {
    throw new ChurnflowError(ErrorCodes.JAVA_TOO_OLD,
      `Apache Kafka 4 needs Java ${MIN_JAVA_MAJOR} or newer; ${path} is Java ${major}`, {
        details: ['install Java 17 or 21 and put it first on PATH, or point JAVA_HOME at it']
      })
  }
  return { path, major }
}
