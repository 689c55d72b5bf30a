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
import { EVENT_ID_PATTERN } from './events';
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

/** Default of `SimulationOptions.groupSize`; bounds the work redone when a group does not fit. */
const DEFAULT_GROUP_SIZE = 8192;

/** One hour, the default close delay. */
export const DEFAULT_CLOSE_DELAY_MS = 3_600_000;

const OFFSET_SUFFIX = /(Z|[+-]\d{2}:?\d{2})$/i;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
const DIGIT_ZERO = 48;

/** Reads `length` decimal digits at `offset`, or returns -1 when one is not a digit. */
function readDigits(text: string, offset: number, length: number): number {
  let value = 0;
  for (let i = offset; i < offset + length; i++) {
    const digit = text.charCodeAt(i) - DIGIT_ZERO;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Returns the number of days of a month (1-12) in the proleptic Gregorian calendar. */
function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] as number);
}

/** Parses `YYYY-MM-DDTHH:MM:SS[.sss]Z`, the common form of usage times, or returns NaN. */
function parseUtcInstant(text: string): number {
  const length = text.length;
  if ((length !== 20 && length !== 24) || text.charCodeAt(length - 1) !== 90 /* Z */) return NaN;
  if (text[4] !== '-' || text[7] !== '-' || text[10] !== 'T' || text[13] !== ':' || text[16] !== ':') return NaN;
  if (length === 24 && text[19] !== '.') return NaN;
  const year = readDigits(text, 0, 4);
  const month = readDigits(text, 5, 2);
  const day = readDigits(text, 8, 2);
  const hour = readDigits(text, 11, 2);
  const minute = readDigits(text, 14, 2);
  const second = readDigits(text, 17, 2);
  const millisecond = length === 24 ? readDigits(text, 20, 3) : 0;
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || millisecond < 0) {
    return NaN;
  }
  if (day > daysInMonth(year, month)) return NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, millisecond);
}

/** Parses an ISO 8601 instant with an explicit offset to epoch milliseconds, or returns NaN. */
function parseInstant(text: string): number {
  const utc = parseUtcInstant(text);
  if (!Number.isNaN(utc)) return utc;
  return ISO_INSTANT.test(text) && OFFSET_SUFFIX.test(text) ? Date.parse(text) : NaN;
}

/** Formats an integer count of 10^-`scale` units as a decimal string. */
function unitsToDecimal(units: bigint, scale: number): string {
  if (scale === 0) return units.toString();
  const digits = units.toString().padStart(scale + 1, '0');
  const fraction = digits.slice(-scale).replace(/0+$/, '');
  const whole = digits.slice(0, -scale);
  return fraction === '' ? whole : `${whole}.${fraction}`;
}

/** Returns the FNV-1a hash of a string's UTF-16 code units. */
function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Returns the ids that occur more than once among `idAt(0 .. count - 1)`. An
 * open-addressing table of positions keeps this linear and, for a million ids, several
 * times faster than a JavaScript Set of strings.
 */
function findRepeatedIds(count: number, idAt: (position: number) => string | undefined): Set<string> {
  let capacity = 16;
  while (capacity < count * 2) capacity *= 2;
  const mask = capacity - 1;
  const table = new Int32Array(capacity).fill(-1);
  const repeated = new Set<string>();
  for (let position = 0; position < count; position++) {
    const id = idAt(position);
    if (id === undefined) continue;
    let slot = hashString(id) & mask;
    for (;;) {
      const occupant = table[slot] as number;
      if (occupant === -1) {
        table[slot] = position;
        break;
      }
      if (idAt(occupant) === id) {
        repeated.add(id);
        break;
      }
      slot = (slot + 1) & mask;
    }
  }
  return repeated;
}

/** Events ready for the loop, as parallel arrays in arrival order. */
interface PreparedEvents {
  times: number[];
  /** Index into `creditTexts` of each event's credits. */
  creditIds: Int32Array;
  /** Distinct event sizes in credits, as decimal strings. */
  creditTexts: string[];
  /** Distinct event sizes as integers in units of 10^-`creditScale` credits, for exact sums. */
  creditUnits: bigint[];
  creditScale: number;
  count: number;
  accepted: number;
  duplicates: number;
  rejected: RejectedRow[];
}

