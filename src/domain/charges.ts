import Decimal from 'decimal.js';
import { Exact } from './decimal';
import { formatMoney, roundMoney } from './money';
import { overageMultiplierOf } from './terms';
import type { Terms, Tier } from './terms-schema';

/** Charges of one period, each line rounded to the currency's minor unit; `total` is their sum. */
export interface PeriodCharges {
  platformFee: Decimal;
  commitFee: Decimal;
  overage: Decimal;
  total: Decimal;
}

/** Charges of a period as decimal strings with the currency's minor digits ("5000.00"). */
export interface PeriodChargesJson {
  platformFee: string;
  commitFee: string;
  overage: string;
  total: string;
}

/** Returns the price of one overage credit: `pricePerCredit x overageMultiplier`, exact. */
export function overageUnitPrice(terms: Pick<Terms, 'overageMultiplier'>, tier: Tier): Decimal {
  return new Exact(tier.pricePerCredit).times(overageMultiplierOf(terms));
}

/** Returns the commit fee (the floor): `commitCredits x pricePerCredit`, rounded half to even. */
export function commitFee(terms: Pick<Terms, 'currency'>, tier: Tier): Decimal {
  return roundMoney(new Exact(tier.commitCredits).times(tier.pricePerCredit), terms.currency);
}

/**
 * Computes a period's charges for the tier in force: the platform fee, the commit fee
 * and `overageCredits x pricePerCredit x overageMultiplier`. Each is rounded half to
 * even to the currency's minor unit, and the total is the sum of the rounded lines.
 */
export function periodCharges(terms: Pick<Terms, 'currency' | 'overageMultiplier'>, tier: Tier, overageCredits: Decimal.Value): PeriodCharges {
  const platformFee = roundMoney(tier.platformFee, terms.currency);
  const commit = commitFee(terms, tier);
  const overage = roundMoney(new Exact(overageCredits).times(overageUnitPrice(terms, tier)), terms.currency);
  return { platformFee, commitFee: commit, overage, total: platformFee.plus(commit).plus(overage) };
}

/** Formats charges with the currency's minor digits. */
export function formatCharges(charges: PeriodCharges, currency: string): PeriodChargesJson {
  return {
    platformFee: formatMoney(charges.platformFee, currency),
    commitFee: formatMoney(charges.commitFee, currency),
    overage: formatMoney(charges.overage, currency),
    total: formatMoney(charges.total, currency),
  };
}

/** Returns whether charges stay at or under the tier's spend cap; a tier without a cap always fits. */
export function withinSpendCap(tier: Tier, charges: PeriodCharges): boolean {
  return tier.spendCap === undefined || charges.total.lessThanOrEqualTo(tier.spendCap);
}
