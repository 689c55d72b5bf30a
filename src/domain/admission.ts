import type Decimal from 'decimal.js';
import type { AlertToRaise } from './alerts';
import { AdmissionRun, admissionSegmentStarts } from './admission-run';
import { segmentBoundaries, segmentIndexAt } from './burn';
import { periodCharges } from './charges';
import { Exact } from './decimal';
import { commitGrant, type Grant, type GrantBalance } from './grants';
import { periodBounds, startOfDateAfterDays } from './periods';
import { DomainInputError } from './errors';
import { tierByName, tierRank } from './terms';
import type { Terms } from './terms-schema';

export { admissionSegmentStarts };
import { eventCount, type DeferredUsage } from './usage';

/** A grant counted by admission, with its remaining credits at the period's start. */
export interface AdmissionGrant {
  id: string;
  kind: Grant['kind'];
  validFrom: string;
  expiresAt: string;
  remaining: string;
}

/** A change of tier during an open period. */
export interface TierChange {
  from: string;
  to: string;
  /** Arrival time of the event that caused it, ISO 8601. */
  at: string;
}

/**
 * Admission state of one open period, plain JSON so it can live in a database column
 * and be updated under a row lock. Admitted usage is kept summed per segment between
 * grant starts and expiries, so checking an event costs O(segments x grants), not
 * O(events).
 */
export interface PeriodAdmissionState {
  contractId: string;
  periodIndex: number;
  start: string;
  end: string;
  /** Tier in force; an upgrade changes it for the whole period. */
  tier: string;
  /** Whether the previous period's close has run; before it, grants it can change are not counted. */
  previousPeriodClosed: boolean;
  /** Grants counted, with their remaining credits at the period's start. */
  grants: AdmissionGrant[];
  /** Segment starts, ISO 8601; the first is the period's start. */
  segmentStarts: string[];
  /** Own admitted credits per segment (usage carried in is kept apart). */
  segmentCredits: string[];
  /** Usage carried in from the previous period and admitted, consumed at the period's start. */
  carriedInCredits: string;
  /** Credits of the period's own events that were admitted. */
  admittedCredits: string;
  /** Credits of the period's own events, admitted or deferred. */
  demandCredits: string;
  /** Credits deferred to the next period: own events and carried-in usage deferred again. */
  deferredCredits: string;
  admittedEvents: number;
  deferredEvents: number;
  /** Whether a deferral happened: every later event of the period is deferred. */
  throttled: boolean;
  tierChanges: TierChange[];
  /** Keys of the alerts admission already raised in this period. */
  raisedAlertKeys: string[];
}

/** Input of `openPeriodAdmission`. */
export interface OpenPeriodAdmissionInput {
  contractId: string;
  terms: Terms;
  periodIndex: number;
  /** Tier in force at the period's start. */
  tier: string;
  /** The contract's grants with their balances as known now; grants not valid in the period are ignored. */
  grants: readonly GrantBalance[];
  /**
   * Whether the previous period is closed. While it is not (during its close delay),
   * only grants that its close cannot change count: the period's commit grant and
   * grants starting at or after the period's start.
   */
  previousPeriodClosed: boolean;
}

/** Usage offered to admission: `count` consecutive events of `credits` each, consumed at `consumedAt`. */
export interface AdmissionItem {
  credits: string;
  count?: number;
  /**
   * Number of events whose credits were summed into `credits`, judged together: all are
   * admitted or all deferred. Lets a caller offer a block it expects to fit in one step.
   * Requires `count` to be 1 or absent.
   */
  summedEvents?: number;
  consumedAt: string;
  /** Arrival time, ISO 8601, recorded on a tier change; `consumedAt` when absent. */
  arrivedAt?: string;
}

/** An event offered to `admitEvent`. */
export interface AdmissionEvent {
  eventId: string;
  credits: string;
  occurredAt: string;
  arrivedAt: string;
  /** Instant the event is consumed: `occurredAt`, or `arrivedAt` for a late event. */
  consumedAt: string;
  late: boolean;
}

