import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { mkdir, open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { crc32 } from 'node:zlib'
import { ChurnflowError, ErrorCodes } from '../../errors.ts'

/**
 * A local checkpoint of one partition's state: every key's value as the store's codec writes it,
 * and the changelog offset a restore continues from. Only a shortcut: a restore reads the changelog
 * after it, and without it (a new machine, a deleted directory, a damaged file) reads the whole
 * changelog. Format (little-endian):
 *   magic `CFSTATE1` (8 bytes), changelog offset to continue from (i64), record count (u32),
 *   records: key (u16 length + UTF-8), value (u32 length + bytes),
 *   CRC-32 of every byte before it (u32).
 */
const MAGIC = Buffer.from('CFSTATE1', 'latin1')
const HEADER = MAGIC.length + 8 + 4

/** One checkpoint's contents. */
export interface Checkpoint {
  /** The changelog offset after the last record this checkpoint is known to hold. */
  readonly next: bigint
  readonly entries: readonly (readonly [string, Buffer])[]
}

/** `<dir>/<partition>.checkpoint` for each partition of one store. */
export function checkpointPath (dir: string, partition: number): string {
  return join(dir, `${partition}.checkpoint`)
}

/** Writes a checkpoint whole: to a temporary file, synced, then renamed over the old one. */
export async function writeCheckpoint (path: string, checkpoint: Checkpoint): Promise<void> {
  let size = HEADER + 4
  const keys = checkpoint.entries.map(([k]) => Buffer.from(k, 'utf8'))
  for (let i = 0; i < keys.length; i++) size += 2 + (keys[i] as Buffer).length + 4 + (checkpoint.entries[i] as readonly [string, Buffer])[1].length
  const b = Buffer.allocUnsafe(size)
  let at = MAGIC.copy(b, 0)
  at = b.writeBigInt64LE(checkpoint.next, at)
  at = b.writeUInt32LE(keys.length, at)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as Buffer
    const value = (checkpoint.entries[i] as readonly [string, Buffer])[1]
    at = b.writeUInt16LE(key.length, at)
    at += key.copy(b, at)
    at = b.writeUInt32LE(value.length, at)
    at += value.copy(b, at)
  }
  b.writeUInt32LE(crc32(b.subarray(0, at)), at)
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.tmp`
  let file: FileHandle | undefined
  try {
    file = await open(tmp, 'w')
    await file.writeFile(b)
    await file.sync()
    await file.close()
    file = undefined
    await rename(tmp, path)
  } catch (error) {
    await file?.close().catch(() => undefined)
    await unlink(tmp).catch(() => undefined)
    throw error
  }
}

/**
 * The checkpoint at `path`; undefined when there is none. A file that is there but damaged is an
 * error the caller logs before it restores from the changelog alone.
 */
export async function readCheckpoint (path: string): Promise<Checkpoint | undefined> {
  let b: Buffer
  try {
    b = await readFile(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  const bad = (what: string): Error => new ChurnflowError(ErrorCodes.STATE_RECORD_INVALID, `the state checkpoint ${path} is invalid: ${what}`)
  if (b.length < HEADER + 4 || !b.subarray(0, MAGIC.length).equals(MAGIC)) throw bad('it is not a churnflow state checkpoint')
  if (crc32(b.subarray(0, b.length - 4)) !== b.readUInt32LE(b.length - 4)) throw bad('its checksum does not match (truncated or corrupt)')
  const next = b.readBigInt64LE(MAGIC.length)
  const count = b.readUInt32LE(MAGIC.length + 8)
  const entries: [string, Buffer][] = []
  let at = HEADER
  const end = b.length - 4
  for (let i = 0; i < count; i++) {
    if (at + 2 > end) throw bad('it is shorter than its record count says')
    const keyLength = b.readUInt16LE(at)
    const key = b.toString('utf8', at + 2, at + 2 + keyLength)
    at += 2 + keyLength
    if (at + 4 > end) throw bad('it is shorter than its record count says')
    const valueLength = b.readUInt32LE(at)
    if (at + 4 + valueLength > end) throw bad('a record runs past its end')
    entries.push([key, b.subarray(at + 4, at + 4 + valueLength)])
    at += 4 + valueLength
  }
  if (at !== end) throw bad(`it has ${end - at} bytes beyond its records`)
  return { next, entries }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * An exclusive hold on a state directory for one process: a `LOCK` file holding its pid, made
 * with O_EXCL. A second process is refused while the first lives; a lock left by a process that
 * died (kill -9) is taken over. Two processes on one directory would overwrite each other's
 * checkpoints.
 */
export class StateDirLock implements Disposable {
  readonly path: string
  #held = false

  private constructor (path: string) {
    this.path = path
  }

  static async acquire (dir: string): Promise<StateDirLock> {
    await mkdir(dir, { recursive: true })
    const lock = new StateDirLock(join(dir, 'LOCK'))
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(lock.path, 'wx')
        writeSync(fd, `${process.pid}\n`)
        closeSync(fd)
        lock.#held = true
        return lock
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      let owner = Number.NaN
      try {
        owner = Number.parseInt(readFileSync(lock.path, 'utf8'), 10)
      } catch {
        // Gone meanwhile, or unreadable: treated as left behind.
      }
      if (Number.isInteger(owner) && owner !== process.pid && alive(owner)) {
        throw new ChurnflowError(ErrorCodes.STATE_DIR_LOCKED, `the state directory ${dir} is in use by another processor (pid ${owner})`, {
          details: ['give each processor of a consumer group its own state directory (--state-dir or CHURNFLOW_STATE_DIR); their state follows their partitions through the changelog']
        })
      }
      // Left by a process that is gone: take it over.
      try {
        unlinkSync(lock.path)
      } catch {
        // Another process took it over first: the next attempt sees its lock.
      }
    }
    throw new ChurnflowError(ErrorCodes.STATE_DIR_LOCKED, `could not take the lock ${lock.path}`)
  }

  release (): void {
    if (!this.#held) return
    this.#held = false
    try {
      unlinkSync(this.path)
    } catch {
      // Already gone.
    }
  }

  [Symbol.dispose] (): void {
    this.release()
  }
}
