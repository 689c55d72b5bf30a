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
import { DomainError, DomainInputError } from './errors';
import { contractStartGrants, issueMovement, type GrantBalance, type LedgerMovement } from './grants';
import { prepaidInvoice, type AccruedOverage, type InvoiceDraft, type InvoiceLine } from './invoices';
import { meterByKey, parseQuantity } from './meters';
import { formatMoney } from './money';
import { periodSchedule, startOfDateAfterMonths } from './periods';
import type { Terms } from './terms-schema';
import { initialTriggerState, type TriggerState } from './trigger';
import type { DeferredUsage } from './usage';

/** One row of a usage file. */
export interface UsageRow {
  occurredAt: string;
  meter: string;
  quantity: string;
  eventId?: string;
}

/** Options of a simulation. */
export interface SimulationOptions {
  /** Time after a period's end before it closes, in milliseconds; 1 hour when absent. */
  closeDelayMs?: number;
  /** Contract id used in alert and invoice keys; `simulation` when absent. */
  contractId?: string;
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

/** A usage row the simulation did not accept, with its 1-based position in the input. */
export interface RejectedRow {
  row: number;
  eventId?: string;
  reason: string;
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

/** One hour, the default close delay. */
export const DEFAULT_CLOSE_DELAY_MS = 3_600_000;

const OFFSET_SUFFIX = /(Z|[+-]\d{2}:?\d{2})$/i;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

/** Events ready for the loop, as parallel arrays in arrival order. */
interface PreparedEvents {
  times: number[];
  credits: string[];
  count: number;
  accepted: number;
  duplicates: number;
  rejected: RejectedRow[];
}

function prepareEvents(terms: Terms, rows: readonly UsageRow[], start: number, end: number): PreparedEvents {
  const rejected: RejectedRow[] = [];
  const creditMemo = new Map<string, string>();
  const times: number[] = [];
  const credits: string[] = [];
  const rowNumbers: number[] = [];
  const eventIds: (string | undefined)[] = [];
  const meters: string[] = [];
  const quantities: string[] = [];

  const reject = (row: number, eventId: string | undefined, reason: string) => {
    rejected.push({ row, ...(eventId === undefined ? {} : { eventId }), reason });
  };

  for (let index = 0; index < rows.length; index++) {
    const row = rows[index] as UsageRow;
    const number = index + 1;
    const time = ISO_INSTANT.test(row.occurredAt) && OFFSET_SUFFIX.test(row.occurredAt) ? Date.parse(row.occurredAt) : NaN;
    if (Number.isNaN(time)) {
      reject(number, row.eventId, `occurred_at "${row.occurredAt}" is not an ISO 8601 instant with an offset, such as 2026-01-15T09:30:00Z`);
      continue;
    }
    if (row.eventId !== undefined && (row.eventId.length < 1 || row.eventId.length > 200 || !/^[\x20-\x7e]+$/.test(row.eventId))) {
      reject(number, row.eventId, 'event_id must be 1 to 200 printable characters');
      continue;
    }
    const memoKey = `${row.meter}\u0000${row.quantity}`;
    let text = creditMemo.get(memoKey);
    if (text === undefined) {
      try {
        text = parseQuantity(row.quantity).times(meterByKey(terms, row.meter).creditsPerUnit).toFixed();
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        reject(number, row.eventId, error.message);
        continue;
      }
      creditMemo.set(memoKey, text);
    }
    if (time < start) {
      reject(number, row.eventId, `occurred_at ${row.occurredAt} is before the contract starts (${new Date(start).toISOString()})`);
      continue;
    }
    if (time >= end) {
      reject(number, row.eventId, `occurred_at ${row.occurredAt} is at or after the contract ends (${new Date(end).toISOString()})`);
      continue;
    }
    times.push(time);
    credits.push(text);
    rowNumbers.push(number);
    eventIds.push(row.eventId);
    meters.push(row.meter);
    quantities.push(row.quantity);
  }

  // Arrival order: occurred_at, then event_id (rows without one first), then row number.
  let sorted = true;
  for (let i = 1; i < times.length && sorted; i++) {
    const previous = times[i - 1] as number;
    const current = times[i] as number;
    if (previous > current || (previous === current && (eventIds[i - 1] ?? '') > (eventIds[i] ?? ''))) sorted = false;
  }
  let order: number[] | undefined;
  if (!sorted) {
    order = times.map((_, i) => i);
    order.sort((a, b) => {
      const byTime = (times[a] as number) - (times[b] as number);
      if (byTime !== 0) return byTime;
      const idA = eventIds[a] ?? '';
      const idB = eventIds[b] ?? '';
      if (idA !== idB) return idA < idB ? -1 : 1;
      return (rowNumbers[a] as number) - (rowNumbers[b] as number);
    });
  }

  // A repeated event id with the same content counts once; with other content it is a conflict.
  const seen = new Map<string, number>();
  const outTimes: number[] = [];
  const outCredits: string[] = [];
  let duplicates = 0;
  const hasIds = eventIds.some((id) => id !== undefined);
  for (let position = 0; position < times.length; position++) {
    const i = order === undefined ? position : (order[position] as number);
    const eventId = eventIds[i];
    if (hasIds && eventId !== undefined) {
      const first = seen.get(eventId);
      if (first !== undefined) {
        const same =
          meters[first] === meters[i] &&
          times[first] === times[i] &&
          new Exact(quantities[first] as string).equals(quantities[i] as string);
        if (same) {
          duplicates += 1;
        } else {
          reject(rowNumbers[i] as number, eventId, `event_id "${eventId}" repeats row ${rowNumbers[first]} with a different meter, quantity or time`);
        }
        continue;
      }
      seen.set(eventId, i);
    }
    outTimes.push(times[i] as number);
    outCredits.push(credits[i] as string);
  }
  rejected.sort((a, b) => a.row - b.row);
  return { times: outTimes, credits: outCredits, count: outTimes.length, accepted: outTimes.length, duplicates, rejected };
}

/** Everything the simulated contract keeps between events, like a live contract's database rows. */
class SimulatedContract {
  readonly terms: Terms;
  readonly contractId: string;
  readonly schedule: ReturnType<typeof periodSchedule>;
  readonly closeDelay: number;
  readonly states: (PeriodAdmissionState | undefined)[];
  readonly admissionAlerts: AlertToRaise[][];
  readonly ownDeferred: DeferredUsage[][];
  readonly carriedIn: { admitted: DeferredUsage[]; deferred: DeferredUsage[] }[];
  readonly closes: CloseResult[] = [];
  readonly movements: LedgerMovement[] = [];
  readonly issuedInvoices: { draft: InvoiceDraft; issuedAt: number; order: number }[] = [];
  balances: GrantBalance[];
  trigger: TriggerState = initialTriggerState();
  accrued: AccruedOverage[] = [];
  nextClose = 0;