/** Outcome of `admitEvent`. */
export interface AdmissionResult {
  status: 'admitted' | 'deferred';
  state: PeriodAdmissionState;
  tierChange?: { from: string; to: string };
  becameThrottled: boolean;
  alerts: AlertToRaise[];
  /** Start of the next period (the end of this one), when deferred usage is consumed. */
  nextPeriodStart: string;
}

/** Outcome of `admitEvents`: the first `admittedEvents` events were admitted, every later one deferred. */
export interface BatchAdmissionResult {
  state: PeriodAdmissionState;
  admittedEvents: number;
  deferredEvents: number;
  tierChanges: TierChange[];
  becameThrottled: boolean;
  alerts: AlertToRaise[];
  nextPeriodStart: string;
}

/** Outcome of `admitCarriedIn`: carried-in usage split into what the period consumes and what is deferred again. */
export interface CarriedInAdmissionResult {
  state: PeriodAdmissionState;
  admitted: DeferredUsage[];
  deferred: DeferredUsage[];
  tierChanges: TierChange[];
  becameThrottled: boolean;
  alerts: AlertToRaise[];
}

function isValidInPeriod(grant: Pick<Grant, 'validFrom' | 'expiresAt'>, start: number, end: number): boolean {
  return Date.parse(grant.validFrom) < end && Date.parse(grant.expiresAt) > start;
}

/**
 * Opens the admission state of a period. The period's commit grant counts at the
 * commit of the tier in force. Until the previous period closes, grants valid before
 * this period's start are left out, because that close can still burn or expire them
 * and issues the rollover grant only then: admission may defer more, never exceed the
 * cap. Segment boundaries include those grants' expiries and the expected rollover
 * grant's expiry, so the balances `applyGrantBalances` adds later need no split.
 */
export function openPeriodAdmission(input: OpenPeriodAdmissionInput): PeriodAdmissionState {
  const { terms, periodIndex } = input;
  const bounds = periodBounds(terms, periodIndex);
  const start = bounds.start.getTime();
  const end = bounds.end.getTime();
  const tier = tierByName(terms, input.tier);
  const commitId = `commit-${periodIndex}`;
  const commit = commitGrant(terms, periodIndex, tier.commitCredits);

  const valid = input.grants.filter((balance) => balance.grant.id !== commitId && isValidInPeriod(balance.grant, start, end));
  const issuedByPreviousClose = (grant: Grant) => grant.kind === 'rollover' && grant.periodIndex === periodIndex - 1;
  const counted = valid.filter(
    (balance) =>
      balance.grant.kind !== 'commit' &&
      (input.previousPeriodClosed || (Date.parse(balance.grant.validFrom) >= start && !issuedByPreviousClose(balance.grant))),
  );

  const boundaryGrants: Pick<Grant, 'validFrom' | 'expiresAt'>[] = valid.map((balance) => balance.grant);
  if (!input.previousPeriodClosed && periodIndex > 0 && terms.rollover !== undefined) {
    const expected = startOfDateAfterDays(bounds.start, terms.rollover.expiresAfterDays, terms.timeZone);
    boundaryGrants.push({ validFrom: bounds.start.toISOString(), expiresAt: expected.toISOString() });
  }
  const boundaries = segmentBoundaries(start, end, boundaryGrants);

  return {
    contractId: input.contractId,
    periodIndex,
    start: bounds.start.toISOString(),
    end: bounds.end.toISOString(),
    tier: tier.name,
    previousPeriodClosed: input.previousPeriodClosed,
    grants: [
      { id: commit.id, kind: 'commit', validFrom: commit.validFrom, expiresAt: commit.expiresAt, remaining: commit.credits },
      ...counted.map((balance) => ({
        id: balance.grant.id,
        kind: balance.grant.kind,
        validFrom: balance.grant.validFrom,
        expiresAt: balance.grant.expiresAt,
        remaining: new Exact(balance.remaining).toFixed(),
      })),
    ],
    segmentStarts: boundaries.map((instant) => new Date(instant).toISOString()),
    segmentCredits: boundaries.map(() => '0'),
    carriedInCredits: '0',
    admittedCredits: '0',
    demandCredits: '0',
    deferredCredits: '0',
    admittedEvents: 0,
    deferredEvents: 0,
    throttled: false,
    tierChanges: [],
    raisedAlertKeys: [],
  };
}

