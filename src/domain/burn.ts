import Decimal from 'decimal.js';
import { Exact } from './decimal';
import { compareBurnOrder, type Grant } from './grants';

/** A grant taking part in a burn, with its remaining credits as an exact decimal. */
export interface BurnableGrant {
  grant: Grant;
  remaining: Decimal;
}

/** Credits burned from one grant during one segment. */
export interface SegmentBurn {
  grantIndex: number;
  segmentIndex: number;
  credits: Decimal;
}

/** Outcome of burning usage segment by segment. */
export interface BurnOutcome {
  /** Remaining credits of each grant after the burn, in the order of the input grants. */
  remaining: Decimal[];
  burns: SegmentBurn[];
  /** Usage no valid grant covered, per segment. */
  overagePerSegment: Decimal[];
  overage: Decimal;
}

/**
 * Returns the instants (epoch milliseconds) where the set of valid grants can change
 * inside `[start, end)`: `start` itself, then every grant start and expiry strictly
 * between `start` and `end`, sorted and without repeats. Segment `i` runs from
 * boundary `i` to boundary `i + 1` (or to `end`).
 */
export function segmentBoundaries(start: number, end: number, grants: Iterable<Pick<Grant, 'validFrom' | 'expiresAt'>>): number[] {
  const instants = new Set<number>([start]);
  for (const grant of grants) {
    for (const instant of [Date.parse(grant.validFrom), Date.parse(grant.expiresAt)]) {
      if (instant > start && instant < end) instants.add(instant);
    }
  }
  return [...instants].sort((a, b) => a - b);
}

/** Returns the index of the segment containing `instant`; instants before the first boundary fall in segment 0. */
export function segmentIndexAt(boundaries: readonly number[], instant: number): number {
  let low = 0;
  let high = boundaries.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if ((boundaries[middle] as number) <= instant) low = middle;
    else high = middle - 1;
  }
  return low;
}

/** Returns the grants sorted in burn order, keeping their original positions. */
export function sortForBurn<T extends { grant: Grant }>(grants: readonly T[]): { item: T; index: number }[] {
  return grants.map((item, index) => ({ item, index })).sort((a, b) => compareBurnOrder(a.item.grant, b.item.grant));
}

/**
 * Burns usage segment by segment in time order. Within a segment, the usage burns the
 * grants valid during the whole segment in burn order (earliest expiry first, ties by
 * kind and age). What no grant covers is overage. Segments split at every grant start
 * and expiry, so summing usage per segment gives the same result as burning event by
 * event.
 */
export function burnSegments(grants: readonly BurnableGrant[], boundaries: readonly number[], usagePerSegment: readonly Decimal[]): BurnOutcome {
  const order = sortForBurn(grants);
  const windows = order.map(({ item }) => ({ from: Date.parse(item.grant.validFrom), to: Date.parse(item.grant.expiresAt) }));
  const remaining = grants.map((grant) => grant.remaining);
  const burns: SegmentBurn[] = [];
  const overagePerSegment: Decimal[] = [];
  let overage = new Exact(0);

  boundaries.forEach((segmentStart, segmentIndex) => {
    let usage = usagePerSegment[segmentIndex] ?? new Exact(0);
    for (let position = 0; position < order.length && usage.greaterThan(0); position++) {
      const window = windows[position] as { from: number; to: number };
      if (window.from > segmentStart || window.to <= segmentStart) continue;
      const grantIndex = (order[position] as { index: number }).index;
      const available = remaining[grantIndex] as Decimal;
      if (available.lessThanOrEqualTo(0)) continue;
      const credits = Decimal.min(available, usage);
      remaining[grantIndex] = available.minus(credits);
      usage = usage.minus(credits);
      burns.push({ grantIndex, segmentIndex, credits });
    }
    overagePerSegment.push(usage);
    overage = overage.plus(usage);
  });

  return { remaining, burns, overagePerSegment, overage };
}