  constructor(terms: Terms, contractId: string, closeDelay: number) {
    this.terms = terms;
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

  /** Offers events `[from, to)` of one period to admission, summing runs of equal credits per segment. */
  admit(index: number, events: PreparedEvents, from: number, to: number): void {
    if (from >= to) return;
    let state = this.open(index);
    const starts = admissionSegmentStarts(state);
    const startTexts = state.segmentStarts;
    const items: AdmissionItem[] = [];
    const segments = new Int32Array(to - from);
    let segment = 0;
    for (let i = from; i < to; i++) {
      const time = events.times[i] as number;
      while (segment + 1 < starts.length && (starts[segment + 1] as number) <= time) segment++;
      segments[i - from] = segment;
      const credits = events.credits[i] as string;
      const consumedAt = startTexts[segment] as string;
      const last = items[items.length - 1];
      if (last !== undefined && last.credits === credits && last.consumedAt === consumedAt) {
        last.count = (last.count ?? 1) + 1;
      } else {
        items.push({ credits, count: 1, consumedAt });
      }
    }
    const result = admitEvents(state, this.terms, items);
    state = result.state;
    this.states[index] = state;
    this.admissionAlerts[index]?.push(...result.alerts);

    // Deferred events are kept in runs of equal credits within one segment, in arrival order.
    const deferred = this.ownDeferred[index] as DeferredUsage[];
    for (let i = from + result.admittedEvents; i < to; i++) {
      const credits = events.credits[i] as string;
      const last = deferred[deferred.length - 1];
      const sameRun = i > from + result.admittedEvents && segments[i - from] === segments[i - from - 1];
      if (last !== undefined && last.credits === credits && sameRun) {
        last.count = (last.count ?? 1) + 1;
      } else {
        deferred.push({ credits, count: 1, occurredAt: new Date(events.times[i] as number).toISOString() });
      }
    }
  }

  /** Closes period `index` at its end plus the close delay, then hands its deferred usage to the next period. */
  close(index: number): void {
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
      const carried = admitCarriedIn(next, this.terms, result.deferredOut);
      this.states[index + 1] = carried.state;
      this.carriedIn[index + 1] = { admitted: carried.admitted, deferred: carried.deferred };
      this.admissionAlerts[index + 1]?.push(...carried.alerts);
    }
  }
}

/**
 * Runs a contract over a usage file the way a live contract runs: events arrive at
 * their `occurredAt` in order of `occurredAt`, then event id, then row number, and are
 * admitted under the spend cap; period `k` closes at its end plus the close delay, so
 * events of period `k + 1` arriving in that delay are admitted before the close, without
 * the grants it will issue. The simulation covers the whole term. Rows with an unknown
 * meter, an invalid quantity or time, a time outside the term, or a conflicting event id
 * are left out and listed in `events.rejected`.
 */
export function runSimulation(terms: Terms, rows: readonly UsageRow[], options: SimulationOptions = {}): SimulationRun {
  const closeDelay = options.closeDelayMs ?? DEFAULT_CLOSE_DELAY_MS;
  if (!Number.isFinite(closeDelay) || closeDelay < 0) {
    throw DomainInputError.of('Invalid simulation options', 'closeDelayMs', 'minimum', `must be a number of milliseconds >= 0, got ${closeDelay}`);
  }
  const contract = new SimulatedContract(terms, options.contractId ?? 'simulation', closeDelay);
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
        contract.close(contract.nextClose);
      }
      while (time >= (schedule[period] as { end: Date }).end.getTime()) period++;
    }
  }
  contract.admit(period, events, batchStart, events.count);
  while (contract.nextClose < schedule.length) contract.close(contract.nextClose);

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