/**
 * Replaces the counted grants (other than the period's commit grant) with `balances`,
 * the balances at the period's start as the previous close left them, and marks the
 * previous period closed. Call it when the previous period closes, or when ops issue an
 * adjustment. When a new grant boundary splits a segment that already contains usage,
 * the usage stays on the side where admission counts fewer credits: before a grant's
 * start, after its expiry.
 */
export function applyGrantBalances(state: PeriodAdmissionState, balances: readonly GrantBalance[]): PeriodAdmissionState {
  const start = Date.parse(state.start);
  const end = Date.parse(state.end);
  const commitId = `commit-${state.periodIndex}`;
  const commit = state.grants.find((grant) => grant.id === commitId);
  const others = balances.filter(
    (balance) => balance.grant.id !== commitId && balance.grant.kind !== 'commit' && isValidInPeriod(balance.grant, start, end),
  );

  const boundaries = state.segmentStarts.map((instant) => Date.parse(instant));
  const credits = state.segmentCredits.map((value) => new Exact(value));
  for (const balance of others) {
    const additions: { instant: number; usageGoesAfter: boolean }[] = [
      { instant: Date.parse(balance.grant.validFrom), usageGoesAfter: false },
      { instant: Date.parse(balance.grant.expiresAt), usageGoesAfter: true },
    ];
    for (const { instant, usageGoesAfter } of additions) {
      if (instant <= start || instant >= end || boundaries.includes(instant)) continue;
      const segment = segmentIndexAt(boundaries, instant);
      const usage = credits[segment] as Decimal;
      boundaries.splice(segment + 1, 0, instant);
      credits.splice(segment + 1, 0, usageGoesAfter ? usage : new Exact(0));
      if (usageGoesAfter) credits[segment] = new Exact(0);
    }
  }

  return {
    ...state,
    previousPeriodClosed: true,
    grants: [
      ...(commit === undefined ? [] : [commit]),
      ...others.map((balance) => ({
        id: balance.grant.id,
        kind: balance.grant.kind,
        validFrom: balance.grant.validFrom,
        expiresAt: balance.grant.expiresAt,
        remaining: new Exact(balance.remaining).toFixed(),
      })),
    ],
    segmentStarts: boundaries.map((instant) => new Date(instant).toISOString()),
    segmentCredits: credits.map((value) => value.toFixed()),
  };
}

/**
 * Admits or defers a batch of the period's own events in arrival order. An event is
 * admitted while the period's charges with it included stay at or under the spend cap
 * of the tier in force. When one does not fit, `capPolicy: upgrade` moves the period to
 * the lowest higher tier under which it fits. Otherwise, or with no such tier, the event
 * is deferred and the period is throttled, so every later event of the period is
 * deferred too. The admitted events are therefore always the leading `admittedEvents`.
 */
export function admitEvents(state: PeriodAdmissionState, terms: Terms, items: readonly AdmissionItem[]): BatchAdmissionResult {
  const run = new AdmissionRun(state, terms);
  const wasThrottled = state.throttled;
  let admittedEvents = 0;
  let deferredEvents = 0;
  for (const item of items) {
    const admitted = run.admitOwn(item);
    admittedEvents += admitted;
    deferredEvents += eventCount(item) * (item.summedEvents ?? 1) - admitted;
  }
  const alerts = run.alerts();
  return {
    state: run.toState(alerts),
    admittedEvents,
    deferredEvents,
    tierChanges: run.tierChanges,
    becameThrottled: !wasThrottled && run.throttled,
    alerts,
    nextPeriodStart: state.end,
  };
}

