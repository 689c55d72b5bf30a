import Decimal from 'decimal.js';
import {
  mergeAlerts,
  spendThresholdAlert,
  spendThresholdsReached,
  throttledAlert,
  tierUpgradedAlert,
  usageThresholdAlert,
  usageThresholdsReached,
  type AlertToRaise,
} from './alerts';
import { burnSegments, segmentBoundaries, segmentIndexAt, type BurnableGrant } from './burn';
import { overageUnitPrice, periodCharges, withinSpendCap } from './charges';
import { Exact } from './decimal';
import { DomainInputError } from './errors';
import { commitGrant, type Grant, type GrantBalance } from './grants';
import { minorUnits } from './money';
import { periodBounds, startOfDateAfterDays } from './periods';
import { capPolicyOf, tierByName, tierRank } from './terms';
import type { Terms, Tier } from './terms-schema';
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

const SUBJECT = 'Invalid admission input';

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

/** Returns the segment starts of an admission state as epoch milliseconds. */
export function admissionSegmentStarts(state: PeriodAdmissionState): number[] {
  return state.segmentStarts.map((instant) => Date.parse(instant));
}

/**
 * Parameters of the cheap fit test for usage added to the last segment holding usage:
 * there, extra credits `x` raise the overage to `overageBefore + max(0, base + x - capacity)`.
 */
interface SegmentWindow {
  segment: number;
  overageBefore: Decimal;
  capacity: Decimal;
  /** Extra credits that certainly fit, approximately; `Infinity` when the cap can never be reached. */
  roomEstimate: number;
}

interface CreditValue {
  exact: Decimal;
  approximate: number;
}

/** Mutable working copy of an admission state during one call. */
class AdmissionRun {
  readonly terms: Terms;
  readonly state: PeriodAdmissionState;
  readonly start: number;
  readonly end: number;
  readonly boundaries: number[];
  readonly segmentCredits: Decimal[];
  readonly grants: BurnableGrant[];
  tier: Tier;
  carriedIn: Decimal;
  admitted: Decimal;
  demand: Decimal;
  deferred: Decimal;
  admittedEvents: number;
  deferredEvents: number;
  throttled: boolean;
  readonly tierChanges: TierChange[] = [];
  /** Threshold alerts reached under a tier this call upgraded away from. */
  private readonly alertsBeforeTierChanges: AlertToRaise[] = [];
  becameThrottled = false;
  lastUsedSegment: number;

  private readonly creditCache = new Map<string, CreditValue>();
  private window: SegmentWindow | undefined;
  /** Own admitted usage of the window's segment not yet added exactly: credits string to event count. */
  private pending = new Map<string, number>();
  private pendingApproximate = 0;
  private pendingCarried = new Map<string, number>();
  private pendingCredits = new Map<string, number>();
  private pendingDeferred = new Map<string, number>();
  private pendingCarriedDeferred = new Map<string, number>();
  private lastConsumedAt = '';
  /** Events each unit of the item being judged stands for (its `summedEvents`). */
  private eventWeight = 1;
  private lastSegment = 0;

  constructor(state: PeriodAdmissionState, terms: Terms) {
    this.terms = terms;
    this.state = state;
    this.start = Date.parse(state.start);
    this.end = Date.parse(state.end);
    this.boundaries = admissionSegmentStarts(state);
    this.segmentCredits = state.segmentCredits.map((value) => new Exact(value));
    this.tier = tierByName(terms, state.tier);
    this.grants = state.grants.map((grant) => ({
      grant: { id: grant.id, kind: grant.kind, credits: grant.remaining, validFrom: grant.validFrom, expiresAt: grant.expiresAt },
      remaining: new Exact(grant.remaining),
    }));
    this.carriedIn = new Exact(state.carriedInCredits);
    this.admitted = new Exact(state.admittedCredits);
    this.demand = new Exact(state.demandCredits);
    this.deferred = new Exact(state.deferredCredits);
    this.admittedEvents = state.admittedEvents;
    this.deferredEvents = state.deferredEvents;
    this.throttled = state.throttled;
    this.lastUsedSegment = this.carriedIn.isZero() ? -1 : 0;
    this.segmentCredits.forEach((credits, index) => {
      if (!credits.isZero()) this.lastUsedSegment = Math.max(this.lastUsedSegment, index);
    });
  }

