import Decimal from 'decimal.js';
import { admissionSegmentStarts, type PeriodAdmissionState } from './admission';
import { burnSegments, type BurnableGrant } from './burn';
import { overageUnitPrice, periodCharges, type PeriodChargesJson, formatCharges } from './charges';
import { Exact } from './decimal';
import { tierByName } from './terms';
import type { Terms } from './terms-schema';

/** Entitlement of an open period: whether new work is admitted now, and how much room is left. */
export interface Entitlement {
  periodIndex: number;
  tier: string;
  /** Every new event of the period is deferred until `nextPeriodStart`. */
  throttled: boolean;
  /** Credits still covered by grants valid at the instant asked about. */
  creditsBeforeOverage: string;
  /**
   * Credits that can still be admitted before the spend cap, rounded down to 6 decimal
   * places. The overage line's rounding to the currency's minor unit can leave a little
   * more. Null for a tier without a cap, "0" when throttled.
   */
  creditsBeforeCap: string | null;
  overageCredits: string;
  charges: PeriodChargesJson;
  spendCap: string | null;
  nextPeriodStart: string;
}

/**
 * Computes the entitlement of an open period at `now` from its admission state. The
 * admitted usage is burned segment by segment. What the grants valid at `now` still hold
 * is left before overage. The cap less the charges, at the overage price, is added to
 * that to give what is left before the cap.
 */
export function entitlementOf(state: PeriodAdmissionState, terms: Terms, now: Date): Entitlement {
  const tier = tierByName(terms, state.tier);
  const commitId = `commit-${state.periodIndex}`;
  const grants: BurnableGrant[] = state.grants.map((grant) => ({
    grant: { id: grant.id, kind: grant.kind, credits: grant.remaining, validFrom: grant.validFrom, expiresAt: grant.expiresAt },
    remaining: new Exact(grant.id === commitId ? tier.commitCredits : grant.remaining),
  }));
  const usage = state.segmentCredits.map((credits) => new Exact(credits));
  if (usage.length > 0) usage[0] = (usage[0] as Decimal).plus(state.carriedInCredits);
  const burn = burnSegments(grants, admissionSegmentStarts(state), usage);

  const instant = now.getTime();
  let beforeOverage = new Exact(0);
  grants.forEach((item, index) => {
    const valid = Date.parse(item.grant.validFrom) <= instant && instant < Date.parse(item.grant.expiresAt);
    if (valid) beforeOverage = beforeOverage.plus(burn.remaining[index] as Decimal);
  });

  const charges = periodCharges(terms, tier, burn.overage);
  let beforeCap: string | null = null;
  if (tier.spendCap !== undefined) {
    if (state.throttled) {
      beforeCap = '0';
    } else {
      const unitPrice = overageUnitPrice(terms, tier);
      const money = new Exact(tier.spendCap).minus(charges.total);
      const overageRoom = unitPrice.isZero() ? new Exact(Infinity) : Decimal.max(0, money.dividedBy(unitPrice));
      beforeCap = overageRoom.isFinite() ? beforeOverage.plus(overageRoom).toDecimalPlaces(6, Decimal.ROUND_DOWN).toFixed() : null;
    }
  }

  return {
    periodIndex: state.periodIndex,
    tier: tier.name,
    throttled: state.throttled,
    creditsBeforeOverage: beforeOverage.toFixed(),
    creditsBeforeCap: beforeCap,
    overageCredits: burn.overage.toFixed(),
    charges: formatCharges(charges, terms.currency),
    spendCap: tier.spendCap ?? null,
    nextPeriodStart: state.end,
  };
}
