import Decimal from 'decimal.js';
import { commitFee, overageUnitPrice } from './charges';
import { Exact } from './decimal';
import { formatMoney, roundMoney } from './money';
import { formatCalendarDate, localDateOf, periodBounds, periodIndexAt, startOfDateAfterMonths } from './periods';
import { trueUpOf, tierByName } from './terms';
import type { Terms, Tier } from './terms-schema';

export type InvoiceLineKind = 'platform_fee' | 'commit_fee' | 'overage' | 'prepaid';

/** One line of an invoice; `amount` is rounded to the currency's minor unit. */
export interface InvoiceLine {
  kind: InvoiceLineKind;
  description: string;
  quantity: string;
  /** Exact unit price, which may carry more digits than the currency's minor unit ("0.26", "0.0015"). */
  unitPrice: string;
  amount: string;
  /** Period the line bills, for overage lines of a true-up. */
  periodIndex?: number;
}

/**
 * An invoice before it is issued. The caller numbers it and stamps the issue time; `key`
 * is unique per contract and cause, so issuing it twice can be refused.
 */
export interface InvoiceDraft {
  key: string;
  kind: 'period' | 'prepaid';
  contractId: string;
  periodIndex: number | null;
  currency: string;
  lines: InvoiceLine[];
  /** Sum of the line amounts. */
  total: string;
}

/** Overage of a closed period not yet billed, waiting for the next true-up. */
export interface AccruedOverage {
  periodIndex: number;
  credits: string;
  unitPrice: string;
  amount: string;
  description: string;
}

/** Returns the local dates a period covers, as "YYYY-MM-DD to YYYY-MM-DD" (last day included). */
export function periodLabel(terms: Terms, periodIndex: number): string {
  const bounds = periodBounds(terms, periodIndex);
  const first = formatCalendarDate(localDateOf(bounds.start, terms.timeZone));
  const last = formatCalendarDate(localDateOf(new Date(bounds.end.getTime() - 1), terms.timeZone));
  return `period ${periodIndex} (${first} to ${last})`;
}

/**
 * Returns whether a period's close bills the accrued overage: every period for
 * `monthly`, when `k + 1` is divisible by 3 for `quarterly` or by 12 for `annual`, and
 * always on the final close.
 */
export function isTrueUpPeriod(terms: Pick<Terms, 'trueUp'>, periodIndex: number, final: boolean): boolean {
  if (final) return true;
  switch (trueUpOf(terms)) {
    case 'monthly':
      return true;
    case 'quarterly':
      return (periodIndex + 1) % 3 === 0;
    case 'annual':
      return (periodIndex + 1) % 12 === 0;
  }
}

/** Builds the accrued overage of a period: `credits x pricePerCredit x overageMultiplier`, rounded half to even. */
export function accrueOverage(terms: Terms, tier: Tier, periodIndex: number, overageCredits: Decimal): AccruedOverage {
  const unitPrice = overageUnitPrice(terms, tier);
  return {
    periodIndex,
    credits: overageCredits.toFixed(),
    unitPrice: unitPrice.toFixed(),
    amount: formatMoney(roundMoney(overageCredits.times(unitPrice), terms.currency), terms.currency),
    description: `Overage, ${periodLabel(terms, periodIndex)}, ${overageCredits.toFixed()} credits at ${unitPrice.toFixed()}`,
  };
}

function draft(base: Omit<InvoiceDraft, 'total'>): InvoiceDraft {
  const total = base.lines.reduce((sum, line) => sum.plus(line.amount), new Exact(0));
  return { ...base, total: formatMoney(total, base.currency) };
}

/**
 * Builds a period's invoice: the platform fee and the commit fee of the tier in force
 * and, when the close is a true-up, one overage line per settled period with overage.
 */
export function periodInvoice(
  terms: Terms,
  contractId: string,
  periodIndex: number,
  tier: Tier,
  settledOverage: readonly AccruedOverage[],
): InvoiceDraft {
  const label = periodLabel(terms, periodIndex);
  const lines: InvoiceLine[] = [
    {
      kind: 'platform_fee',
      description: `Platform fee, ${tier.name} tier, ${label}`,
      quantity: '1',
      unitPrice: formatMoney(tier.platformFee, terms.currency),
      amount: formatMoney(roundMoney(tier.platformFee, terms.currency), terms.currency),
    },
    {
      kind: 'commit_fee',
      description: `Commit fee, ${tier.commitCredits} credits at ${tier.pricePerCredit}, ${tier.name} tier, ${label}`,
      quantity: new Exact(tier.commitCredits).toFixed(),
      unitPrice: tier.pricePerCredit,
      amount: formatMoney(commitFee(terms, tier), terms.currency),
    },
  ];
  for (const overage of settledOverage) {
    if (new Exact(overage.credits).isZero()) continue;
    lines.push({
      kind: 'overage',
      description: overage.description,
      quantity: overage.credits,
      unitPrice: overage.unitPrice,
      amount: overage.amount,
      periodIndex: overage.periodIndex,
    });
  }
  return draft({ key: `${contractId}/${periodIndex}/period`, kind: 'period', contractId, periodIndex, currency: terms.currency, lines });
}

/**
 * Builds the invoice of prepaid block `prepaidIndex`, issued when it is purchased:
 * `credits x pricePerCredit of the initial tier x (1 - discount)`, rounded half to even.
 */
export function prepaidInvoice(terms: Terms, prepaidIndex: number, contractId: string = terms.customer.id): InvoiceDraft {
  const block = terms.prepaid?.[prepaidIndex];
  if (block === undefined) {
    throw new RangeError(`Prepaid block ${prepaidIndex} does not exist: the terms list ${terms.prepaid?.length ?? 0}.`);
  }
  const tier = tierByName(terms, terms.initialTier);
  const unitPrice = new Exact(tier.pricePerCredit).times(new Exact(1).minus(block.discount));
  const amount = roundMoney(new Exact(block.credits).times(unitPrice), terms.currency);
  const purchased = startOfDateAfterMonths(block.purchasedOn, 0, terms.timeZone);
  return draft({
    key: `${contractId}/prepaid/${prepaidIndex}`,
    kind: 'prepaid',
    contractId,
    periodIndex: periodIndexAt(terms, purchased) ?? null,
    currency: terms.currency,
    lines: [
      {
        kind: 'prepaid',
        description: `Prepaid credits, ${block.credits} credits at ${tier.pricePerCredit} less ${new Exact(block.discount).times(100).toFixed()}% discount, purchased ${block.purchasedOn}, valid ${block.expiresAfterMonths} months`,
        quantity: new Exact(block.credits).toFixed(),
        unitPrice: unitPrice.toFixed(),
        amount: formatMoney(amount, terms.currency),
      },
    ],
  });
}
