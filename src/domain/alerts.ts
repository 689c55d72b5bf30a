import Decimal from 'decimal.js';
import { Exact } from './decimal';
import type { Terms, Tier } from './terms-schema';

/** Kinds of alerts the engine raises. */
export type AlertKind =
  | 'renegotiation_trigger'
  | 'usage_threshold'
  | 'spend_threshold'
  | 'throttled'
  | 'tier_upgraded'
  | 'credits_expiring'
  | 'unbilled_deferred_usage';

/**
 * An alert to store and then deliver. `key` is unique per contract, period and cause,
 * so storing it with a unique constraint delivers each alert once even when a close or
 * an admission runs twice.
 */
export interface AlertToRaise {
  kind: AlertKind;
  key: string;
  periodIndex: number;
  /** Email addresses, account manager first. */
  recipients: string[];
  data: Record<string, string | number | null | string[]>;
}

type AlertTerms = Pick<Terms, 'accountManager' | 'customer'>;

function accountManager(terms: AlertTerms): string[] {
  return [terms.accountManager.email];
}

function accountManagerAndCustomer(terms: AlertTerms): string[] {
  return [terms.accountManager.email, terms.customer.billingEmail];
}

function alertKey(contractId: string, periodIndex: number, ...parts: string[]): string {
  return [contractId, String(periodIndex), ...parts].join('/');
}

/** Returns the usage thresholds (percent of commit) that `usedCredits` reaches, as listed in the terms. */
export function usageThresholdsReached(terms: Pick<Terms, 'alerts'>, tier: Tier, usedCredits: Decimal.Value): string[] {
  const commit = new Exact(tier.commitCredits);
  if (commit.isZero()) return [];
  return (terms.alerts?.usagePercentOfCommit ?? []).filter((percent) =>
    new Exact(usedCredits).greaterThanOrEqualTo(commit.times(percent).dividedBy(100)),
  );
}

/** Returns the spend thresholds (percent of cap) that a period total reaches; none for a tier without a cap. */
export function spendThresholdsReached(terms: Pick<Terms, 'alerts'>, tier: Tier, total: Decimal.Value): string[] {
  if (tier.spendCap === undefined) return [];
  const cap = new Exact(tier.spendCap);
  return (terms.alerts?.spendPercentOfCap ?? []).filter((percent) =>
    new Exact(total).greaterThanOrEqualTo(cap.times(percent).dividedBy(100)),
  );
}

/** Builds the alert that usage reached `percent` of the commit: to the account manager and the customer's billing email. */
export function usageThresholdAlert(terms: AlertTerms, contractId: string, periodIndex: number, tier: Tier, percent: string): AlertToRaise {
  return {
    kind: 'usage_threshold',
    key: alertKey(contractId, periodIndex, 'usage_threshold', percent),
    periodIndex,
    recipients: accountManagerAndCustomer(terms),
    data: {
      percent,
      tier: tier.name,
      commitCredits: tier.commitCredits,
      thresholdCredits: new Exact(tier.commitCredits).times(percent).dividedBy(100).toFixed(),
    },
  };
}

/** Builds the alert that the period's charges reached `percent` of the spend cap: to the account manager and the customer. */
export function spendThresholdAlert(terms: AlertTerms, contractId: string, periodIndex: number, tier: Tier, percent: string): AlertToRaise {
  return {
    kind: 'spend_threshold',
    key: alertKey(contractId, periodIndex, 'spend_threshold', percent),
    periodIndex,
    recipients: accountManagerAndCustomer(terms),
    data: { percent, tier: tier.name, spendCap: tier.spendCap ?? null },
  };
}

/** Builds the alert of a period's first deferral: to the account manager and the customer, with when usage resumes. */
export function throttledAlert(terms: AlertTerms, contractId: string, periodIndex: number, tier: Tier, nextPeriodStart: string): AlertToRaise {
  return {
    kind: 'throttled',
    key: alertKey(contractId, periodIndex, 'throttled'),
    periodIndex,
    recipients: accountManagerAndCustomer(terms),
    data: { tier: tier.name, spendCap: tier.spendCap ?? null, nextPeriodStart },
  };
}

/** Builds the alert of a tier upgrade within a period: to the account manager and the customer. */
export function tierUpgradedAlert(terms: AlertTerms, contractId: string, periodIndex: number, from: string, to: string): AlertToRaise {
  return {
    kind: 'tier_upgraded',
    key: alertKey(contractId, periodIndex, 'tier_upgraded', to),
    periodIndex,
    recipients: accountManagerAndCustomer(terms),
    data: { from, to },
  };
}

/** Builds the alert that a grant's remaining credits expire soon: to the account manager and the customer. */
export function creditsExpiringAlert(
  terms: AlertTerms,
  contractId: string,
  periodIndex: number,
  grant: { id: string; kind: string; expiresAt: string },
  remaining: string,
): AlertToRaise {
  return {
    kind: 'credits_expiring',
    key: alertKey(contractId, periodIndex, 'credits_expiring', grant.id),
    periodIndex,
    recipients: accountManagerAndCustomer(terms),
    data: { grantId: grant.id, grantKind: grant.kind, credits: remaining, expiresAt: grant.expiresAt },
  };
}

/** Builds the alert that usage was still deferred when the contract ended, so it is never billed: to the account manager. */
export function unbilledDeferredAlert(terms: AlertTerms, contractId: string, periodIndex: number, deferredCredits: string): AlertToRaise {
  return {
    kind: 'unbilled_deferred_usage',
    key: alertKey(contractId, periodIndex, 'unbilled_deferred_usage'),
    periodIndex,
    recipients: accountManager(terms),
    data: { deferredCredits },
  };
}

/** Builds the renegotiation trigger alert: to the account manager, with the demand of each period in the streak. */
export function renegotiationTriggerAlert(
  terms: AlertTerms,
  contractId: string,
  periodIndex: number,
  data: AlertToRaise['data'],
): AlertToRaise {
  return {
    kind: 'renegotiation_trigger',
    key: alertKey(contractId, periodIndex, 'renegotiation_trigger'),
    periodIndex,
    recipients: accountManager(terms),
    data,
  };
}

/** Merges alert lists keeping the first alert of each key, in order. */
export function mergeAlerts(...lists: readonly (readonly AlertToRaise[])[]): AlertToRaise[] {
  const seen = new Set<string>();
  const merged: AlertToRaise[] = [];
  for (const list of lists) {
    for (const alert of list) {
      if (seen.has(alert.key)) continue;
      seen.add(alert.key);
      merged.push(alert);
    }
  }
  return merged;
}
