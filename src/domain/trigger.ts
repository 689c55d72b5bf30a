import Decimal from 'decimal.js';
import { renegotiationTriggerAlert, type AlertToRaise } from './alerts';
import { Exact } from './decimal';
import type { Terms, Tier } from './terms-schema';

/** Renegotiation streak carried from one close to the next. */
export interface TriggerState {
  /** Consecutive counting periods so far. */
  streak: number;
  /** Demand of each period in the streak, oldest first. */
  periods: { periodIndex: number; demandCredits: string }[];
}

/** The trigger part of a period statement. */
export interface TriggerStatement {
  /** Consecutive counting periods up to and including this one; the streak that fired when `fired`. */
  streak: number;
  fired: boolean;
  /** Respond-by date `YYYY-MM-DD` when the trigger fired, else null. */
  respondBy: string | null;
}

/** Returns the trigger state of a contract before its first close. */
export function initialTriggerState(): TriggerState {
  return { streak: 0, periods: [] };
}

/** Inputs of one period that the trigger rule reads. */
export interface TriggerPeriod {
  contractId: string;
  periodIndex: number;
  tier: Tier;
  demandCredits: Decimal;
  /** Charges the demand would have cost without a cap, for basis `spendCap`. */
  uncappedTotal: Decimal;
  /** Respond-by date for an alert fired at this close, `YYYY-MM-DD`. */
  respondBy: string;
}

/**
 * Returns whether a period counts toward the trigger. Basis `commit`: demand above
 * `thresholdPercent / 100 x commitCredits` of the tier in force. Basis `spendCap`: the
 * uncapped charges of the demand above the tier's spend cap; a tier without a cap never
 * counts under this basis.
 */
export function periodCountsForTrigger(terms: Pick<Terms, 'renegotiation'>, period: Pick<TriggerPeriod, 'tier' | 'demandCredits' | 'uncappedTotal'>): boolean {
  const rule = terms.renegotiation;
  if (rule === undefined) return false;
  if (rule.basis === 'commit') {
    const threshold = new Exact(period.tier.commitCredits).times(rule.thresholdPercent).dividedBy(100);
    return period.demandCredits.greaterThan(threshold);
  }
  return period.tier.spendCap !== undefined && period.uncappedTotal.greaterThan(period.tier.spendCap);
}

/**
 * Updates the renegotiation streak at a close: a counting period adds one, any other
 * resets it to zero. When the streak reaches `consecutivePeriods` the trigger fires (an
 * alert to the account manager with each period's demand and the respond-by date) and
 * the carried streak starts again from zero.
 */
export function updateTrigger(
  terms: Pick<Terms, 'renegotiation' | 'accountManager' | 'customer'>,
  state: TriggerState,
  period: TriggerPeriod,
): { state: TriggerState; statement: TriggerStatement; alerts: AlertToRaise[] } {
  const rule = terms.renegotiation;
  if (rule === undefined || !periodCountsForTrigger(terms, period)) {
    return { state: initialTriggerState(), statement: { streak: 0, fired: false, respondBy: null }, alerts: [] };
  }
  const periods = [...state.periods, { periodIndex: period.periodIndex, demandCredits: period.demandCredits.toFixed() }];
  const streak = state.streak + 1;
  if (streak < rule.consecutivePeriods) {
    return { state: { streak, periods }, statement: { streak, fired: false, respondBy: null }, alerts: [] };
  }
  const alert = renegotiationTriggerAlert(terms, period.contractId, period.periodIndex, {
    basis: rule.basis,
    thresholdPercent: rule.thresholdPercent,
    consecutivePeriods: rule.consecutivePeriods,
    tier: period.tier.name,
    periods: periods.map((entry) => String(entry.periodIndex)),
    demandCredits: periods.map((entry) => entry.demandCredits),
    respondBy: period.respondBy,
  });
  return {
    state: initialTriggerState(),
    statement: { streak, fired: true, respondBy: period.respondBy },
    alerts: [alert],
  };
}
