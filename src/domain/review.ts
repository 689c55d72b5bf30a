import Decimal from 'decimal.js';
import { periodCharges } from './charges';
import { Exact } from './decimal';
import { formatMoney } from './money';
import { overageMultiplierOf, tierByName, trueUpOf } from './terms';
import type { DraftTerms } from './terms-schema';

/** One finding of a term-sheet review. */
export interface Finding {
  code: string;
  /** Field path the finding is about, such as `rollover.fraction`. */
  field: string;
  message: string;
}

/** Result of `reviewTerms`: red flags block signing unless an approver overrides them; warnings do not. */
export interface ReviewResult {
  redFlags: Finding[];
  warnings: Finding[];
}

/** Reference guidance ranges of the warnings, inclusive. */
export const REVIEW_GUIDANCE = Object.freeze({
  floorPercentOfProjection: ['60', '80'],
  spendCapPercentOfProjectedCharges: ['150', '200'],
  overageMultiplier: ['1.2', '1.5'],
  platformFeePercentOfProjectedTotal: ['30', '40'],
  rolloverFraction: ['0.25', '0.5'],
  rolloverWindowDays: [60, 90],
} as const);

function outside(value: Decimal, [low, high]: readonly [string, string] | readonly [number, number]): boolean {
  return value.lessThan(low) || value.greaterThan(high);
}

function percent(part: Decimal, whole: Decimal): string {
  return part.times(100).dividedBy(whole).toDecimalPlaces(1).toFixed();
}

/**
 * Reviews a draft term sheet and returns its red flags and warnings.
 * Red flags:
 * - `UNCAPPED_COGS`: no overage charge, so usage grows without limit at the fixed fees
 *   and no spend cap can ever throttle it;
 * - `MOST_FAVORED_NATION` and `RETROACTIVE_PRICING`: those clauses are set;
 * - `INDEFINITE_ROLLOVER`: a rollover without expiry or with a fraction above 1;
 * - `OUTCOME_WITHOUT_FLOOR`: an outcome meter with a tier committing zero credits.
 * Warnings compare the initial tier with the reference guidance: floor 60-80% of the
 * projected monthly credits, spend cap 150-200% and platform fee 30-40% of the projected
 * monthly charges, overage multiplier 1.2-1.5, rollover 25-50% over 60-90 days, and a
 * monthly true-up.
 */
