import Decimal from 'decimal.js';
import {
  admissionSegmentStarts,
  admitCarriedIn,
  admitEvents,
  applyGrantBalances,
  openPeriodAdmission,
  type AdmissionItem,
  type PeriodAdmissionState,
} from './admission';
import { mergeAlerts, type AlertToRaise } from './alerts';
import { closePeriod, type CloseResult, type PeriodStatement } from './close';
import { Exact } from './decimal';
import { DomainInputError } from './errors';
import { contractStartGrants, issueMovement, type GrantBalance, type LedgerMovement } from './grants';
import { prepaidInvoice, type AccruedOverage, type InvoiceDraft, type InvoiceLine } from './invoices';
import { formatMoney } from './money';
import { periodSchedule, startOfDateAfterMonths } from './periods';
import type { Terms } from './terms-schema';
import { initialTriggerState, type TriggerState } from './trigger';
import { prepareEvents, unitsToDecimal, type PreparedEvents, type RejectedRow, type UsageRow } from './simulation-input';
import type { DeferredUsage } from './usage';

export type { RejectedRow, UsageRow };

/** Options of a simulation. */
export interface SimulationOptions {
  /** Time after a period's end before it closes, in milliseconds; 1 hour when absent. */
  closeDelayMs?: number;
  /** Contract id used in alert and invoice keys; `simulation` when absent. */
  contractId?: string;
  /**
   * Most events offered to admission as one group; 8192 when absent. The result does not
   * depend on it: 1 judges every event alone, which tests use as the reference.
   */
  groupSize?: number;
}

/** An invoice of a simulation, numbered `SIM-0001`, `SIM-0002`, ... in issue order. */
export interface SimulatedInvoice {
  number: string;
  kind: InvoiceDraft['kind'];
  periodIndex: number | null;
  issuedAt: string;
  lines: InvoiceLine[];
  total: string;
}

/** The simulator's JSON document. */
export interface SimulationResult {
  currency: string;
  periods: PeriodStatement[];
  invoices: SimulatedInvoice[];
  totals: {
    invoiced: string;
    consumedCredits: string;
    overageCredits: string;
    forfeitedCredits: string;
    expiredCredits: string;
    unbilledDeferredCredits: string;
  };
  events: { accepted: number; duplicates: number; rejected: RejectedRow[] };
}

/** A simulation with the ledger behind it, for checks beyond the printed document. */
export interface SimulationRun {
  result: SimulationResult;
  movements: LedgerMovement[];
  grants: GrantBalance[];
  closes: CloseResult[];
}

/** Default of `SimulationOptions.groupSize`; bounds the work redone when a group does not fit. */
const DEFAULT_GROUP_SIZE = 8192;

/** One hour, the default close delay. */
export const DEFAULT_CLOSE_DELAY_MS = 3_600_000;

/** Everything the simulated contract keeps between events, like a live contract's database rows. */
class SimulatedContract {
  readonly terms: Terms;
  readonly contractId: string;
  readonly schedule: ReturnType<typeof periodSchedule>;
  readonly closeDelay: number;
  readonly groupSize: number;
  readonly states: (PeriodAdmissionState | undefined)[];
  readonly admissionAlerts: AlertToRaise[][];
  readonly ownDeferred: DeferredUsage[][];
  readonly carriedIn: { admitted: DeferredUsage[]; deferred: DeferredUsage[] }[];
  /** Events each deferred block stands for, as a range of the prepared events. */
  private readonly blockEvents = new WeakMap<DeferredUsage, { from: number; to: number }>();
  readonly closes: CloseResult[] = [];
  readonly movements: LedgerMovement[] = [];
  readonly issuedInvoices: { draft: InvoiceDraft; issuedAt: number; order: number }[] = [];
  balances: GrantBalance[];
  trigger: TriggerState = initialTriggerState();
  accrued: AccruedOverage[] = [];
  nextClose = 0;

