import Decimal from 'decimal.js';
import {
  creditsExpiringAlert,
  mergeAlerts,
  spendThresholdAlert,
  spendThresholdsReached,
  throttledAlert,
  tierUpgradedAlert,
  unbilledDeferredAlert,
  usageThresholdAlert,
  usageThresholdsReached,
  type AlertToRaise,
} from './alerts';
import { burnSegments, segmentBoundaries, segmentIndexAt, type BurnableGrant } from './burn';
import { formatCharges, periodCharges, type PeriodChargesJson } from './charges';
import { DECIMAL_PATTERN, Exact } from './decimal';
import { DomainInputError, type ValidationIssue } from './errors';
import { commitGrant, issueMovement, rolloverGrant, type Grant, type GrantBalance, type LedgerMovement } from './grants';
import { accrueOverage, isTrueUpPeriod, periodInvoice, type AccruedOverage, type InvoiceDraft } from './invoices';
import { localDateAfterDays, periodBounds } from './periods';
import { tierByName } from './terms';
import type { Terms, Tier } from './terms-schema';
import { updateTrigger, type TriggerState, type TriggerStatement } from './trigger';
import { eventCount, type DeferredUsage, type UsageItem } from './usage';

/** Input of `closePeriod`. */
export interface CloseInput {
  contractId: string;
  /** Terms version in force in the period. */
  terms: Terms;
  periodIndex: number;
  /** Tier in force at the close. */
  tier: string;
  /**
   * Every grant of the contract with its remaining credits at the period's start (as
   * the previous close left them). Grants not valid in the period pass through unchanged.
   */
  grants: readonly GrantBalance[];
  /** The period's own admitted usage; items may be sums of several events. */
  admitted: readonly (UsageItem & { late?: boolean })[];
  /** The period's own deferred usage, in original order. */
  deferred: readonly DeferredUsage[];
  /** Usage carried in from the previous period: what admission consumed at the period's start and what it deferred again. */
  carriedIn?: { admitted: readonly DeferredUsage[]; deferred: readonly DeferredUsage[] };
  /** Renegotiation streak left by the previous close. */
  trigger: TriggerState;
  /** Overage of earlier periods not yet billed (quarterly or annual true-up). */
  accruedOverage: readonly AccruedOverage[];
  /** Whether this is the contract's last close: the end of the term or a termination. */
  final: boolean;
  /** Tier changes during the period, for the `tier_upgraded` alerts. */
  tierChanges?: readonly { from: string; to: string }[];
  /** Terms version and tier of the next period, when they differ from this one's (an amendment or a downgrade). */
  next?: { terms?: Terms; tier?: string };
}

/** Statement of one closed period; the simulator prints these fields. */
export interface PeriodStatement {
  index: number;
  start: string;
  end: string;
  tier: string;
  demandCredits: string;
  carriedInCredits: string;
  consumedCredits: string;
  deferredCredits: string;
  overageCredits: string;
  rolledOverCredits: string;
  forfeitedCredits: string;
  expiredCredits: string;
  /** Credits of admitted events that arrived after their own period had closed. */
  lateCredits: string;
  charges: PeriodChargesJson;
  trigger: TriggerStatement;
  alerts: { kind: string; key: string }[];
  /** Whether the close was the contract's last; its deferred credits are never billed. */
  final: boolean;
}

/** Result of `closePeriod`; computing it twice from the same input gives a deep-equal result. */
export interface CloseResult {
  statement: PeriodStatement;
  /** Ledger movements recorded by the close, in order. */
  movements: LedgerMovement[];
  /** Every grant of the contract after the close, new grants last. */
  grants: GrantBalance[];
  /** Grants the close issued or grew: the rollover grant, the next commit grant, a grown commit grant. */
  newGrants: Grant[];
  invoices: InvoiceDraft[];
  trigger: TriggerState;
  /** Overage still waiting for a true-up after this close. */
  accruedOverage: AccruedOverage[];
  alerts: AlertToRaise[];
  /** Usage deferred to the next period, in original order: carried-in usage deferred again, then the period's own. */
  deferredOut: DeferredUsage[];
}

const SUBJECT = 'Invalid close input';

