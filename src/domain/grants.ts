import Decimal from 'decimal.js';
import { Exact } from './decimal';
import { periodBounds, startOfDateAfterMonths, startOfDateAfterDays } from './periods';
import { tierByName } from './terms';
import type { Terms } from './terms-schema';

/** Kind of a credit grant; the order of this list is the burn tie-break order. */
export type GrantKind = 'commit' | 'rollover' | 'prepaid' | 'adjustment';

/** Rank of each grant kind when two grants expire at the same instant: lower burns first. */
export const GRANT_KIND_BURN_RANK: Readonly<Record<GrantKind, number>> = Object.freeze({
  commit: 0,
  rollover: 1,
  prepaid: 2,
  adjustment: 3,
});

/**
 * A bucket of credits valid `[validFrom, expiresAt)`. Ids are deterministic:
 * `commit-<period>`, `rollover-<period closed>`, `prepaid-<block index>`; an adjustment
 * keeps the id ops gave it.
 */
export interface Grant {
  id: string;
  kind: GrantKind;
  /** Credits issued, a decimal string. */
  credits: string;
  /** First instant the grant covers usage, ISO 8601. */
  validFrom: string;
  /** First instant the grant no longer covers usage, ISO 8601. */
  expiresAt: string;
  /** Period the grant belongs to: the period of a commit grant, the closed period of a rollover grant. */
  periodIndex?: number;
  /** Reason ops gave for an adjustment. */
  reason?: string;
}

/** A grant with its remaining credits at a given moment. */
export interface GrantBalance {
  grant: Grant;
  /** Credits not yet burned, rolled over, forfeited or expired, a decimal string. */
  remaining: string;
}

/** Kind of a ledger movement of credits on a grant. */
export type MovementKind = 'issue' | 'burn' | 'rollover' | 'forfeit' | 'expire';

/**
 * One movement of credits on a grant. `issue` adds credits; the other kinds remove
 * them. A `rollover` movement is recorded on the commit grant whose unused credits moved
 * into a new rollover grant (which gets its own `issue`).
 */
export interface LedgerMovement {
  grantId: string;
  kind: MovementKind;
  /** Credits moved, a decimal string > 0. */
  credits: string;
  /** Instant of the movement, ISO 8601. */
  at: string;
  /** Period whose close or start recorded the movement. */
  periodIndex: number;
}

/**
 * Orders grants for burning: the grant that expires first burns first. On equal expiry
 * the order is `commit`, `rollover`, `prepaid`, `adjustment`, then the older grant
 * (earlier `validFrom`), then the id, so the order is total and deterministic.
 */
export function compareBurnOrder(a: Grant, b: Grant): number {
  const byExpiry = Date.parse(a.expiresAt) - Date.parse(b.expiresAt);
  if (byExpiry !== 0) return byExpiry;
  const byKind = GRANT_KIND_BURN_RANK[a.kind] - GRANT_KIND_BURN_RANK[b.kind];
  if (byKind !== 0) return byKind;
  const byAge = Date.parse(a.validFrom) - Date.parse(b.validFrom);
  if (byAge !== 0) return byAge;
  if (a.id === b.id) return 0;
  return a.id < b.id ? -1 : 1;
}

/** Returns whether a grant covers usage at `instant`: `validFrom <= instant < expiresAt`. */
export function isGrantValidAt(grant: Grant, instant: number): boolean {
  return Date.parse(grant.validFrom) <= instant && instant < Date.parse(grant.expiresAt);
}

/** Builds the commit grant of period `index` for `commitCredits`, valid for the whole period. */
export function commitGrant(terms: Terms, index: number, commitCredits: Decimal.Value): Grant {
  const bounds = periodBounds(terms, index);
  return {
    id: `commit-${index}`,
    kind: 'commit',
    credits: new Exact(commitCredits).toFixed(),
    validFrom: bounds.start.toISOString(),
    expiresAt: bounds.end.toISOString(),
    periodIndex: index,
  };
}