  constructor(terms: Terms, contractId: string, closeDelay: number, groupSize: number) {
    this.terms = terms;
    this.groupSize = groupSize;
    this.contractId = contractId;
    this.closeDelay = closeDelay;
    this.schedule = periodSchedule(terms);
    const periods = this.schedule.length;
    this.states = new Array<PeriodAdmissionState | undefined>(periods).fill(undefined);
    this.admissionAlerts = Array.from({ length: periods }, () => []);
    this.ownDeferred = Array.from({ length: periods }, () => []);
    this.carriedIn = Array.from({ length: periods }, () => ({ admitted: [], deferred: [] }));
    const grants = contractStartGrants(terms);
    this.balances = grants.map((grant) => ({ grant, remaining: grant.credits }));
    for (const grant of grants) this.movements.push(issueMovement(grant, 0));
    (terms.prepaid ?? []).forEach((block, index) => {
      const issuedAt = startOfDateAfterMonths(block.purchasedOn, 0, terms.timeZone).getTime();
      this.issuedInvoices.push({ draft: prepaidInvoice(terms, index, contractId), issuedAt, order: this.issuedInvoices.length });
    });
  }

  closeTime(index: number): number {
    return (this.schedule[index] as { end: Date }).end.getTime() + this.closeDelay;
  }

  /** Returns the admission state of a period, opening it when its first event arrives or its predecessor closes. */
  open(index: number): PeriodAdmissionState {
    const existing = this.states[index];
    if (existing !== undefined) return existing;
    const previous = index > 0 ? this.states[index - 1] : undefined;
    const state = openPeriodAdmission({
      contractId: this.contractId,
      terms: this.terms,
      periodIndex: index,
      tier: previous?.tier ?? this.closes[this.closes.length - 1]?.statement.tier ?? this.terms.initialTier,
      grants: this.balances,
      previousPeriodClosed: this.nextClose >= index,
    });
    this.states[index] = state;
    return state;
  }

  /**
   * Offers events `[from, to)` of one period to admission in groups of at most
   * `groupSize` events within one segment. A group is first offered as one item, its
   * credits summed exactly. Charges only grow with usage, so when all of it fits without
   * a tier change the outcome equals offering its events one by one. Otherwise the group
   * is offered again event by event, in arrival order.
   */
  admit(index: number, events: PreparedEvents, from: number, to: number): void {
    if (from >= to) return;
    const starts = admissionSegmentStarts(this.open(index));
    let segment = 0;
    let groupStart = from;
    for (let i = from; i < to; i++) {
      const time = events.times[i] as number;
      let nextSegment = segment;
      while (nextSegment + 1 < starts.length && (starts[nextSegment + 1] as number) <= time) nextSegment++;
      if (nextSegment !== segment || i - groupStart >= this.groupSize) {
        this.admitGroup(index, events, groupStart, i, segment);
        groupStart = i;
        segment = nextSegment;
      }
    }
    this.admitGroup(index, events, groupStart, to, segment);
  }

  private admitGroup(index: number, events: PreparedEvents, from: number, to: number, segment: number): void {
    if (from >= to) return;
    const state = this.states[index] as PeriodAdmissionState;
    const consumedAt = state.segmentStarts[segment] as string;
    let units = 0n;
    for (let i = from; i < to; i++) units += events.creditUnits[events.creditIds[i] as number] as bigint;
    const summed: AdmissionItem = { credits: unitsToDecimal(units, events.creditScale), summedEvents: to - from, consumedAt };

    let result = admitEvents(state, this.terms, [summed]);
    const allFit = result.admittedEvents === to - from && result.tierChanges.length === 0;
    if (!allFit && !state.throttled) {
      const items: AdmissionItem[] = [];
      for (let i = from; i < to; i++) {
        const credits = events.creditTexts[events.creditIds[i] as number] as string;
        const last = items[items.length - 1];
        if (last !== undefined && last.credits === credits) last.count = (last.count ?? 1) + 1;
        else items.push({ credits, count: 1, consumedAt });
      }
      result = admitEvents(state, this.terms, items);
    }
    this.states[index] = result.state;
    this.admissionAlerts[index]?.push(...result.alerts);

    const deferred = this.deferredBlock(events, from + result.admittedEvents, to);
    if (deferred !== undefined) this.ownDeferred[index]?.push(deferred);
  }

  /**
   * Returns the deferred events `[from, to)` of one group as one item: a single event, or
   * a block whose credits are their exact sum. A block remembers its events, so it can be
   * judged event by event when it does not fit whole in a later period.
   */
  deferredBlock(events: PreparedEvents, from: number, to: number): DeferredUsage | undefined {
    if (from >= to) return undefined;
    const occurredAt = new Date(events.times[from] as number).toISOString();
    if (to - from === 1) return { credits: events.creditTexts[events.creditIds[from] as number] as string, occurredAt };
    let units = 0n;
    for (let i = from; i < to; i++) units += events.creditUnits[events.creditIds[i] as number] as bigint;
    const block: DeferredUsage = { credits: unitsToDecimal(units, events.creditScale), summedEvents: to - from, occurredAt };
    this.blockEvents.set(block, { from, to });
    return block;
  }