/** Sums deferred usage exactly, with one decimal product per distinct event size. */
function sumDeferred(items: readonly DeferredUsage[]): Decimal {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item.credits, (counts.get(item.credits) ?? 0) + eventCount(item));
  let total = new Exact(0);
  for (const [credits, count] of counts) total = total.plus(new Exact(credits).times(count));
  return total;
}

function validateCloseInput(input: CloseInput, start: number, end: number): void {
  const issues: ValidationIssue[] = [];
  const validCredits = new Set<string>();
  const checkCredits = (path: string, value: string) => {
    if (validCredits.has(value)) return;
    if (typeof value !== 'string' || !DECIMAL_PATTERN.test(value) || value.startsWith('-')) {
      issues.push({ path, rule: 'decimal', message: `must be a decimal string >= 0, got "${String(value)}"` });
    } else {
      validCredits.add(value);
    }
  };
  input.admitted.forEach((item, index) => {
    checkCredits(`admitted[${index}].credits`, item.credits);
    const instant = Date.parse(item.consumedAt);
    if (Number.isNaN(instant) || instant < start || instant >= end) {
      issues.push({
        path: `admitted[${index}].consumedAt`,
        rule: 'within_period',
        message: `must be an instant inside period ${input.periodIndex}, got "${item.consumedAt}"`,
      });
    }
  });
  const checkDeferred = (path: string, items: readonly DeferredUsage[]) =>
    items.forEach((item, index) => {
      checkCredits(`${path}[${index}].credits`, item.credits);
      const count = eventCount(item);
      if (!Number.isInteger(count) || count < 1) {
        issues.push({ path: `${path}[${index}].count`, rule: 'minimum', message: `must be an integer >= 1, got ${count}` });
      }
    });
  checkDeferred('deferred', input.deferred);
  checkDeferred('carriedIn.admitted', input.carriedIn?.admitted ?? []);
  checkDeferred('carriedIn.deferred', input.carriedIn?.deferred ?? []);
  input.grants.forEach((balance, index) => checkCredits(`grants[${index}].remaining`, balance.remaining));
  if (issues.length > 0) throw new DomainInputError(SUBJECT, issues);
}

/** Burns the demand as if no cap applied, for the `spendCap` basis of the trigger. */
function uncappedTotal(terms: Terms, tier: Tier, grants: readonly BurnableGrant[], boundaries: number[], input: CloseInput, start: number, end: number): Decimal {
  if (tier.spendCap === undefined || terms.renegotiation?.basis !== 'spendCap') return new Exact(0);
  const usage = boundaries.map(() => new Exact(0));
  const add = (instant: number, credits: Decimal) => {
    const clamped = Math.min(Math.max(instant, start), end - 1);
    const segment = segmentIndexAt(boundaries, clamped);
    usage[segment] = (usage[segment] as Decimal).plus(credits);
  };
  for (const item of input.admitted) add(Date.parse(item.consumedAt), new Exact(item.credits));
  for (const item of input.deferred) add(Date.parse(item.occurredAt), new Exact(item.credits).times(eventCount(item)));
  const overage = burnSegments(grants, boundaries, usage).overage;
  return periodCharges(terms, tier, overage).total;
}

/**
 * Closes a period by running the steps of the billing rules in order:
 * 1. burns its usage, carried-in usage first at the period's start, then segment by segment;
 * 2. expires what is left of non-commit grants whose expiry falls in `(start, end]`, and
 *    on the final close every non-commit grant's remaining credits;
 * 3. splits the unused commit credits into a rollover grant and a forfeit, forfeiting
 *    all of them on the final close or without a rollover block;
 * 4. computes the charges and the period invoice, with the accrued overage on a true-up;
 * 5. updates the renegotiation streak;
 * 6. raises the period's alerts;
 * 7. records the next period's commit grant unless it exists.
 * The function is pure: the same input gives a deep-equal result, so a caller that
 * stores the result under its unique keys turns a retried close into a no-op.
 */
