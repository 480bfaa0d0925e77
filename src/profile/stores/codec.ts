import { ChurnflowError, ErrorCodes } from '../../errors.ts'
import { offsetsCover } from '../../stream/index.ts'
import { profileFields, profileFromRow, profileToRow } from '../profile.ts'
import { RiskTriggers, type CurrentRisk, type ProfileRecord, type RiskReason, type SilenceState } from './types.ts'

/**
 * A customer's record as one changelog or checkpoint value (little-endian):
 *   format version (u8 = 1), field count (u16), a bitmap of the fields present (one bit per
 *   field, in `profileFields` order), their values (f64), the write version (f64), alert flags
 *   (u8, bit 0 = high), alert time (f64), offset count (u16), per offset: key (u16 length + UTF-8,
 *   `<topic>:<partition>`) and offset (f64);
 *   then (version 2) flags (u8: bit 0 = a current risk follows, bit 1 = a silence state follows);
 *   the risk: score (f64), as-of time (f64), trigger (u8: 0 event, 1 inactivity), band and model
 *   version (each u8 length + UTF-8), reason count (u8), per reason: feature (u8 length + UTF-8),
 *   value (f64), impact (f64); the silence state: steps (u16), anchor (u16 length + UTF-8).
 * Version 1 records (no flags) still read, with neither.
 * Fields equal to +0 are left out, and a reader takes a field count other than its own (a profile
 * that gained or lost fields at the end), so records written by another version still read.
 */
const FORMAT_VERSION = 2
const FIELDS = profileFields.length
const BITMAP_BYTES = Math.ceil(FIELDS / 8)

/** Scratch row for records that arrive as objects: their fields go through it in `profileFields` order. */
const scratch = new Float64Array(FIELDS)

/**
 * A record as bytes, from its profile's fields as a row of numbers (`profileFields` order) at
 * `base`: the slab store encodes its rows in place, without building an object. `offsets` are the
 * record's last applied offsets, as key/offset pairs.
 */
export function encodeProfileRow (row: Float64Array, base: number, version: number, high: boolean, lastAt: number, offsets: readonly (readonly [string, number])[],
  risk?: CurrentRisk, silence?: SilenceState): Buffer {
  let present = 0
  for (let f = 0; f < FIELDS; f++) if (!Object.is(row[base + f], 0)) present++
  let offsetsBytes = 0
  for (const [key] of offsets) offsetsBytes += 2 + Buffer.byteLength(key) + 8
  let extraBytes = 1
  if (risk !== undefined) {
    extraBytes += 8 + 8 + 1 + 1 + Buffer.byteLength(risk.band) + 1 + Buffer.byteLength(risk.modelVersion) + 1
    for (const r of risk.reasons) extraBytes += 1 + Buffer.byteLength(r.feature) + 16
  }
  if (silence !== undefined) extraBytes += 2 + 2 + Buffer.byteLength(silence.anchor)
  const b = Buffer.allocUnsafe(1 + 2 + BITMAP_BYTES + 8 * present + 8 + 1 + 8 + 2 + offsetsBytes + extraBytes)
  let at = b.writeUInt8(FORMAT_VERSION, 0)
  at = b.writeUInt16LE(FIELDS, at)
  const bitmap = at
  b.fill(0, bitmap, bitmap + BITMAP_BYTES)
  at += BITMAP_BYTES
  for (let f = 0; f < FIELDS; f++) {
    const v = row[base + f] as number
    if (Object.is(v, 0)) continue
    b[bitmap + (f >>> 3)] = (b[bitmap + (f >>> 3)] as number) | (1 << (f & 7))
    at = b.writeDoubleLE(v, at)
  }
  at = b.writeDoubleLE(version, at)
  at = b.writeUInt8(high ? 1 : 0, at)
  at = b.writeDoubleLE(lastAt, at)
  at = b.writeUInt16LE(offsets.length, at)
  for (const [key, offset] of offsets) {
    const length = b.write(key, at + 2, 'utf8')
    b.writeUInt16LE(length, at)
    at = b.writeDoubleLE(offset, at + 2 + length)
  }
  at = b.writeUInt8((risk === undefined ? 0 : 1) | (silence === undefined ? 0 : 2), at)
  if (risk !== undefined) {
    at = b.writeDoubleLE(risk.score, at)
    at = b.writeDoubleLE(risk.at, at)
    at = b.writeUInt8(risk.trigger === RiskTriggers.INACTIVITY ? 1 : 0, at)
    at = writeShort(b, risk.band, at)
    at = writeShort(b, risk.modelVersion, at)
    at = b.writeUInt8(risk.reasons.length, at)
    for (const r of risk.reasons) {
      at = writeShort(b, r.feature, at)
      at = b.writeDoubleLE(r.value, at)
      at = b.writeDoubleLE(r.impact, at)
    }
  }
  if (silence !== undefined) {
    at = b.writeUInt16LE(silence.steps, at)
    const length = b.write(silence.anchor, at + 2, 'utf8')
    b.writeUInt16LE(length, at)
  }
  return b
}