  /** Returns events `[from, to)` as runs of equal credits, in arrival order. */
  private eventRuns(events: PreparedEvents, from: number, to: number): DeferredUsage[] {
    const runs: DeferredUsage[] = [];
    for (let i = from; i < to; i++) {
      const credits = events.creditTexts[events.creditIds[i] as number] as string;
      const last = runs[runs.length - 1];
      if (last !== undefined && last.credits === credits) last.count = (last.count ?? 1) + 1;
      else runs.push({ credits, count: 1, occurredAt: new Date(events.times[i] as number).toISOString() });
    }
    return runs;
  }

  /**
   * Judges the usage carried into period `index` in its original order, as
   * `admitCarriedIn` does live. A block is offered whole first and, when it does not fit
   * whole, event by event. Once the period is throttled the rest is deferred as it is.
   */
  carryIn(index: number, state: PeriodAdmissionState, items: readonly DeferredUsage[], events: PreparedEvents): void {
    const admitted: DeferredUsage[] = [];
    const deferred: DeferredUsage[] = [];
    let current = state;
    let position = 0;
    for (; position < items.length && !current.throttled; position++) {
      const item = items[position] as DeferredUsage;
      const range = this.blockEvents.get(item);
      let judged = admitCarriedIn(current, this.terms, [item]);
      if (range !== undefined && (judged.admitted.length === 0 || judged.tierChanges.length > 0)) {
        judged = admitCarriedIn(current, this.terms, this.eventRuns(events, range.from, range.to));
        const admittedEvents = judged.admitted.reduce((total, run) => total + (run.count ?? 1), 0);
        const rest = this.deferredBlock(events, range.from + admittedEvents, range.to);
        admitted.push(...judged.admitted);
        if (rest !== undefined) deferred.push(rest);
      } else {
        admitted.push(...judged.admitted);
        deferred.push(...judged.deferred);
      }
      current = judged.state;
      this.admissionAlerts[index]?.push(...judged.alerts);
    }
    if (position < items.length) {
      const judged = admitCarriedIn(current, this.terms, items.slice(position));
      deferred.push(...judged.deferred);
      current = judged.state;
      this.admissionAlerts[index]?.push(...judged.alerts);
    }
    this.states[index] = current;
    this.carriedIn[index] = { admitted, deferred };
  }

  /** Closes period `index` at its end plus the close delay, then hands its deferred usage to the next period. */
  close(index: number, events: PreparedEvents): void {
    const state = this.open(index);
    const final = index === this.schedule.length - 1;
    const nextState = this.states[index + 1];
    const result = closePeriod({
      contractId: this.contractId,
      terms: this.terms,
      periodIndex: index,
      tier: state.tier,
      grants: this.balances,
      admitted: state.segmentStarts
        .map((consumedAt, segment) => ({ credits: state.segmentCredits[segment] as string, consumedAt }))
        .filter((item) => item.credits !== '0'),
      deferred: this.ownDeferred[index] as DeferredUsage[],
      carriedIn: this.carriedIn[index],
      trigger: this.trigger,
      accruedOverage: this.accrued,
      final,
      tierChanges: state.tierChanges,
      ...(nextState === undefined ? {} : { next: { tier: nextState.tier } }),
    });
    const alerts = mergeAlerts(this.admissionAlerts[index] as AlertToRaise[], result.alerts);
    result.statement.alerts = alerts.map((alert) => ({ kind: alert.kind, key: alert.key }));
    this.closes.push(result);
    this.movements.push(...result.movements);
    this.balances = result.grants;
    this.trigger = result.trigger;
    this.accrued = result.accruedOverage;
    for (const draft of result.invoices) {
      this.issuedInvoices.push({ draft, issuedAt: this.closeTime(index), order: this.issuedInvoices.length });
    }
    this.nextClose = index + 1;

    if (!final) {
      const next = nextState === undefined ? this.open(index + 1) : applyGrantBalances(nextState, this.balances);
      this.carryIn(index + 1, next, result.deferredOut, events);
    }
  }
}