export function closePeriod(input: CloseInput): CloseResult {
  const { terms, periodIndex, contractId } = input;
  const bounds = periodBounds(terms, periodIndex);
  const tier = tierByName(terms, input.tier);
  validateCloseInput(input, bounds.start.getTime(), bounds.end.getTime());
  const ledger: CloseLedger = {
    input,
    tier,
    start: bounds.start.getTime(),
    end: bounds.end.getTime(),
    startIso: bounds.start.toISOString(),
    endIso: bounds.end.toISOString(),
    balances: input.grants.map((balance) => ({ grant: balance.grant, remaining: new Exact(balance.remaining) })),
    movements: [],
    newGrants: [],
  };

  const commitIndex = settleCommitGrant(ledger);
  const usage = burnUsage(ledger);
  const expired = expireGrants(ledger);
  const { rolledOver, forfeited } = splitUnusedCommit(ledger, commitIndex);

  // Step 4: charges and invoice.
  const charges = periodCharges(terms, tier, usage.overage);
  const accrued = [...input.accruedOverage, accrueOverage(terms, tier, periodIndex, usage.overage)];
  const trueUp = isTrueUpPeriod(terms, periodIndex, input.final);
  const invoice = periodInvoice(terms, contractId, periodIndex, tier, trueUp ? accrued : []);

  // Step 5: renegotiation trigger.
  const ownDeferred = sumDeferred(input.deferred);
  const demand = usage.ownAdmitted.plus(ownDeferred);
  const trigger = updateTrigger(terms, input.trigger, {
    contractId,
    periodIndex,
    tier,
    demandCredits: demand,
    uncappedTotal: uncappedTotal(terms, tier, usage.burnable, usage.boundaries, input, ledger.start, ledger.end),
    respondBy: localDateAfterDays(bounds.end, terms.renegotiation?.responseDays ?? 0, terms.timeZone),
  });

  // Step 6: alerts.
  const carriedInDeferred = sumDeferred(input.carriedIn?.deferred ?? []);
  const deferredCredits = carriedInDeferred.plus(ownDeferred);
  const consumed = usage.ownAdmitted.plus(usage.carriedInAdmitted);
  const alerts = closeAlerts(ledger, { consumed, deferredCredits, total: charges.total, triggerAlerts: trigger.alerts });

  // Step 7: the next period's commit grant.
  recordNextCommitGrant(ledger);

  const statement: PeriodStatement = {
    index: periodIndex,
    start: ledger.startIso,
    end: ledger.endIso,
    tier: tier.name,
    demandCredits: demand.toFixed(),
    carriedInCredits: usage.carriedInAdmitted.plus(carriedInDeferred).toFixed(),
    consumedCredits: consumed.toFixed(),
    deferredCredits: deferredCredits.toFixed(),
    overageCredits: usage.overage.toFixed(),
    rolledOverCredits: rolledOver.toFixed(),
    forfeitedCredits: forfeited.toFixed(),
    expiredCredits: expired.toFixed(),
    lateCredits: usage.lateCredits.toFixed(),
    charges: formatCharges(charges, terms.currency),
    trigger: trigger.statement,
    alerts: alerts.map((alert) => ({ kind: alert.kind, key: alert.key })),
    final: input.final,
  };

  return {
    statement,
    movements: ledger.movements,
    grants: ledger.balances.map((balance) => ({ grant: balance.grant, remaining: balance.remaining.toFixed() })),
    newGrants: ledger.newGrants,
    invoices: [invoice],
    trigger: trigger.state,
    accruedOverage: trueUp ? [] : accrued,
    alerts,
    deferredOut: [...(input.carriedIn?.deferred ?? []), ...input.deferred],
  };
}

/** Grant balances and ledger movements of a close while it runs. */
interface CloseLedger {
  input: CloseInput;
  tier: Tier;
  start: number;
  end: number;
  startIso: string;
  endIso: string;
  balances: { grant: Grant; remaining: Decimal }[];
  movements: LedgerMovement[];
  newGrants: Grant[];
}

/**
 * Makes the period's commit grant carry the commit of the tier in force at the close,
 * recording it when it is missing and growing it from the period's start after an
 * upgrade. Returns its position in the balances.
 */
