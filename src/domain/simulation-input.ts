// Usage rows of a simulation turned into arrays in arrival order: times, exact event sizes, duplicates.
import { Exact } from './decimal';
import { DomainError } from './errors';
import { EVENT_ID_PATTERN } from './events';
import { meterByKey, parseQuantity } from './meters';
import type { Terms } from './terms-schema';

/** One row of a usage file. */
export interface UsageRow {
  occurredAt: string;
  meter: string;
  quantity: string;
  eventId?: string;
}

/** A usage row the simulation did not accept, with its 1-based position in the input. */
export interface RejectedRow {
  row: number;
  eventId?: string;
  reason: string;
}

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
export function unitsToDecimal(units: bigint, scale: number): string {
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
export interface PreparedEvents {
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

export function prepareEvents(terms: Terms, rows: readonly UsageRow[], start: number, end: number): PreparedEvents {
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