/**
 * Runs a contract over a usage file the way a live contract runs. Events arrive at their
 * `occurredAt`, in order of `occurredAt`, then event id, then row number, and are
 * admitted under the spend cap. Period `k` closes at its end plus the close delay, so
 * events of period `k + 1` arriving in that delay are admitted before the close and
 * without the grants it will issue. The simulation covers the whole term. Rows with an
 * unknown meter, an invalid quantity or time, a time outside the term, or a conflicting
 * event id are left out and listed in `events.rejected`.
 */
export function runSimulation(terms: Terms, rows: readonly UsageRow[], options: SimulationOptions = {}): SimulationRun {
  const closeDelay = options.closeDelayMs ?? DEFAULT_CLOSE_DELAY_MS;
  if (!Number.isFinite(closeDelay) || closeDelay < 0) {
    throw DomainInputError.of('Invalid simulation options', 'closeDelayMs', 'minimum', `must be a number of milliseconds >= 0, got ${closeDelay}`);
  }
  const groupSize = options.groupSize ?? DEFAULT_GROUP_SIZE;
  if (!Number.isInteger(groupSize) || groupSize < 1) {
    throw DomainInputError.of('Invalid simulation options', 'groupSize', 'minimum', `must be an integer >= 1, got ${groupSize}`);
  }
  const contract = new SimulatedContract(terms, options.contractId ?? 'simulation', closeDelay, groupSize);
  const schedule = contract.schedule;
  const start = (schedule[0] as { start: Date }).start.getTime();
  const end = (schedule[schedule.length - 1] as { end: Date }).end.getTime();
  const events = prepareEvents(terms, rows, start, end);

  let period = 0;
  let batchStart = 0;
  for (let i = 0; i < events.count; i++) {
    const time = events.times[i] as number;
    const crossesClose = contract.nextClose < schedule.length && contract.closeTime(contract.nextClose) <= time;
    const crossesPeriod = time >= (schedule[period] as { end: Date }).end.getTime();
    if (crossesClose || crossesPeriod) {
      contract.admit(period, events, batchStart, i);
      batchStart = i;
      while (contract.nextClose < schedule.length && contract.closeTime(contract.nextClose) <= time) {
        contract.close(contract.nextClose, events);
      }
      while (time >= (schedule[period] as { end: Date }).end.getTime()) period++;
    }
  }
  contract.admit(period, events, batchStart, events.count);
  while (contract.nextClose < schedule.length) contract.close(contract.nextClose, events);

  return {
    result: buildResult(terms, contract, events),
    movements: contract.movements,
    grants: contract.balances,
    closes: contract.closes,
  };
}

function buildResult(terms: Terms, contract: SimulatedContract, events: PreparedEvents): SimulationResult {
  const periods = contract.closes.map((close) => close.statement);
  const ordered = [...contract.issuedInvoices].sort((a, b) => a.issuedAt - b.issuedAt || a.order - b.order);
  const invoices: SimulatedInvoice[] = ordered.map((entry, position) => ({
    number: `SIM-${String(position + 1).padStart(4, '0')}`,
    kind: entry.draft.kind,
    periodIndex: entry.draft.periodIndex,
    issuedAt: new Date(entry.issuedAt).toISOString(),
    lines: entry.draft.lines,
    total: entry.draft.total,
  }));
  const sum = (values: readonly string[]): Decimal => values.reduce((total, value) => total.plus(value), new Exact(0));
  const last = periods[periods.length - 1];
  return {
    currency: terms.currency,
    periods,
    invoices,
    totals: {
      invoiced: formatMoney(sum(invoices.map((invoice) => invoice.total)), terms.currency),
      consumedCredits: sum(periods.map((p) => p.consumedCredits)).toFixed(),
      overageCredits: sum(periods.map((p) => p.overageCredits)).toFixed(),
      forfeitedCredits: sum(periods.map((p) => p.forfeitedCredits)).toFixed(),
      expiredCredits: sum(periods.map((p) => p.expiredCredits)).toFixed(),
      unbilledDeferredCredits: last?.deferredCredits ?? '0',
    },
    events: { accepted: events.accepted, duplicates: events.duplicates, rejected: events.rejected },
  };
}

/** Simulates a contract over usage rows and returns the simulator's JSON document; see `runSimulation`. */
export function simulate(terms: Terms, rows: readonly UsageRow[], options: SimulationOptions = {}): SimulationResult {
  return runSimulation(terms, rows, options).result;
}