function settleCommitGrant(ledger: CloseLedger): number {
  const { input, tier, balances, movements, newGrants } = ledger;
  const { terms, periodIndex } = input;
  const commitId = `commit-${periodIndex}`;
  const commitIndex = balances.findIndex((balance) => balance.grant.id === commitId);
  if (commitIndex < 0) {
    const grant = commitGrant(terms, periodIndex, tier.commitCredits);
    balances.push({ grant, remaining: new Exact(grant.credits) });
    movements.push(issueMovement(grant, periodIndex));
    newGrants.push(grant);
    return balances.length - 1;
  }
  const current = balances[commitIndex] as { grant: Grant; remaining: Decimal };
  const growth = new Exact(tier.commitCredits).minus(current.grant.credits);
  if (growth.isNegative()) {
    throw DomainInputError.of(
      SUBJECT,
      'tier',
      'no_downgrade_in_period',
      `tier "${tier.name}" commits ${tier.commitCredits} credits, less than the ${current.grant.credits} of grant ${commitId}; a lower tier can only start with the next period`,
    );
  }
  if (growth.greaterThan(0)) {
    const grant = { ...current.grant, credits: new Exact(tier.commitCredits).toFixed() };
    balances[commitIndex] = { grant, remaining: current.remaining.plus(growth) };
    movements.push({ grantId: commitId, kind: 'issue', credits: growth.toFixed(), at: ledger.startIso, periodIndex });
    newGrants.push(grant);
  }
  return commitIndex;
}

/** Step 1: burns carried-in usage at the period's start, then the period's usage segment by segment. */
function burnUsage(ledger: CloseLedger) {
  const { input, balances, movements, start, end } = ledger;
  const inPeriod = balances
    .map((balance, index) => ({ balance, index }))
    .filter(({ balance }) => Date.parse(balance.grant.validFrom) < end && Date.parse(balance.grant.expiresAt) > start);
  const burnable: BurnableGrant[] = inPeriod.map(({ balance }) => ({ grant: balance.grant, remaining: balance.remaining }));
  const boundaries = segmentBoundaries(start, end, burnable.map((item) => item.grant));

  const usage = boundaries.map(() => new Exact(0));
  const carriedInAdmitted = sumDeferred(input.carriedIn?.admitted ?? []);
  usage[0] = (usage[0] as Decimal).plus(carriedInAdmitted);
  let ownAdmitted = new Exact(0);
  let lateCredits = new Exact(0);
  for (const item of input.admitted) {
    const credits = new Exact(item.credits);
    const segment = segmentIndexAt(boundaries, Date.parse(item.consumedAt));
    usage[segment] = (usage[segment] as Decimal).plus(credits);
    ownAdmitted = ownAdmitted.plus(credits);
    if (item.late === true) lateCredits = lateCredits.plus(credits);
  }

  const burn = burnSegments(burnable, boundaries, usage);
  for (const entry of burn.burns) {
    const grant = (burnable[entry.grantIndex] as BurnableGrant).grant;
    movements.push({
      grantId: grant.id,
      kind: 'burn',
      credits: entry.credits.toFixed(),
      at: new Date(boundaries[entry.segmentIndex] as number).toISOString(),
      periodIndex: input.periodIndex,
    });
  }

  inPeriod.forEach(({ index }, position) => {
    (balances[index] as { remaining: Decimal }).remaining = burn.remaining[position] as Decimal;
  });
  return { overage: burn.overage, ownAdmitted, lateCredits, carriedInAdmitted, burnable, boundaries };
}

/**
 * Step 2: expires what is left of non-commit grants whose expiry falls in `(start, end]`,
 * or of every non-commit grant on the final close. Returns the credits expired.
 */
function expireGrants(ledger: CloseLedger): Decimal {
  const { input, balances, movements, start, end } = ledger;
  let expired = new Exact(0);
  const expiring = balances
    .filter(({ grant, remaining }) => {
      if (grant.kind === 'commit' || remaining.lessThanOrEqualTo(0)) return false;
      const expiresAt = Date.parse(grant.expiresAt);
      return input.final || (expiresAt > start && expiresAt <= end);
    })
    .sort((a, b) => Date.parse(a.grant.expiresAt) - Date.parse(b.grant.expiresAt) || (a.grant.id < b.grant.id ? -1 : 1));
  for (const balance of expiring) {
    const at = Date.parse(balance.grant.expiresAt) <= end ? balance.grant.expiresAt : ledger.endIso;
    movements.push({ grantId: balance.grant.id, kind: 'expire', credits: balance.remaining.toFixed(), at, periodIndex: input.periodIndex });
    expired = expired.plus(balance.remaining);
    balance.remaining = new Exact(0);
  }
  return expired;
}

/**
 * Step 3: splits the unused commit credits into a rollover grant (`fraction x unused`)
 * and a forfeit. On the final close or without a rollover block all are forfeited.
 */
