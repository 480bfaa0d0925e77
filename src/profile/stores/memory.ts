import { open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { crc32 } from 'node:zlib'
import { ChurnflowError, ErrorCodes, SnapshotDefect } from '../../errors.ts'
import { emptyProfile, profileFields, profileFromRow, profileToRow, type CustomerProfile } from '../profile.ts'
import { encodeProfileRow } from './codec.ts'
import { RISK_REASONS, RiskTriggers, type CurrentRisk, type ProfileRecord, type ProfileStore, type RiskReason, type RiskVisitor, type SilenceState } from './types.ts'

export interface MemoryProfileStoreOptions {
  /** Where `flush()` writes the snapshot and `open()` reads it; none = never persisted (`churnflow demo`). */
  readonly snapshotPath?: string
}

// In memory, a customer is one row of STRIDE doubles in a slab of SLAB_ROWS rows: the profile's
// fields in `profileFields` order, then the version, the alert state, and INLINE_OFFSETS pairs of
// (interned partition key + 1, offset); 0 marks an empty pair. Events are keyed by customer, so a
// customer normally lives on one partition per topic: two pairs hold the usual case and the rare
// customer with more keys keeps the rest in `#moreOffsets`. Then the current risk: score (NaN =
// none), as-of time, band and model version (interned name + 1), trigger (1 = inactivity), and
// RISK_REASONS triples (interned feature + 1, value, impact); then the silence state: steps, and
// the anchor's interned partition key + 1 (0 = none). Slabs of fixed size grow the store
// without the copy (and doubled memory) that growing one big array would cost.
const FIELDS = profileFields.length
const VERSION_AT = FIELDS
const HIGH_AT = FIELDS + 1
const LAST_AT = FIELDS + 2
const OFFSETS_AT = FIELDS + 3
const INLINE_OFFSETS = 2
const RISK_AT = OFFSETS_AT + 2 * INLINE_OFFSETS
const RISK_TIME_AT = RISK_AT + 1
const RISK_BAND_AT = RISK_AT + 2
const RISK_MODEL_AT = RISK_AT + 3
const RISK_TRIGGER_AT = RISK_AT + 4
const REASONS_AT = RISK_AT + 5
const SILENCE_STEPS_AT = REASONS_AT + 3 * RISK_REASONS
const SILENCE_ANCHOR_AT = SILENCE_STEPS_AT + 1
const STRIDE = SILENCE_ANCHOR_AT + 1
const SLAB_SHIFT = 12
const SLAB_ROWS = 1 << SLAB_SHIFT

/**
 * Snapshot format, version 1 (little-endian throughout):
 *   header   magic `CHURNPRF` (8 bytes), format version (u8), 3 reserved bytes (0),
 *            field count (u16), then per profile field its name (u8 length + ASCII)
 *   records  per customer: body length (u32), then the body: id (u16 length + UTF-8),
 *            version (f64), alert flags (u8, bit 0 = high), alert time (f64),
 *            a bitmap of the fields present (one bit per header field), their values (f64),
 *            offset count (u16), per offset: partition key index (u32) and offset (f64)
 *   keys     partition key count (u32), per key: u16 length + UTF-8 (`<topic>:<partition>`)
 *   trailer  position of the key table (f64), record count (u32),
 *            CRC-32 of every byte of the file before it (u32)
 * Fields are named in the header and absent ones are 0 (values equal to +0 are left out), so a
 * profile that gains a field still reads an older snapshot.
 */
const MAGIC = Buffer.from('CHURNPRF', 'latin1')
const FORMAT_VERSION = 1
const TRAILER_BYTES = 16
const CHUNK_BYTES = 1 << 20

/** Writes a file through one reusable chunk buffer, keeping a running CRC-32 of what it wrote. */
class ChunkWriter {
  buffer = Buffer.allocUnsafe(CHUNK_BYTES)
  at = 0
  written = 0
  crc = 0
  readonly #file: FileHandle

  constructor (file: FileHandle) {
    this.#file = file
  }

  /** Makes room for `bytes` more, writing out the chunk when it is full. */
  async room (bytes: number): Promise<void> {
    if (this.at + bytes <= this.buffer.length) return
    await this.drain()
    if (bytes > this.buffer.length) this.buffer = Buffer.allocUnsafe(bytes)
  }

  async drain (): Promise<void> {
    if (this.at === 0) return
    const chunk = this.buffer.subarray(0, this.at)
    this.crc = crc32(chunk, this.crc)
    await writeAll(this.#file, chunk)
    this.written += chunk.length
    this.at = 0
  }

  /** The file position of the next byte written. */
  get position (): number {
    return this.written + this.at
  }
}

/** Reads a file front to back, up to `end`, through a chunk buffer. */
class ChunkReader {
  buffer = Buffer.allocUnsafe(CHUNK_BYTES)
  at = 0
  filled = 0
  #read = 0
  readonly #file: FileHandle
  readonly #end: number

  constructor (file: FileHandle, end: number) {
    this.#file = file
    this.#end = end
  }

  /** The file position of the next byte parsed. */
  get position (): number {
    return this.#read - (this.filled - this.at)
  }

  /** Makes `bytes` more bytes available at `at`, or fails when the file ends first. */
  async need (bytes: number): Promise<void> {
    if (this.filled - this.at >= bytes) return
    if (this.position + bytes > this.#end) throw new SnapshotDefect(`truncated: ${bytes} bytes needed at byte ${this.position}, but the data ends at byte ${this.#end}`)
    const kept = this.filled - this.at
    const target = bytes > this.buffer.length ? Buffer.allocUnsafe(bytes) : this.buffer
    this.buffer.copy(target, 0, this.at, this.filled)
    this.buffer = target
    this.at = 0
    this.filled = kept
    while (this.filled < bytes) {
      const want = Math.min(this.buffer.length - this.filled, this.#end - this.#read)
      const { bytesRead } = await this.#file.read(this.buffer, this.filled, want, this.#read)
      if (bytesRead === 0) throw new SnapshotDefect(`the file ended at byte ${this.#read} while ${this.#end} bytes were expected`)
      this.filled += bytesRead
      this.#read += bytesRead
    }
  }
}

/**
 * The embedded profile store: every customer in this process, in compact typed-array rows, made
 * durable by `flush()` writing a snapshot that `open()` reads back. Writes are durable only once
 * flushed (`durableOnWrite` false): the processor commits Kafka offsets up to its last flush, so
 * after a crash it replays what the snapshot lacks and the per-partition offsets skip the rest.
 */
export class MemoryProfileStore implements ProfileStore {
  readonly kind = 'memory' as const
  readonly name: string
  readonly durableOnWrite = false
  readonly snapshotPath: string | undefined
  /** Customer id → row. Rows are never freed: the store only grows. */
  #rows = new Map<string, number>()
  #slabs: Float64Array[] = []
  /** Partition keys (`<topic>:<partition>`), interned: rows hold their index + 1. */
  readonly #keys: string[] = []
  readonly #keyIndex = new Map<string, number>()
  /** Band names, model versions and feature names of the current risks, interned: rows hold their index + 1. */
  readonly #names: string[] = []
  readonly #nameIndex = new Map<string, number>()
  /** The offsets that did not fit a row's inline pairs, by row. */
  readonly #moreOffsets = new Map<number, Record<string, number>>()
  /** putMany's scratch list of (interned key, offset) pairs, reused for every record. */
  readonly #pairs: number[] = []
  /** putMany calls that wrote something, and how many of them the last snapshot holds. */
  #changes = 0
  #flushedChanges = 0
  #flushing: Promise<void> | undefined
  #closed = false

  constructor (options: MemoryProfileStoreOptions = {}) {
    this.snapshotPath = options.snapshotPath
    this.name = options.snapshotPath === undefined ? 'memory' : `memory (snapshot ${options.snapshotPath})`
  }

  /**
   * A store holding what the snapshot at `snapshotPath` holds; empty when there is no snapshot.
   * Rejects with PROFILE_SNAPSHOT_INVALID when the snapshot is there but truncated, corrupt or not
   * a snapshot at all: starting empty would silently forget every customer.
   */
  static async open (options: MemoryProfileStoreOptions = {}): Promise<MemoryProfileStore> {
    const store = new MemoryProfileStore(options)
    if (options.snapshotPath !== undefined) await store.#load(options.snapshotPath)
    return store
  }

  /** How many customers the store holds. */
  get size (): number {
    return this.#rows.size
  }

  /** Customers whose alert state is high-risk: one pass over the rows. */
  countHighRisk (): number {
    let count = 0
    for (let row = 0; row < this.#rows.size; row++) {
      if (this.#slab(row)[(row & (SLAB_ROWS - 1)) * STRIDE + HIGH_AT] === 1) count++
    }
    return count
  }

  #check (): void {
    if (this.#closed) throw new ChurnflowError(ErrorCodes.PROFILE_STORE_UNAVAILABLE, `${this.name}: the store is closed`)
  }

  #slab (row: number): Float64Array {
    return this.#slabs[row >>> SLAB_SHIFT] as Float64Array
  }

  #add (id: string): number {
    const row = this.#rows.size
    if (row >>> SLAB_SHIFT >= this.#slabs.length) {
      const slab = new Float64Array(SLAB_ROWS * STRIDE)
      for (let r = 0; r < SLAB_ROWS; r++) slab[r * STRIDE + RISK_AT] = Number.NaN
      this.#slabs.push(slab)
    }
    this.#rows.set(id, row)
    return row
  }

  #name (s: string): number {
    let index = this.#nameIndex.get(s)
    if (index === undefined) {
      index = this.#names.length
      this.#names.push(s)
      this.#nameIndex.set(s, index)
    }
    return index + 1
  }

  /** A row's current risk, or undefined when it was never scored. */
  #risk (slab: Float64Array, base: number): CurrentRisk | undefined {
    const score = slab[base + RISK_AT] as number
    if (Number.isNaN(score)) return undefined
    const names = this.#names
    const reasons: RiskReason[] = []
    for (let j = 0; j < RISK_REASONS; j++) {
      const at = base + REASONS_AT + 3 * j
      const feature = slab[at] as number
      if (feature === 0) break
      reasons.push({ feature: names[feature - 1] as string, value: slab[at + 1] as number, impact: slab[at + 2] as number })
    }
    return {
      score,
      band: names[(slab[base + RISK_BAND_AT] as number) - 1] as string,
      modelVersion: names[(slab[base + RISK_MODEL_AT] as number) - 1] as string,
      at: slab[base + RISK_TIME_AT] as number,
      trigger: slab[base + RISK_TRIGGER_AT] === 1 ? RiskTriggers.INACTIVITY : RiskTriggers.EVENT,
      reasons
    }
  }

  #silence (slab: Float64Array, base: number): SilenceState | undefined {
    const anchor = slab[base + SILENCE_ANCHOR_AT] as number
    return anchor === 0 ? undefined : { steps: slab[base + SILENCE_STEPS_AT] as number, anchor: this.#keys[anchor - 1] as string }
  }

  #writeRisk (row: number, risk: CurrentRisk | undefined, silence: SilenceState | undefined): void {
    const slab = this.#slab(row)
    const base = (row & (SLAB_ROWS - 1)) * STRIDE
    if (risk === undefined) {
      slab[base + RISK_AT] = Number.NaN
    } else {
      slab[base + RISK_AT] = risk.score
      slab[base + RISK_TIME_AT] = risk.at
      slab[base + RISK_BAND_AT] = this.#name(risk.band)
      slab[base + RISK_MODEL_AT] = this.#name(risk.modelVersion)
      slab[base + RISK_TRIGGER_AT] = risk.trigger === RiskTriggers.INACTIVITY ? 1 : 0
      for (let j = 0; j < RISK_REASONS; j++) {
        const r = risk.reasons[j]
        const at = base + REASONS_AT + 3 * j
        slab[at] = r === undefined ? 0 : this.#name(r.feature)
        slab[at + 1] = r?.value ?? 0
        slab[at + 2] = r?.impact ?? 0
      }
    }
    slab[base + SILENCE_STEPS_AT] = silence?.steps ?? 0
    slab[base + SILENCE_ANCHOR_AT] = silence === undefined ? 0 : this.#intern(silence.anchor) + 1
  }

  /**
   * Calls `visit` with every scored customer's id, score, band, time scored and first activity,
   * straight from the rows (no record is built): the at-risk ranking reads a million customers in
   * one pass. `partition` is passed on to `visit` (the partition this table holds, if any).
   */
  forEachRisk (visit: RiskVisitor, partition?: number): void {
    const names = this.#names
    const firstSeenAt = profileFields.indexOf('firstSeen')
    for (const [id, row] of this.#rows) {
      const slab = this.#slab(row)
      const base = (row & (SLAB_ROWS - 1)) * STRIDE
      const score = slab[base + RISK_AT] as number
      if (!Number.isNaN(score)) {
        visit(id, score, names[(slab[base + RISK_BAND_AT] as number) - 1] as string, slab[base + RISK_TIME_AT] as number, slab[base + firstSeenAt] as number, partition)
      }
    }
  }

  /** Calls `visit` with every customer's id, last activity and silence steps scored, straight from the rows. */
  eachSilence (visit: (id: string, lastSeen: number, steps: number) => void): void {
    const lastSeenAt = profileFields.indexOf('lastSeen')
    for (const [id, row] of this.#rows) {
      const slab = this.#slab(row)
      const base = (row & (SLAB_ROWS - 1)) * STRIDE
      if (slab[base + SILENCE_ANCHOR_AT] !== 0) visit(id, slab[base + lastSeenAt] as number, slab[base + SILENCE_STEPS_AT] as number)
    }
  }

  #intern (key: string): number {
    let index = this.#keyIndex.get(key)
    if (index === undefined) {
      index = this.#keys.length
      this.#keys.push(key)
      this.#keyIndex.set(key, index)
    }
    return index
  }

  async getMany (ids: readonly string[]): Promise<Map<string, ProfileRecord>> {
    this.#check()
    const records = new Map<string, ProfileRecord>()
    for (const id of ids) {
      const row = this.#rows.get(id)
      if (row !== undefined) records.set(id, this.#record(row))
    }
    return records
  }

  /** One customer's record (a fresh copy), as a partition's table of the changelog store reads it. */
  get (id: string): ProfileRecord | undefined {
    const row = this.#rows.get(id)
    return row === undefined ? undefined : this.#record(row)
  }

  /** Stores a record with this version (its own unless given), with no compare-and-set: a restore, or the changelog store's own write. */
  set (id: string, record: ProfileRecord, version = record.version): void {
    const row = this.#rows.get(id) ?? this.#add(id)
    this.#write(row, record.profile, version, record.alert.high, record.alert.lastAt)
    this.#writeRisk(row, record.risk, record.silence)
    const pairs = this.#pairs
    pairs.length = 0
    for (const key in record.offsets) pairs.push(this.#intern(key), record.offsets[key] as number)
    this.#writeOffsets(row, pairs)
    this.#changes++
  }

  /** A customer's stored write count; 0 for one never seen. */
  versionOf (id: string): number {
    const row = this.#rows.get(id)
    return row === undefined ? 0 : this.#slab(row)[(row & (SLAB_ROWS - 1)) * STRIDE + VERSION_AT] as number
  }

  /** A customer's record as changelog bytes, straight from its row (no object is built). */
  encode (id: string): Buffer | undefined {
    const row = this.#rows.get(id)
    if (row === undefined) return undefined
    const slab = this.#slab(row)
    const base = (row & (SLAB_ROWS - 1)) * STRIDE
    const offsets: [string, number][] = []
    for (let j = 0; j < INLINE_OFFSETS; j++) {
      const key = slab[base + OFFSETS_AT + 2 * j] as number
      if (key !== 0) offsets.push([this.#keys[key - 1] as string, slab[base + OFFSETS_AT + 2 * j + 1] as number])
    }
    const more = this.#moreOffsets.get(row)
    if (more !== undefined) offsets.push(...Object.entries(more))
    return encodeProfileRow(slab, base, slab[base + VERSION_AT] as number, slab[base + HIGH_AT] === 1, slab[base + LAST_AT] as number, offsets,
      this.#risk(slab, base), this.#silence(slab, base))
  }

  keys (): IterableIterator<string> {
    return this.#rows.keys()
  }

  /** A fresh copy of a row: callers mutate what they get. */
  #record (row: number): ProfileRecord {
    const slab = this.#slab(row)
    const base = (row & (SLAB_ROWS - 1)) * STRIDE
    const profile = profileFromRow(slab, base)
    const offsets: Record<string, number> = {}
    for (let j = 0; j < INLINE_OFFSETS; j++) {
      const key = slab[base + OFFSETS_AT + 2 * j] as number
      if (key !== 0) offsets[this.#keys[key - 1] as string] = slab[base + OFFSETS_AT + 2 * j + 1] as number
    }
    const more = this.#moreOffsets.get(row)
    if (more !== undefined) Object.assign(offsets, more)
    const risk = this.#risk(slab, base)
    const silence = this.#silence(slab, base)
    return {
      profile,
      offsets,
      alert: { high: slab[base + HIGH_AT] === 1, lastAt: slab[base + LAST_AT] as number },
      version: slab[base + VERSION_AT] as number,
      ...(risk === undefined ? {} : { risk }),
      ...(silence === undefined ? {} : { silence })
    }
  }

  /** Compare-and-set per customer, as the Redis store does; synchronous, so no other call interleaves. */
  async putMany (records: ReadonlyMap<string, ProfileRecord>): Promise<string[]> {
    this.#check()
    const conflicts: string[] = []
    let wrote = false
    for (const [id, record] of records) {
      const existing = this.#rows.get(id)
      const stored = existing === undefined ? 0 : this.#slab(existing)[(existing & (SLAB_ROWS - 1)) * STRIDE + VERSION_AT]
      if (stored !== record.version) {
        conflicts.push(id)
        continue
      }
      const row = existing ?? this.#add(id)
      this.#write(row, record.profile, record.version + 1, record.alert.high, record.alert.lastAt)
      this.#writeRisk(row, record.risk, record.silence)
      const pairs = this.#pairs
      pairs.length = 0
      for (const key in record.offsets) pairs.push(this.#intern(key), record.offsets[key] as number)
      this.#writeOffsets(row, pairs)
      wrote = true
    }
    if (wrote) this.#changes++
    return conflicts
  }

  #write (row: number, profile: CustomerProfile, version: number, high: boolean, lastAt: number): void {
    const slab = this.#slab(row)
    const base = (row & (SLAB_ROWS - 1)) * STRIDE
    profileToRow(profile, slab, base)
    slab[base + VERSION_AT] = version
    slab[base + HIGH_AT] = high ? 1 : 0
    slab[base + LAST_AT] = lastAt
  }

  /** Writes a row's offsets from `pairs`: interned key, offset, key, offset, … */
  #writeOffsets (row: number, pairs: readonly number[]): void {
    const slab = this.#slab(row)
    const base = (row & (SLAB_ROWS - 1)) * STRIDE + OFFSETS_AT
    const count = pairs.length >>> 1
    for (let j = 0; j < INLINE_OFFSETS; j++) {
      slab[base + 2 * j] = j < count ? (pairs[2 * j] as number) + 1 : 0
      slab[base + 2 * j + 1] = j < count ? pairs[2 * j + 1] as number : 0
    }
    if (count <= INLINE_OFFSETS) {
      if (this.#moreOffsets.size > 0) this.#moreOffsets.delete(row)
      return
    }
    const more: Record<string, number> = {}
    for (let j = INLINE_OFFSETS; j < count; j++) more[this.#keys[pairs[2 * j] as number] as string] = pairs[2 * j + 1] as number
    this.#moreOffsets.set(row, more)
  }

  /**
   * Writes a snapshot of every customer when anything changed since the last one: to `<path>.tmp`
   * in 1 MB chunks (never the whole store in one buffer), fsync, rename over the snapshot, fsync
   * the directory. A crash at any point leaves the previous snapshot or the new one, whole.
   * Without a snapshot path it does nothing.
   */
  async flush (): Promise<void> {
    this.#check()
    const path = this.snapshotPath
    if (path === undefined) return
    while (this.#flushing !== undefined) await this.#flushing
    if (this.#changes === this.#flushedChanges) return
    this.#flushing = this.#writeSnapshot(path).finally(() => { this.#flushing = undefined })
    await this.#flushing
  }

  async #writeSnapshot (path: string): Promise<void> {
    const changes = this.#changes
    const tmp = `${path}.tmp`
    let file: FileHandle | undefined
    try {
      file = await open(tmp, 'w')
      const out = new ChunkWriter(file)
      const names = profileFields.map(f => Buffer.from(f, 'latin1'))
      await out.room(MAGIC.length + 6 + names.reduce((n, b) => n + 1 + b.length, 0))
      out.at += MAGIC.copy(out.buffer, out.at)
      out.at = out.buffer.writeUInt8(FORMAT_VERSION, out.at)
      out.buffer.fill(0, out.at, out.at + 3)
      out.at = out.buffer.writeUInt16LE(FIELDS, out.at + 3)
      for (const name of names) {
        out.at = out.buffer.writeUInt8(name.length, out.at)
        out.at += name.copy(out.buffer, out.at)
      }

      const bitmapBytes = Math.ceil(FIELDS / 8)
      let count = 0
      // A putMany during an await below may change rows not yet written: the snapshot then holds
      // them newer than `changes`, which is harmless (replayed events are skipped by offset).
      for (const [id, row] of this.#rows) {
        const idBytes = Buffer.byteLength(id)
        const fixed = 4 + 2 + idBytes + 8 + 1 + 8 + bitmapBytes + 8 * FIELDS + 2 + 12 * INLINE_OFFSETS
        const largest = (extra: Record<string, number> | undefined): number => fixed + (extra === undefined ? 0 : 12 * Object.keys(extra).length)
        let more = this.#moreOffsets.get(row)
        // Waiting for room lets a putMany change this row: look again until it fits as it is now.
        while (out.at + largest(more) > out.buffer.length) {
          await out.room(largest(more))
          more = this.#moreOffsets.get(row)
        }
        // Synchronous from here to the end of the record: it is never torn by a concurrent write.
        const b = out.buffer
        const start = out.at
        let at = start + 4
        at = b.writeUInt16LE(idBytes, at)
        at += b.write(id, at, 'utf8')
        const slab = this.#slab(row)
        const base = (row & (SLAB_ROWS - 1)) * STRIDE
        at = b.writeDoubleLE(slab[base + VERSION_AT] as number, at)
        at = b.writeUInt8(slab[base + HIGH_AT] === 1 ? 1 : 0, at)
        at = b.writeDoubleLE(slab[base + LAST_AT] as number, at)
        const bitmap = at
        b.fill(0, bitmap, bitmap + bitmapBytes)
        at += bitmapBytes
        for (let f = 0; f < FIELDS; f++) {
          const v = slab[base + f] as number
          if (Object.is(v, 0)) continue
          b[bitmap + (f >>> 3)] = (b[bitmap + (f >>> 3)] as number) | (1 << (f & 7))
          at = b.writeDoubleLE(v, at)
        }
        const counted = at
        at += 2
        let offsets = 0
        for (let j = 0; j < INLINE_OFFSETS; j++) {
          const key = slab[base + OFFSETS_AT + 2 * j] as number
          if (key === 0) continue
          at = b.writeUInt32LE(key - 1, at)
          at = b.writeDoubleLE(slab[base + OFFSETS_AT + 2 * j + 1] as number, at)
          offsets++
        }
        if (more !== undefined) {
          for (const [key, offset] of Object.entries(more)) {
            at = b.writeUInt32LE(this.#intern(key), at)
            at = b.writeDoubleLE(offset, at)
            offsets++
          }
        }
        b.writeUInt16LE(offsets, counted)
        b.writeUInt32LE(at - start - 4, start)
        out.at = at
        count++
      }

      const keysAt = out.position
      const keys = this.#keys.map(k => Buffer.from(k, 'utf8'))
      await out.room(4)
      out.at = out.buffer.writeUInt32LE(keys.length, out.at)
      for (const key of keys) {
        await out.room(2 + key.length)
        out.at = out.buffer.writeUInt16LE(key.length, out.at)
        out.at += key.copy(out.buffer, out.at)
      }
      await out.room(TRAILER_BYTES)
      out.at = out.buffer.writeDoubleLE(keysAt, out.at)
      out.at = out.buffer.writeUInt32LE(count, out.at)
      out.at = out.buffer.writeUInt32LE(crc32(out.buffer.subarray(0, out.at), out.crc), out.at)
      await out.drain()
      await file.sync()
      await file.close()
      file = undefined
      await rename(tmp, path)
      await syncDirectory(dirname(path))
      this.#flushedChanges = changes
    } catch (error) {
      await file?.close().catch(() => undefined)
      await unlink(tmp).catch(() => undefined)
      throw new ChurnflowError(ErrorCodes.PROFILE_STORE_UNAVAILABLE, `could not write the profile snapshot ${path}: ${(error as Error).message}`, { retriable: true, cause: error })
    }
  }

  async #load (path: string): Promise<void> {
    let file: FileHandle
    try {
      file = await open(path, 'r')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      throw invalid(path, `it cannot be read: ${(error as Error).message}`, error)
    }
    try {
      await this.#read(file)
    } catch (error) {
      if (error instanceof SnapshotDefect) throw invalid(path, error.message)
      throw invalid(path, `it cannot be read: ${(error as Error).message}`, error)
    } finally {
      await file.close()
    }
  }

  async #read (file: FileHandle): Promise<void> {
    const size = (await file.stat()).size
    const headerLeast = MAGIC.length + 6
    if (size < headerLeast + 4 + TRAILER_BYTES) throw new SnapshotDefect(`it is ${size} bytes long, too short to be a profile snapshot (truncated?)`)
    const input = new ChunkReader(file, size - TRAILER_BYTES)
    await input.need(headerLeast)
    let b = input.buffer
    if (!b.subarray(input.at, input.at + MAGIC.length).equals(MAGIC)) throw new SnapshotDefect('it is not a churnflow profile snapshot (wrong magic bytes)')
    const version = b.readUInt8(input.at + MAGIC.length)
    if (version !== FORMAT_VERSION) throw new SnapshotDefect(`its format version is ${version}; this churnflow reads version ${FORMAT_VERSION}`)
    // The whole file is checked before any of it is believed: a bad file is reported as what it
    // is, not by whichever structure its damage happens to break first.
    const trailer = Buffer.alloc(TRAILER_BYTES)
    await file.read(trailer, 0, TRAILER_BYTES, size - TRAILER_BYTES)
    const crc = trailer.readUInt32LE(12)
    const actual = await checksum(file, size - 4)
    if (actual !== crc) throw new SnapshotDefect(`its checksum does not match (CRC-32 ${hex(actual)}, the trailer says ${hex(crc)}): the file is truncated or corrupt (${size} bytes)`)
    const keysAt = trailer.readDoubleLE(0)
    const count = trailer.readUInt32LE(8)
    if (!Number.isInteger(keysAt) || keysAt < headerLeast || keysAt > size - TRAILER_BYTES - 4) throw new SnapshotDefect(`its trailer places the key table at ${keysAt} in a file of ${size} bytes`)
    const fileFields = b.readUInt16LE(input.at + MAGIC.length + 4)
    input.at += headerLeast
    // Where each of the file's fields goes in a row; -1 for a field this profile no longer has.
    const fieldRow: number[] = []
    for (let f = 0; f < fileFields; f++) {
      await input.need(1)
      const length = input.buffer.readUInt8(input.at)
      await input.need(1 + length)
      const name = input.buffer.toString('latin1', input.at + 1, input.at + 1 + length)
      input.at += 1 + length
      const known = profileFields.indexOf(name as keyof CustomerProfile)
      if (known !== -1 && fieldRow.includes(known)) throw new SnapshotDefect(`its header names field ${name} twice`)
      fieldRow.push(known)
    }

    const keys = await readKeys(file, keysAt, size - TRAILER_BYTES)
    const keyRows = keys.map(k => this.#intern(k))
    const bitmapBytes = Math.ceil(fileFields / 8)
    const offsets: number[] = []
    const profile = emptyProfile()
    let records = 0
    while (input.position < keysAt) {
      await input.need(4)
      const length = input.buffer.readUInt32LE(input.at)
      if (input.position + 4 + length > keysAt) throw new SnapshotDefect(`record ${records + 1} at byte ${input.position} runs past the end of the records`)
      await input.need(4 + length)
      b = input.buffer
      const end = input.at + 4 + length
      let at = input.at + 4
      const where = (): string => `record ${records + 1} at byte ${input.position}`
      const take = (bytes: number): number => {
        const from = at
        at += bytes
        if (at > end) throw new SnapshotDefect(`${where()} is shorter than its contents`)
        return from
      }
      const idLength = b.readUInt16LE(take(2))
      const id = b.toString('utf8', take(idLength), at)
      const version = b.readDoubleLE(take(8))
      const high = (b.readUInt8(take(1)) & 1) === 1
      const lastAt = b.readDoubleLE(take(8))
      const bitmap = take(bitmapBytes)
      for (let f = 0; f < FIELDS; f++) profile[profileFields[f] as keyof CustomerProfile] = 0
      for (let f = 0; f < fileFields; f++) {
        if (((b[bitmap + (f >>> 3)] as number) & (1 << (f & 7))) === 0) continue
        const v = b.readDoubleLE(take(8))
        const into = fieldRow[f] as number
        if (into !== -1) profile[profileFields[into] as keyof CustomerProfile] = v
      }
      const offsetCount = b.readUInt16LE(take(2))
      offsets.length = 0
      for (let j = 0; j < offsetCount; j++) {
        const key = b.readUInt32LE(take(4))
        const offset = b.readDoubleLE(take(8))
        const interned = keyRows[key]
        if (interned === undefined) throw new SnapshotDefect(`${where()} names partition key ${key} of ${keys.length}`)
        offsets.push(interned, offset)
      }
      if (at !== end) throw new SnapshotDefect(`${where()} has ${end - at} bytes more than its contents`)
      if (!Number.isSafeInteger(version) || version < 0) throw new SnapshotDefect(`${where()} has version ${version}`)
      if (this.#rows.has(id)) throw new SnapshotDefect(`customer ${id} appears twice`)
      const row = this.#add(id)
      this.#write(row, profile, version, high, lastAt)
      this.#writeOffsets(row, offsets)
      input.at = end
      records++
    }
    if (records !== count) throw new SnapshotDefect(`it holds ${records} customers but its trailer says ${count}`)
  }

  async ping (): Promise<void> {
    this.#check()
  }

  /** Waits for a flush in progress, then drops everything; it does not flush (call `flush()` first). */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#flushing?.catch(() => undefined)
    this.#rows = new Map()
    this.#slabs = []
    this.#moreOffsets.clear()
  }

  /** Closes the store as `close()` does, for `await using` and an `AsyncDisposableStack`. */
  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }
}

function invalid (path: string, what: string, cause?: unknown): ChurnflowError {
  return new ChurnflowError(ErrorCodes.PROFILE_SNAPSHOT_INVALID, `the profile snapshot ${path} is invalid: ${what}`, {
    details: ['restore a good copy, or move the file away to start with empty profiles (every customer\'s history is then lost)'],
    ...(cause === undefined ? {} : { cause })
  })
}

const hex = (n: number): string => n.toString(16).padStart(8, '0')

/** CRC-32 of the file's first `end` bytes, read a chunk at a time. */
async function checksum (file: FileHandle, end: number): Promise<number> {
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES)
  let crc = 0
  let at = 0
  while (at < end) {
    const { bytesRead } = await file.read(chunk, 0, Math.min(chunk.length, end - at), at)
    if (bytesRead === 0) throw new SnapshotDefect(`the file ended at byte ${at} while it is ${end + 4} bytes long`)
    crc = crc32(chunk.subarray(0, bytesRead), crc)
    at += bytesRead
  }
  return crc
}

async function readKeys (file: FileHandle, from: number, to: number): Promise<string[]> {
  const table = Buffer.alloc(to - from)
  const { bytesRead } = await file.read(table, 0, table.length, from)
  if (bytesRead !== table.length) throw new SnapshotDefect('its partition key table is truncated')
  const where = `its partition key table (at byte ${from})`
  if (table.length < 4) throw new SnapshotDefect(`${where} is truncated`)
  const count = table.readUInt32LE(0)
  const keys: string[] = []
  let at = 4
  for (let k = 0; k < count; k++) {
    if (at + 2 > table.length) throw new SnapshotDefect(`${where} is truncated`)
    const length = table.readUInt16LE(at)
    if (at + 2 + length > table.length) throw new SnapshotDefect(`${where} is truncated`)
    keys.push(table.toString('utf8', at + 2, at + 2 + length))
    at += 2 + length
  }
  if (at !== table.length) throw new SnapshotDefect(`${where} has ${table.length - at} stray bytes`)
  return keys
}

async function writeAll (file: FileHandle, chunk: Buffer): Promise<void> {
  let done = 0
  while (done < chunk.length) {
    const { bytesWritten } = await file.write(chunk, done, chunk.length - done)
    done += bytesWritten
  }
}

/** Makes a rename durable. Some platforms cannot open or sync a directory; the rename stands there anyway. */
async function syncDirectory (dir: string): Promise<void> {
  let handle: FileHandle | undefined
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EACCES') throw error
  } finally {
    await handle?.close()
  }
}