export function reviewTerms(terms: DraftTerms): ReviewResult {
  const redFlags: Finding[] = [];
  const warnings: Finding[] = [];
  const multiplier = overageMultiplierOf(terms);

  if (multiplier.isZero()) {
    redFlags.push({
      code: 'UNCAPPED_COGS',
      field: 'overageMultiplier',
      message:
        terms.overageMultiplier === undefined
          ? 'No overage multiplier is set, so usage beyond the commit is free and no spend cap can throttle it: costs can grow without limit at a fixed price.'
          : 'The overage multiplier is 0, so usage beyond the commit is free and no spend cap can throttle it: costs can grow without limit at a fixed price.',
    });
  }
  if (terms.clauses?.mostFavoredNation === true) {
    redFlags.push({ code: 'MOST_FAVORED_NATION', field: 'clauses.mostFavoredNation', message: 'A most-favored-nation clause ties this price to every future deal.' });
  }
  if (terms.clauses?.retroactivePricing === true) {
    redFlags.push({ code: 'RETROACTIVE_PRICING', field: 'clauses.retroactivePricing', message: 'Retroactive pricing lets a price change reach periods already billed.' });
  }
  if (terms.rollover !== undefined) {
    if (terms.rollover.expiresAfterDays === undefined) {
      redFlags.push({ code: 'INDEFINITE_ROLLOVER', field: 'rollover.expiresAfterDays', message: 'Rolled-over credits never expire, so unused commit accumulates without limit.' });
    }
    if (new Exact(terms.rollover.fraction).greaterThan(1)) {
      redFlags.push({
        code: 'INDEFINITE_ROLLOVER',
        field: 'rollover.fraction',
        message: `A rollover fraction of ${terms.rollover.fraction} rolls over more credits than were left unused.`,
      });
    }
  }
  const outcomeMeters = terms.meters.filter((meter) => meter.kind === 'outcome');
  if (outcomeMeters.length > 0) {
    terms.tiers.forEach((tier, index) => {
      if (new Exact(tier.commitCredits).isZero()) {
        redFlags.push({
          code: 'OUTCOME_WITHOUT_FLOOR',
          field: `tiers[${index}].commitCredits`,
          message: `Tier "${tier.name}" commits zero credits while meter "${outcomeMeters[0]?.key}" is priced per outcome, so the contract has no floor.`,
        });
      }
    });
  }

  const tier = tierByName(terms, terms.initialTier);
  const tierIndex = terms.tiers.indexOf(tier);
  const projection = terms.projection === undefined ? undefined : new Exact(terms.projection.monthlyCredits);
  if (projection === undefined || projection.isZero()) {
    warnings.push({
      code: 'PROJECTION_MISSING',
      field: 'projection.monthlyCredits',
      message: 'No projected monthly usage is given, so the floor, spend cap and platform fee cannot be checked against the guidance.',
    });
  } else {
    const commit = new Exact(tier.commitCredits);
    const floorShare = commit.times(100).dividedBy(projection);
    if (outside(floorShare, REVIEW_GUIDANCE.floorPercentOfProjection)) {
      warnings.push({
        code: 'FLOOR_OUTSIDE_GUIDANCE',
        field: `tiers[${tierIndex}].commitCredits`,
        message: `The commit of ${tier.commitCredits} credits is ${percent(commit, projection)}% of the projected ${projection.toFixed()} monthly credits; guidance is 60-80%.`,
      });
    }
    const overage = Decimal.max(projection.minus(commit), 0);
    const projected = periodCharges(terms, tier, overage).total;
    if (tier.spendCap === undefined) {
      warnings.push({
        code: 'SPEND_CAP_OUTSIDE_GUIDANCE',
        field: `tiers[${tierIndex}].spendCap`,
        message: `Tier "${tier.name}" has no spend cap; guidance is 150-200% of the projected monthly charges of ${formatMoney(projected, terms.currency)}.`,
      });
    } else if (!projected.isZero() && outside(new Exact(tier.spendCap).times(100).dividedBy(projected), REVIEW_GUIDANCE.spendCapPercentOfProjectedCharges)) {
      warnings.push({
        code: 'SPEND_CAP_OUTSIDE_GUIDANCE',
        field: `tiers[${tierIndex}].spendCap`,
        message: `The spend cap of ${tier.spendCap} is ${percent(new Exact(tier.spendCap), projected)}% of the projected monthly charges of ${formatMoney(projected, terms.currency)}; guidance is 150-200%.`,
      });
    }
    if (!projected.isZero() && outside(new Exact(tier.platformFee).times(100).dividedBy(projected), REVIEW_GUIDANCE.platformFeePercentOfProjectedTotal)) {
      warnings.push({
        code: 'PLATFORM_FEE_OUTSIDE_GUIDANCE',
        field: `tiers[${tierIndex}].platformFee`,
        message: `The platform fee of ${tier.platformFee} is ${percent(new Exact(tier.platformFee), projected)}% of the projected monthly charges of ${formatMoney(projected, terms.currency)}; guidance is 30-40%.`,
      });
    }
  }
  if (!multiplier.isZero() && outside(multiplier, REVIEW_GUIDANCE.overageMultiplier)) {
    warnings.push({
      code: 'OVERAGE_MULTIPLIER_OUTSIDE_GUIDANCE',
      field: 'overageMultiplier',
      message: `The overage multiplier is ${multiplier.toFixed()}; guidance is 1.2-1.5.`,
    });
  }
  if (terms.rollover === undefined) {
    warnings.push({ code: 'ROLLOVER_OUTSIDE_GUIDANCE', field: 'rollover', message: 'No rollover is offered; guidance is 25-50% of unused commit for 60-90 days.' });
  } else {
    if (outside(new Exact(terms.rollover.fraction), REVIEW_GUIDANCE.rolloverFraction)) {
      warnings.push({ code: 'ROLLOVER_OUTSIDE_GUIDANCE', field: 'rollover.fraction', message: `The rollover fraction is ${terms.rollover.fraction}; guidance is 0.25-0.5.` });
    }
    const days = terms.rollover.expiresAfterDays;
    if (days !== undefined && outside(new Exact(days), REVIEW_GUIDANCE.rolloverWindowDays)) {
      warnings.push({ code: 'ROLLOVER_WINDOW_OUTSIDE_GUIDANCE', field: 'rollover.expiresAfterDays', message: `Rolled-over credits expire after ${days} days; guidance is 60-90 days.` });
    }
  }
  if (trueUpOf(terms) !== 'monthly') {
    warnings.push({ code: 'TRUE_UP_NOT_MONTHLY', field: 'trueUp', message: `The true-up is ${trueUpOf(terms)}, so overage is billed late; guidance is monthly.` });
  }
  return { redFlags, warnings };
}
