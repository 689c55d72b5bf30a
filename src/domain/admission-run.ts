// The working copy behind every admission call: exact totals, the cheap fit test and tier upgrades.
import Decimal from 'decimal.js';
import type { AdmissionItem, PeriodAdmissionState, TierChange } from './admission';
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
import { burnSegments, segmentIndexAt, type BurnableGrant } from './burn';
import { overageUnitPrice, periodCharges, withinSpendCap } from './charges';
import { Exact } from './decimal';
import { DomainInputError } from './errors';
import { minorUnits } from './money';
import { capPolicyOf, tierByName, tierRank } from './terms';
import type { Terms, Tier } from './terms-schema';
import { eventCount, type DeferredUsage } from './usage';

const SUBJECT = 'Invalid admission input';

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

/** Mutable working copy of an admission state during one admission call. */
export class AdmissionRun {
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