  credit(text: string): CreditValue {
    let value = this.creditCache.get(text);
    if (value === undefined) {
      const exact = new Exact(text);
      if (!exact.isFinite() || exact.isNegative()) {
        throw DomainInputError.of(SUBJECT, 'credits', 'minimum', `must be a decimal >= 0, got "${text}"`);
      }
      value = { exact, approximate: exact.toNumber() };
      this.creditCache.set(text, value);
    }
    return value;
  }

  segmentOf(consumedAt: string): number {
    if (consumedAt === this.lastConsumedAt) return this.lastSegment;
    const instant = Date.parse(consumedAt);
    if (Number.isNaN(instant) || instant < this.start || instant >= this.end) {
      throw DomainInputError.of(
        SUBJECT,
        'consumedAt',
        'within_period',
        `must be an instant inside period ${this.state.periodIndex} [${this.state.start}, ${this.state.end}), got "${consumedAt}"`,
      );
    }
    this.lastConsumedAt = consumedAt;
    this.lastSegment = segmentIndexAt(this.boundaries, instant);
    return this.lastSegment;
  }

  /** Returns the grants as burned under `tier`, the period's commit grant at that tier's commit. */
  grantsUnder(tier: Tier): BurnableGrant[] {
    const commitId = `commit-${this.state.periodIndex}`;
    return this.grants.map((item) => (item.grant.id === commitId ? { grant: item.grant, remaining: new Exact(tier.commitCredits) } : item));
  }

  /** Sums and clears a map of credits string to event count, exactly. */
  private drain(pending: Map<string, number>): Decimal {
    let sum = new Exact(0);
    for (const [text, count] of pending) sum = sum.plus(this.credit(text).exact.times(count));
    pending.clear();
    return sum;
  }

  /** Moves the pending sums into the exact totals. */
  flush(): void {
    if (this.window !== undefined && this.pending.size > 0) {
      const segment = this.window.segment;
      this.segmentCredits[segment] = (this.segmentCredits[segment] as Decimal).plus(this.drain(this.pending));
    }
    if (this.pendingCarried.size > 0) this.carriedIn = this.carriedIn.plus(this.drain(this.pendingCarried));
    this.pendingApproximate = 0;
    if (this.pendingCredits.size > 0) {
      const sum = this.drain(this.pendingCredits);
      this.admitted = this.admitted.plus(sum);
      this.demand = this.demand.plus(sum);
    }
    if (this.pendingDeferred.size > 0) {
      const sum = this.drain(this.pendingDeferred);
      this.deferred = this.deferred.plus(sum);
      this.demand = this.demand.plus(sum);
    }
    if (this.pendingCarriedDeferred.size > 0) this.deferred = this.deferred.plus(this.drain(this.pendingCarriedDeferred));
  }

  /** Computes the overage with extra credits added to a segment (or to the carried-in usage) under `tier`. */
  overageWith(tier: Tier, segment: number, extra: Decimal, carriedIn: boolean): Decimal {
    this.flush();
    const usage = this.segmentCredits.slice();
    usage[0] = (usage[0] as Decimal).plus(this.carriedIn);
    if (carriedIn) usage[0] = (usage[0] as Decimal).plus(extra);
    else usage[segment] = (usage[segment] as Decimal).plus(extra);
    return burnSegments(this.grantsUnder(tier), this.boundaries, usage).overage;
  }

  fitsWith(tier: Tier, segment: number, extra: Decimal, carriedIn: boolean): boolean {
    if (tier.spendCap === undefined) return true;
    return withinSpendCap(tier, periodCharges(this.terms, tier, this.overageWith(tier, segment, extra, carriedIn)));
  }

