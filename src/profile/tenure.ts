const DAY = 86_400_000

/** A tenure segment: customers first seen at least `fromDays` (and less than the next segment's) days before now. */
export interface TenureSegment { readonly name: string, readonly label: string, readonly fromDays: number }

/**
 * The customer segments by tenure (time since first seen), youngest first: the at-risk lists'
 * `segment=` filter, on the processor's routes and the dashboard alike.
 */
export const TENURE_SEGMENTS: readonly TenureSegment[] = [
  { name: 'new', label: 'Under 30 days', fromDays: 0 },
  { name: '1-6-months', label: '1–6 months', fromDays: 30 },
  { name: '6-12-months', label: '6–12 months', fromDays: 183 },
  { name: 'over-12-months', label: 'Over 12 months', fromDays: 365 }
]

/** Whole days from first seen to `asOf`; null when the customer was never seen. */
export function tenureDays (firstSeen: number, asOf: number): number | null {
  return firstSeen > 0 && Number.isFinite(firstSeen) && Number.isFinite(asOf) ? Math.max(0, Math.floor((asOf - firstSeen) / DAY)) : null
}

/** The tenure segment of a customer first seen at `firstSeen`, as of `asOf` (epoch ms); null when never seen. */
export function tenureSegment (firstSeen: number, asOf: number): string | null {
  const days = tenureDays(firstSeen, asOf)
  if (days === null) return null
  let name = (TENURE_SEGMENTS[0] as TenureSegment).name
  for (const s of TENURE_SEGMENTS) if (days >= s.fromDays) name = s.name
  return name
}