/** Admits or defers one event; see `admitEvents` for the rule. */
export function admitEvent(state: PeriodAdmissionState, terms: Terms, event: AdmissionEvent): AdmissionResult {
  const result = admitEvents(state, terms, [{ credits: event.credits, consumedAt: event.consumedAt, arrivedAt: event.arrivedAt }]);
  const change = result.tierChanges[0];
  return {
    status: result.admittedEvents === 1 ? 'admitted' : 'deferred',
    state: result.state,
    ...(change === undefined ? {} : { tierChange: { from: change.from, to: change.to } }),
    becameThrottled: result.becameThrottled,
    alerts: result.alerts,
    nextPeriodStart: result.nextPeriodStart,
  };
}

function withCount(item: DeferredUsage, count: number): DeferredUsage {
  const copy: DeferredUsage = { ...item };
  if (count === 1) delete copy.count;
  else copy.count = count;
  return copy;
}

/**
 * Judges usage carried in from the previous period, in its original order, under the
 * same cap and cap policy as new events. What fits is consumed at this period's start;
 * from the first item that does not fit on, everything is deferred again. Live, the
 * carried-in usage is final only when the previous period closes, so this runs then,
 * against this period's admission state at that moment.
 */
export function admitCarriedIn(state: PeriodAdmissionState, terms: Terms, items: readonly DeferredUsage[]): CarriedInAdmissionResult {
  const run = new AdmissionRun(state, terms);
  const wasThrottled = state.throttled;
  const admitted: DeferredUsage[] = [];
  const deferred: DeferredUsage[] = [];
  let index = 0;
  for (; index < items.length && !run.throttled; index++) {
    const item = items[index] as DeferredUsage;
    const fitting = run.admitCarried(item, state.start);
    const count = eventCount(item);
    if (fitting === count) {
      admitted.push(item);
    } else if (fitting === 0) {
      deferred.push(item);
    } else {
      admitted.push(withCount(item, fitting));
      deferred.push(withCount(item, count - fitting));
    }
  }
  // Once the period is throttled, the rest is deferred again as it is.
  for (; index < items.length; index++) {
    const item = items[index] as DeferredUsage;
    run.admitCarried(item, state.start);
    deferred.push(item);
  }
  const alerts = run.alerts();
  return {
    state: run.toState(alerts),
    admitted,
    deferred,
    tierChanges: run.tierChanges,
    becameThrottled: !wasThrottled && run.throttled,
    alerts,
  };
}

/** Returns the period's overage and charges from the grants and usage admission counts now. */
export function admissionCharges(state: PeriodAdmissionState, terms: Terms) {
  const run = new AdmissionRun(state, terms);
  const overage = run.overageWith(run.tier, 0, new Exact(0), false);
  return { overageCredits: overage, charges: periodCharges(terms, run.tier, overage) };
}

/**
 * Moves an open period to a higher tier for its whole length, as an ops upgrade does:
 * the period's commit grant contains the new tier's commit, the change is recorded for the
 * `tier_upgraded` alert, and a throttle set under the old tier's cap is lifted, because
 * ops upgrade to give the customer room. A tier that is not higher is rejected.
 */
export function upgradeAdmission(state: PeriodAdmissionState, terms: Terms, tierName: string, at: string): PeriodAdmissionState {
  const tier = tierByName(terms, tierName);
  if (tierRank(terms, tier.name) <= tierRank(terms, state.tier)) {
    throw DomainInputError.of(
      'Invalid tier change',
      'tier',
      'higher_tier',
      `must be a tier above "${state.tier}" to upgrade period ${state.periodIndex}, got "${tier.name}"`,
    );
  }
  const commitId = `commit-${state.periodIndex}`;
  return {
    ...state,
    tier: tier.name,
    throttled: false,
    grants: state.grants.map((grant) => (grant.id === commitId ? { ...grant, remaining: tier.commitCredits } : grant)),
    tierChanges: [...state.tierChanges, { from: state.tier, to: tier.name, at }],
  };
}