function prepareEvents(terms: Terms, rows: readonly UsageRow[], start: number, end: number): PreparedEvents {
  const rejected: RejectedRow[] = [];
  const creditMemo = new Map<string, Map<string, number>>();
  const creditTexts: string[] = [];
  const creditIdOf = new Map<string, number>();
  const times = new Float64Array(rows.length);
  const credits = new Int32Array(rows.length);
  const rowIndexes = new Int32Array(rows.length);
  let count = 0;
  let hasIds = false;

  const reject = (index: number, reason: string) => {
    const eventId = rows[index]?.eventId;
    rejected.push({ row: index + 1, ...(eventId === undefined ? {} : { eventId }), reason });
  };

  for (let index = 0; index < rows.length; index++) {
    const row = rows[index] as UsageRow;
    const time = parseInstant(row.occurredAt);
    if (Number.isNaN(time)) {
      reject(index, `occurred_at "${row.occurredAt}" is not an ISO 8601 instant with an offset, such as 2026-01-15T09:30:00Z`);
      continue;
    }
    if (row.eventId !== undefined) {
      if (!EVENT_ID_PATTERN.test(row.eventId)) {
        reject(index, 'event_id must be 1 to 200 printable characters');
        continue;
      }
      hasIds = true;
    }
    let byQuantity = creditMemo.get(row.meter);
    if (byQuantity === undefined) {
      byQuantity = new Map();
      creditMemo.set(row.meter, byQuantity);
    }
    let creditId = byQuantity.get(row.quantity);
    if (creditId === undefined) {
      let text: string;
      try {
        text = parseQuantity(row.quantity).times(meterByKey(terms, row.meter).creditsPerUnit).toFixed();
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        reject(index, error.message);
        continue;
      }
      creditId = creditIdOf.get(text);
      if (creditId === undefined) {
        creditId = creditTexts.length;
        creditTexts.push(text);
        creditIdOf.set(text, creditId);
      }
      byQuantity.set(row.quantity, creditId);
    }
    if (time < start) {
      reject(index, `occurred_at ${row.occurredAt} is before the contract starts (${new Date(start).toISOString()})`);
      continue;
    }
    if (time >= end) {
      reject(index, `occurred_at ${row.occurredAt} is at or after the contract ends (${new Date(end).toISOString()})`);
      continue;
    }
    times[count] = time;
    credits[count] = creditId;
    rowIndexes[count] = index;
    count++;
  }

  // Arrival order: occurred_at, then event_id (rows without one first), then row number.
  const idAt = (position: number) => rows[rowIndexes[position] as number]?.eventId ?? '';
  let sorted = true;
  for (let i = 1; i < count && sorted; i++) {
    const previous = times[i - 1] as number;
    const current = times[i] as number;
    if (previous > current || (previous === current && hasIds && idAt(i - 1) > idAt(i))) sorted = false;
  }
  let order: Int32Array | undefined;
  if (!sorted) {
    const positions = Array.from({ length: count }, (_, i) => i);
    positions.sort((a, b) => {
      const byTime = (times[a] as number) - (times[b] as number);
      if (byTime !== 0) return byTime;
      const idA = idAt(a);
      const idB = idAt(b);
      if (idA !== idB) return idA < idB ? -1 : 1;
      return (rowIndexes[a] as number) - (rowIndexes[b] as number);
    });
    order = Int32Array.from(positions);
  }

  // A repeated event id with the same content counts once; with other content it is a
  // conflict. A first pass finds the ids that repeat; only those get a first position.
  const repeated = hasIds ? findRepeatedIds(count, (i) => rows[rowIndexes[i] as number]?.eventId) : new Set<string>();
  const firstPosition = new Map<string, number>();
  const outTimes: number[] = [];
  const outCredits = new Int32Array(count);
  let duplicates = 0;
  for (let position = 0; position < count; position++) {
    const i = order === undefined ? position : (order[position] as number);
    if (repeated.size > 0) {
      const row = rows[rowIndexes[i] as number] as UsageRow;
      if (row.eventId !== undefined && repeated.has(row.eventId)) {
        const first = firstPosition.get(row.eventId);
        if (first === undefined) {
          firstPosition.set(row.eventId, i);
        } else {
          const firstRow = rows[rowIndexes[first] as number] as UsageRow;
          const same = firstRow.meter === row.meter && times[first] === times[i] && new Exact(firstRow.quantity).equals(row.quantity);
          if (same) {
            duplicates += 1;
          } else {
            reject(rowIndexes[i] as number, `event_id "${row.eventId}" repeats row ${(rowIndexes[first] as number) + 1} with a different meter, quantity or time`);
          }
          continue;
        }
      }
    }
    outCredits[outTimes.length] = credits[i] as number;
    outTimes.push(times[i] as number);
  }
  rejected.sort((a, b) => a.row - b.row);
  const creditScale = Math.max(0, ...creditTexts.map((text) => (text.split('.')[1] ?? '').length));
  const creditUnits = creditTexts.map((text) => {
    const [whole, fraction = ''] = text.split('.');
    return BigInt(`${whole}${fraction.padEnd(creditScale, '0')}`);
  });
  return {
    times: outTimes,
    creditIds: outCredits.subarray(0, outTimes.length),
    creditTexts,
    creditUnits,
    creditScale,
    count: outTimes.length,
    accepted: outTimes.length,
    duplicates,
    rejected,
  };
}

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