/** A string of at most 255 UTF-8 bytes (band names, model versions, feature names): u8 length + bytes. */
function writeShort (b: Buffer, s: string, at: number): number {
  const length = b.write(s, at + 1, 'utf8')
  if (length > 255) throw new RangeError(`"${s.slice(0, 40)}…" is longer than 255 bytes`)
  b.writeUInt8(length, at)
  return at + 1 + length
}

/** The record as bytes, in one buffer. */
export function encodeProfileRecord (record: ProfileRecord): Buffer {
  profileToRow(record.profile, scratch, 0)
  return encodeProfileRow(scratch, 0, record.version, record.alert.high, record.alert.lastAt, Object.entries(record.offsets), record.risk, record.silence)
}

/** A record from `encodeProfileRecord`'s bytes; rejects bytes that are not one. */
export function decodeProfileRecord (b: Buffer): ProfileRecord {
  let at = 0
  const take = (bytes: number): number => {
    const from = at
    at += bytes
    if (at > b.length) throw defect(`it ends after ${b.length} bytes, inside its contents`)
    return from
  }
  const version = b.readUInt8(take(1))
  if (version !== 1 && version !== FORMAT_VERSION) throw defect(`its format version is ${version}; this churnflow reads versions 1 and ${FORMAT_VERSION}`)
  const fields = b.readUInt16LE(take(2))
  const bitmap = take(Math.ceil(fields / 8))
  scratch.fill(0)
  for (let f = 0; f < fields; f++) {
    if (((b[bitmap + (f >>> 3)] as number) & (1 << (f & 7))) === 0) continue
    const v = b.readDoubleLE(take(8))
    if (f < FIELDS) scratch[f] = v
  }
  const profile = profileFromRow(scratch, 0)
  const writes = b.readDoubleLE(take(8))
  const high = (b.readUInt8(take(1)) & 1) === 1
  const lastAt = b.readDoubleLE(take(8))
  const count = b.readUInt16LE(take(2))
  const offsets: Record<string, number> = {}
  for (let i = 0; i < count; i++) {
    const length = b.readUInt16LE(take(2))
    const key = b.toString('utf8', take(length), at)
    offsets[key] = b.readDoubleLE(take(8))
  }
  let risk: CurrentRisk | undefined
  let silence: SilenceState | undefined
  if (version >= 2) {
    const flags = b.readUInt8(take(1))
    const short = (): string => {
      const length = b.readUInt8(take(1))
      return b.toString('utf8', take(length), at)
    }
    if ((flags & 1) !== 0) {
      const score = b.readDoubleLE(take(8))
      const asOf = b.readDoubleLE(take(8))
      const trigger = b.readUInt8(take(1)) === 1 ? RiskTriggers.INACTIVITY : RiskTriggers.EVENT
      const band = short()
      const modelVersion = short()
      const reasons: RiskReason[] = []
      for (let n = b.readUInt8(take(1)); n > 0; n--) {
        const feature = short()
        reasons.push({ feature, value: b.readDoubleLE(take(8)), impact: b.readDoubleLE(take(8)) })
      }
      risk = { score, band, modelVersion, at: asOf, trigger, reasons }
    }
    if ((flags & 2) !== 0) {
      const steps = b.readUInt16LE(take(2))
      const length = b.readUInt16LE(take(2))
      silence = { steps, anchor: b.toString('utf8', take(length), at) }
    }
  }
  if (at !== b.length) throw defect(`it has ${b.length - at} bytes beyond its contents`)
  return { profile, offsets, alert: { high, lastAt }, version: writes, ...(risk === undefined ? {} : { risk }), ...(silence === undefined ? {} : { silence }) }
}

/** Whether `candidate` holds every event `current` holds (see `offsetsCover`): the one a restore keeps. */
export function supersedes (candidate: ProfileRecord, current: ProfileRecord): boolean {
  return offsetsCover(candidate.offsets, current.offsets)
}

function defect (what: string): ChurnflowError {
  return new ChurnflowError(ErrorCodes.STATE_RECORD_INVALID, `a stored customer record is invalid: ${what}`)
}