/**
 * Builds the rollover grant issued at the close of period `index`: valid from the
 * period's end until the start of the local date `expiresAfterDays` days later.
 */
export function rolloverGrant(terms: Terms, index: number, credits: Decimal.Value, expiresAfterDays: number): Grant {
  const bounds = periodBounds(terms, index);
  return {
    id: `rollover-${index}`,
    kind: 'rollover',
    credits: new Exact(credits).toFixed(),
    validFrom: bounds.end.toISOString(),
    expiresAt: startOfDateAfterDays(bounds.end, expiresAfterDays, terms.timeZone).toISOString(),
    periodIndex: index,
  };
}

/**
 * Builds the grant of prepaid block `prepaidIndex`: issued at the start of its
 * `purchasedOn` date in the contract's zone, valid for `expiresAfterMonths` calendar
 * months (the day clamped to the month's end).
 */
export function prepaidGrant(terms: Terms, prepaidIndex: number): Grant {
  const block = terms.prepaid?.[prepaidIndex];
  if (block === undefined) {
    throw new RangeError(`Prepaid block ${prepaidIndex} does not exist: the terms list ${terms.prepaid?.length ?? 0}.`);
  }
  return {
    id: `prepaid-${prepaidIndex}`,
    kind: 'prepaid',
    credits: new Exact(block.credits).toFixed(),
    validFrom: startOfDateAfterMonths(block.purchasedOn, 0, terms.timeZone).toISOString(),
    expiresAt: startOfDateAfterMonths(block.purchasedOn, block.expiresAfterMonths, terms.timeZone).toISOString(),
  };
}

/** Returns the grants recorded when a contract starts: the commit grant of period 0 and every prepaid block. */
export function contractStartGrants(terms: Terms, tierName: string = terms.initialTier): Grant[] {
  const tier = tierByName(terms, tierName);
  const grants = [commitGrant(terms, 0, tier.commitCredits)];
  (terms.prepaid ?? []).forEach((_, index) => grants.push(prepaidGrant(terms, index)));
  return grants;
}

/** Returns the `issue` movement of a grant, dated at its `validFrom`. */
export function issueMovement(grant: Grant, periodIndex: number): LedgerMovement {
  return { grantId: grant.id, kind: 'issue', credits: grant.credits, at: grant.validFrom, periodIndex };
}

/** One grant whose ledger movements do not add up to its remaining credits. */
export interface ConservationViolation {
  grantId: string;
  issued: string;
  removed: string;
  remaining: string;
  message: string;
}

/**
 * Checks credit conservation for every grant: credits issued equal credits burned,
 * rolled over, forfeited and expired plus the remaining credits. Returns the grants that
 * break it (an empty list when the ledger is consistent).
 */
export function checkConservation(balances: readonly GrantBalance[], movements: readonly LedgerMovement[]): ConservationViolation[] {
  const issued = new Map<string, Decimal>();
  const removed = new Map<string, Decimal>();
  for (const movement of movements) {
    const target = movement.kind === 'issue' ? issued : removed;
    target.set(movement.grantId, (target.get(movement.grantId) ?? new Exact(0)).plus(movement.credits));
  }
  const violations: ConservationViolation[] = [];
  const ids = new Set<string>([...issued.keys(), ...removed.keys(), ...balances.map((b) => b.grant.id)]);
  for (const id of [...ids].sort()) {
    const balance = balances.find((candidate) => candidate.grant.id === id);
    const remaining = new Exact(balance?.remaining ?? '0');
    const issuedCredits = issued.get(id) ?? new Exact(0);
    const removedCredits = removed.get(id) ?? new Exact(0);
    if (!issuedCredits.equals(removedCredits.plus(remaining))) {
      violations.push({
        grantId: id,
        issued: issuedCredits.toFixed(),
        removed: removedCredits.toFixed(),
        remaining: remaining.toFixed(),
        message: `grant ${id}: issued ${issuedCredits.toFixed()} but burned, rolled over, forfeited and expired ${removedCredits.toFixed()} plus remaining ${remaining.toFixed()}`,
      });
    }
  }
  return violations;
}