  /** Returns how many of `count` events of `credits` fit, at most `count`, by bisection. */
  countThatFits(tier: Tier, segment: number, credits: Decimal, count: number, carriedIn: boolean): number {
    if (this.fitsWith(tier, segment, credits.times(count), carriedIn)) return count;
    let low = 0;
    let high = count;
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (this.fitsWith(tier, segment, credits.times(middle), carriedIn)) low = middle;
      else high = middle;
    }
    return low;
  }

  /** Builds the cheap fit test for `segment` when no later segment contains usage. */
  openWindow(segment: number): SegmentWindow | undefined {
    if (segment < this.lastUsedSegment || this.tier.spendCap === undefined) return undefined;
    this.flush();
    const usage = this.segmentCredits.slice(0, segment);
    if (usage.length > 0) usage[0] = (usage[0] as Decimal).plus(this.carriedIn);
    const grants = this.grantsUnder(this.tier);
    const before = burnSegments(grants, this.boundaries.slice(0, segment), usage);
    const segmentStart = this.boundaries[segment] as number;
    let capacity = new Exact(0);
    grants.forEach((item, index) => {
      const from = Date.parse(item.grant.validFrom);
      const to = Date.parse(item.grant.expiresAt);
      if (from <= segmentStart && segmentStart < to) capacity = capacity.plus(before.remaining[index] as Decimal);
    });
    const window: SegmentWindow = { segment, overageBefore: before.overage, capacity, roomEstimate: 0 };
    this.window = window;
    this.refreshRoom();
    return window;
  }

  /** Re-estimates the credits that certainly fit in the window's segment. */
  refreshRoom(): void {
    const window = this.window;
    if (window === undefined) return;
    const tier = this.tier;
    const unitPrice = overageUnitPrice(this.terms, tier);
    if (unitPrice.isZero()) {
      window.roomEstimate = Infinity;
      return;
    }
    const fees = periodCharges(this.terms, tier, 0);
    const digits = minorUnits(this.terms.currency);
    const moneyRoom = new Exact(tier.spendCap as string).minus(fees.total).toDecimalPlaces(digits, Decimal.ROUND_FLOOR);
    const base = (this.segmentCredits[window.segment] as Decimal).plus(window.segment === 0 ? this.carriedIn : 0);
    const room = window.capacity.minus(base).plus(moneyRoom.dividedBy(unitPrice)).minus(window.overageBefore);
    const approximate = room.toNumber();
    // The approximate sum of pending credits carries a relative error far below 1e-9,
    // so this margin keeps every "certainly fits" result exact.
    window.roomEstimate = approximate - Math.abs(approximate) * 1e-9 - 1e-9;
  }

  /** Admits own usage; returns how many of the item's events were admitted. */
  admitOwn(item: AdmissionItem): number {
    const count = eventCount(item);
    if (!Number.isInteger(count) || count < 1) {
      throw DomainInputError.of(SUBJECT, 'count', 'minimum', `must be an integer >= 1, got ${count}`);
    }
    const weight = item.summedEvents ?? 1;
    if (!Number.isInteger(weight) || weight < 1 || (weight > 1 && count > 1)) {
      throw DomainInputError.of(SUBJECT, 'summedEvents', 'minimum', `must be an integer >= 1 on an item of count 1, got ${weight} with count ${count}`);
    }
    this.eventWeight = weight;
    const value = this.credit(item.credits);
    const segment = this.segmentOf(item.consumedAt);
    if (this.throttled) {
      this.deferOwn(item.credits, count);
      return 0;
    }
    if (this.tier.spendCap === undefined) {
      this.acceptOwn(item.credits, value, count, segment);
      return count * weight;
    }

    let window = this.window;
    if (window === undefined || window.segment !== segment) {
      this.flushWindow();
      window = this.openWindow(segment);
    }
    if (window !== undefined && this.pendingApproximate + value.approximate * count <= window.roomEstimate) {
      this.acceptOwn(item.credits, value, count, segment);
      return count * weight;
    }

    let admitted = 0;
    let remaining = count;
    while (remaining > 0) {
      const fitting = this.countThatFits(this.tier, segment, value.exact, remaining, false);
      if (fitting > 0) {
        this.acceptOwn(item.credits, value, fitting, segment);
        this.flush();
        admitted += fitting;
        remaining -= fitting;
        this.refreshRoom();
      }
      if (remaining === 0) break;
      if (!this.upgradeFor(segment, value.exact, false, item.arrivedAt ?? item.consumedAt)) {
        this.throttle();
        this.deferOwn(item.credits, remaining);
        break;
      }
    }
    return admitted * weight;
  }

  /** Judges carried-in usage at the period's start; returns how many of the item's events fit. */
  admitCarried(item: DeferredUsage, at: string): number {
    const count = eventCount(item);
    if (!Number.isInteger(count) || count < 1) {
      throw DomainInputError.of(SUBJECT, 'count', 'minimum', `must be an integer >= 1, got ${count}`);
    }
    const weight = item.summedEvents ?? 1;
    if (!Number.isInteger(weight) || weight < 1 || (weight > 1 && count > 1)) {
      throw DomainInputError.of(SUBJECT, 'summedEvents', 'minimum', `must be an integer >= 1 on an item of count 1, got ${weight} with count ${count}`);
    }
    this.eventWeight = weight;
    const value = this.credit(item.credits);
    if (this.throttled) {
      this.deferCarried(item.credits, count);
      return 0;
    }
    if (this.tier.spendCap === undefined) {
      this.acceptCarried(item.credits, value, count);
      return count;
    }
    let window = this.window;
    if (window === undefined || window.segment !== 0) {
      this.flushWindow();
      window = this.openWindow(0);
    }
    if (window !== undefined && this.pendingApproximate + value.approximate * count <= window.roomEstimate) {
      this.acceptCarried(item.credits, value, count);
      return count;
    }

    let admitted = 0;
    let remaining = count;
    while (remaining > 0) {
      const fitting = this.countThatFits(this.tier, 0, value.exact, remaining, true);
      if (fitting > 0) {
        this.acceptCarried(item.credits, value, fitting);
        this.flush();
        admitted += fitting;
        remaining -= fitting;
        this.refreshRoom();
      }
      if (remaining === 0) break;
      if (!this.upgradeFor(0, value.exact, true, at)) {
        this.throttle();
        this.deferCarried(item.credits, remaining);
        break;
      }
    }
    return admitted;
  }

  private acceptCarried(text: string, value: CreditValue, count: number): void {
    if (this.window !== undefined && this.window.segment === 0) {
      this.pendingCarried.set(text, (this.pendingCarried.get(text) ?? 0) + count);
      this.pendingApproximate += value.approximate * count;
    } else {
      this.carriedIn = this.carriedIn.plus(value.exact.times(count));
    }
    if (!value.exact.isZero()) this.lastUsedSegment = Math.max(this.lastUsedSegment, 0);
  }

  private deferCarried(text: string, count: number): void {
    this.pendingCarriedDeferred.set(text, (this.pendingCarriedDeferred.get(text) ?? 0) + count);
    this.deferredEvents += count * this.eventWeight;
  }

  private acceptOwn(text: string, value: CreditValue, count: number, segment: number): void {
    if (this.window !== undefined && this.window.segment === segment) {
      this.pending.set(text, (this.pending.get(text) ?? 0) + count);
      this.pendingApproximate += value.approximate * count;
    } else {
      this.segmentCredits[segment] = (this.segmentCredits[segment] as Decimal).plus(value.exact.times(count));
    }
    this.pendingCredits.set(text, (this.pendingCredits.get(text) ?? 0) + count);
    this.admittedEvents += count * this.eventWeight;
    if (!value.exact.isZero()) this.lastUsedSegment = Math.max(this.lastUsedSegment, segment);
  }

  private deferOwn(text: string, count: number): void {
    this.pendingDeferred.set(text, (this.pendingDeferred.get(text) ?? 0) + count);
    this.deferredEvents += count * this.eventWeight;
  }

  private flushWindow(): void {
    this.flush();
    this.window = undefined;
  }

  private throttle(): void {
    if (!this.throttled) this.becameThrottled = true;
    this.throttled = true;
    this.flushWindow();
  }

  /**
   * Moves the period to the lowest higher tier under which one more event of `credits`
   * fits, when the cap policy is `upgrade`. Returns whether it did.
   */
  private upgradeFor(segment: number, credits: Decimal, carriedIn: boolean, at: string): boolean {
    if (capPolicyOf(this.terms) !== 'upgrade') return false;
    const rank = tierRank(this.terms, this.tier.name);
    for (const candidate of this.terms.tiers.slice(rank + 1)) {
      if (this.fitsWith(candidate, segment, credits, carriedIn)) {
        this.alertsBeforeTierChanges.push(...this.thresholdAlerts());
        this.tierChanges.push({ from: this.tier.name, to: candidate.name, at });
        this.tier = candidate;
        this.flushWindow();
        return true;
      }
    }
    return false;
  }

  /**
   * Returns the usage and spend threshold alerts reached under the tier in force.
   * Usage and charges only grow within a tier, so checking before each tier change and
   * at the end of a call raises the same alerts as checking after every event.
   */
  private thresholdAlerts(): AlertToRaise[] {
    this.flush();
    const { terms, state, tier } = this;
    const alerts: AlertToRaise[] = [];
    const used = this.admitted.plus(this.carriedIn);
    for (const percent of usageThresholdsReached(terms, tier, used)) {
      alerts.push(usageThresholdAlert(terms, state.contractId, state.periodIndex, tier, percent));
    }
    if (tier.spendCap !== undefined && (terms.alerts?.spendPercentOfCap?.length ?? 0) > 0) {
      const charges = periodCharges(terms, tier, this.overageWith(tier, 0, new Exact(0), false));
      for (const percent of spendThresholdsReached(terms, tier, charges.total)) {
        alerts.push(spendThresholdAlert(terms, state.contractId, state.periodIndex, tier, percent));
      }
    }
    return alerts;
  }

  /** Returns the alerts the state now calls for that admission has not raised yet in this period. */
  alerts(): AlertToRaise[] {
    const { terms, state, tier } = this;
    const raised = new Set(state.raisedAlertKeys);
    const alerts: AlertToRaise[] = [...this.alertsBeforeTierChanges];
    for (const change of this.tierChanges) {
      alerts.push(tierUpgradedAlert(terms, state.contractId, state.periodIndex, change.from, change.to));
    }
    if (this.throttled) alerts.push(throttledAlert(terms, state.contractId, state.periodIndex, tier, state.end));
    alerts.push(...this.thresholdAlerts());
    return mergeAlerts(alerts).filter((alert) => !raised.has(alert.key));
  }

  toState(newAlerts: readonly AlertToRaise[]): PeriodAdmissionState {
    this.flushWindow();
    const commitId = `commit-${this.state.periodIndex}`;
    return {
      ...this.state,
      tier: this.tier.name,
      grants: this.state.grants.map((grant) => (grant.id === commitId ? { ...grant, remaining: this.tier.commitCredits } : grant)),
      segmentCredits: this.segmentCredits.map((value) => value.toFixed()),
      carriedInCredits: this.carriedIn.toFixed(),
      admittedCredits: this.admitted.toFixed(),
      demandCredits: this.demand.toFixed(),
      deferredCredits: this.deferred.toFixed(),
      admittedEvents: this.admittedEvents,
      deferredEvents: this.deferredEvents,
      throttled: this.throttled,
      tierChanges: [...this.state.tierChanges, ...this.tierChanges],
      raisedAlertKeys: [...this.state.raisedAlertKeys, ...newAlerts.map((alert) => alert.key)],
    };
  }
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