function splitUnusedCommit(ledger: CloseLedger, commitIndex: number): { rolledOver: Decimal; forfeited: Decimal } {
  const { input, balances, movements, newGrants, endIso } = ledger;
  const { terms, periodIndex } = input;
  const commitBalance = balances[commitIndex] as { grant: Grant; remaining: Decimal };
  const commitId = commitBalance.grant.id;
  const unused = commitBalance.remaining;
  const rollover = input.final ? undefined : terms.rollover;
  const rolledOver = rollover === undefined ? new Exact(0) : unused.times(rollover.fraction);
  const forfeited = unused.minus(rolledOver);
  let issuedRollover: Grant | undefined;
  if (rollover !== undefined && rolledOver.greaterThan(0)) {
    issuedRollover = rolloverGrant(terms, periodIndex, rolledOver, rollover.expiresAfterDays);
    movements.push({ grantId: commitId, kind: 'rollover', credits: rolledOver.toFixed(), at: endIso, periodIndex });
  }
  if (forfeited.greaterThan(0)) {
    movements.push({ grantId: commitId, kind: 'forfeit', credits: forfeited.toFixed(), at: endIso, periodIndex });
  }
  commitBalance.remaining = new Exact(0);
  if (issuedRollover !== undefined) {
    balances.push({ grant: issuedRollover, remaining: rolledOver });
    movements.push(issueMovement(issuedRollover, periodIndex));
    newGrants.push(issuedRollover);
  }
  return { rolledOver, forfeited };
}

/** Step 6: returns the period's alerts, one per key, in a fixed order. */
function closeAlerts(
  ledger: CloseLedger,
  figures: { consumed: Decimal; deferredCredits: Decimal; total: Decimal; triggerAlerts: readonly AlertToRaise[] },
): AlertToRaise[] {
  const { input, tier, balances, end, endIso } = ledger;
  const { terms, contractId, periodIndex } = input;
  const alerts: AlertToRaise[] = [];
  for (const change of input.tierChanges ?? []) {
    alerts.push(tierUpgradedAlert(terms, contractId, periodIndex, change.from, change.to));
  }
  if (figures.deferredCredits.greaterThan(0)) alerts.push(throttledAlert(terms, contractId, periodIndex, tier, endIso));
  for (const percent of usageThresholdsReached(terms, tier, figures.consumed)) {
    alerts.push(usageThresholdAlert(terms, contractId, periodIndex, tier, percent));
  }
  for (const percent of spendThresholdsReached(terms, tier, figures.total)) {
    alerts.push(spendThresholdAlert(terms, contractId, periodIndex, tier, percent));
  }
  alerts.push(...figures.triggerAlerts);
  const noticeDays = terms.alerts?.expiryNoticeDays;
  if (!input.final && noticeDays !== undefined) {
    const horizon = end + noticeDays * 86_400_000;
    for (const balance of balances) {
      const expiresAt = Date.parse(balance.grant.expiresAt);
      if (balance.grant.kind === 'commit' || balance.remaining.lessThanOrEqualTo(0)) continue;
      if (expiresAt > end && expiresAt <= horizon) {
        alerts.push(creditsExpiringAlert(terms, contractId, periodIndex, balance.grant, balance.remaining.toFixed()));
      }
    }
  }
  if (input.final && figures.deferredCredits.greaterThan(0)) {
    alerts.push(unbilledDeferredAlert(terms, contractId, periodIndex, figures.deferredCredits.toFixed()));
  }
  return mergeAlerts(alerts);
}

/** Step 7: records the next period's commit grant, at the next tier's commit, unless it exists. */
function recordNextCommitGrant(ledger: CloseLedger): void {
  const { input, tier, balances, movements, newGrants } = ledger;
  const { terms, periodIndex } = input;
  if (input.final || periodIndex + 1 >= terms.termMonths) return;
  const nextTerms = input.next?.terms ?? terms;
  const nextTier = tierByName(nextTerms, input.next?.tier ?? tier.name);
  const nextId = `commit-${periodIndex + 1}`;
  if (balances.some((balance) => balance.grant.id === nextId)) return;
  const grant = commitGrant(nextTerms, periodIndex + 1, nextTier.commitCredits);
  balances.push({ grant, remaining: new Exact(grant.credits) });
  movements.push(issueMovement(grant, periodIndex));
  newGrants.push(grant);
}
