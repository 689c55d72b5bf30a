import { DateTime } from 'luxon';
import type { Terms } from './terms-schema';

/** Bounds of one billing period: `[start, end)`, instants. */
export interface PeriodBounds {
  index: number;
  start: Date;
  end: Date;
}

interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

function dateOrdinal(date: CalendarDate): number {
  return date.year * 10000 + date.month * 100 + date.day;
}

function parseCalendarDate(text: string): CalendarDate {
  const [year, month, day] = text.split('-').map(Number);
  if (year === undefined || month === undefined || day === undefined || Number.isNaN(year + month + day)) {
    throw new RangeError(`Invalid calendar date "${text}": expected YYYY-MM-DD.`);
  }
  return { year, month, day };
}

/**
 * Returns the first instant of a calendar date in a zone: local midnight, or, where the
 * zone skips midnight on that date, the first local time that exists (for example 01:00
 * on a day that starts with a daylight-saving jump). A date the zone skips entirely
 * starts at the first instant of the next date that exists.
 */
export function startOfLocalDate(date: CalendarDate, zone: string): Date {
  const candidate = DateTime.fromObject({ ...date, hour: 0, minute: 0, second: 0, millisecond: 0 }, { zone });
  if (!candidate.isValid) {
    throw new RangeError(`Invalid date ${date.year}-${date.month}-${date.day} in zone ${zone}: ${candidate.invalidReason ?? 'unknown reason'}.`);
  }
  const target = dateOrdinal(date);
  const localOrdinal = (millis: number): number => {
    const local = DateTime.fromMillis(millis, { zone });
    return dateOrdinal({ year: local.year, month: local.month, day: local.day });
  };
  const candidateMillis = candidate.toMillis();
  if (candidate.hour === 0 && candidate.minute === 0 && candidate.second === 0 && dateOrdinal(candidate) === target) {
    return new Date(candidateMillis);
  }
  // Luxon moved the nonexistent midnight forward by the gap; search the instant where the date begins.
  let low = candidateMillis - 48 * 3_600_000;
  let high = candidateMillis;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (localOrdinal(middle) >= target) high = middle;
    else low = middle;
  }
  return new Date(high);
}

/** Returns the local calendar date `months` after `date`, the day clamped to the month's last day. */
function addMonthsClamped(date: CalendarDate, months: number): CalendarDate {
  const shifted = DateTime.fromObject({ year: date.year, month: date.month, day: 1 }, { zone: 'UTC' }).plus({ months });
  const day = Math.min(date.day, shifted.daysInMonth ?? 28);
  return { year: shifted.year, month: shifted.month, day };
}

/** Returns the local calendar date `days` after `date`. */
function addDays(date: CalendarDate, days: number): CalendarDate {
  const shifted = DateTime.fromObject(date, { zone: 'UTC' }).plus({ days });
  return { year: shifted.year, month: shifted.month, day: shifted.day };
}

/** Returns the calendar date of an instant in a zone. */
export function localDateOf(instant: Date, zone: string): CalendarDate {
  const local = DateTime.fromMillis(instant.getTime(), { zone });
  return { year: local.year, month: local.month, day: local.day };
}

/** Formats a calendar date as `YYYY-MM-DD`. */
export function formatCalendarDate(date: CalendarDate): string {
  return `${String(date.year).padStart(4, '0')}-${String(date.month).padStart(2, '0')}-${String(date.day).padStart(2, '0')}`;
}

/**
 * Returns the start of local date `date + months` (day clamped to the month's end):
 * the expiry of a prepaid block and the start of a period.
 */
export function startOfDateAfterMonths(date: string, months: number, zone: string): Date {
  return startOfLocalDate(addMonthsClamped(parseCalendarDate(date), months), zone);
}

/**
 * Returns the start of the local date `days` after the local date of `instant`, the
 * expiry of a rollover grant issued at a period's end and a respond-by deadline.
 */
export function startOfDateAfterDays(instant: Date, days: number, zone: string): Date {
  return startOfLocalDate(addDays(localDateOf(instant, zone), days), zone);
}

/** Returns the local date `days` after the local date of `instant`, as `YYYY-MM-DD`. */
export function localDateAfterDays(instant: Date, days: number, zone: string): string {
  return formatCalendarDate(addDays(localDateOf(instant, zone), days));
}

type PeriodTerms = Pick<Terms, 'startDate' | 'timeZone' | 'termMonths'>;

const scheduleCache = new Map<string, readonly PeriodBounds[]>();

/**
 * Returns every period of the contract. Period `k` starts at the first instant of local
 * date `startDate + k months` in `timeZone` (the day clamped to the month's end) and
 * ends where period `k + 1` starts, so a period across a daylight-saving change is an
 * hour shorter or longer. The result is cached per start date, zone and term.
 */
export function periodSchedule(terms: PeriodTerms): readonly PeriodBounds[] {
  const key = `${terms.startDate}|${terms.timeZone}|${terms.termMonths}`;
  const cached = scheduleCache.get(key);
  if (cached !== undefined) return cached;

  const startDate = parseCalendarDate(terms.startDate);
  const starts: Date[] = [];
  for (let k = 0; k <= terms.termMonths; k++) {
    starts.push(startOfLocalDate(addMonthsClamped(startDate, k), terms.timeZone));
  }
  const schedule: PeriodBounds[] = [];
  for (let k = 0; k < terms.termMonths; k++) {
    schedule.push(Object.freeze({ index: k, start: starts[k] as Date, end: starts[k + 1] as Date }));
  }
  const frozen = Object.freeze(schedule);
  if (scheduleCache.size > 1000) scheduleCache.clear();
  scheduleCache.set(key, frozen);
  return frozen;
}

/** Returns the bounds of period `index` (0-based); throws a RangeError outside the term. */
export function periodBounds(terms: PeriodTerms, index: number): PeriodBounds {
  const period = periodSchedule(terms)[index];
  if (period === undefined || !Number.isInteger(index)) {
    throw new RangeError(`Period ${index} is outside the term: expected an integer from 0 to ${terms.termMonths - 1}.`);
  }
  return { index: period.index, start: new Date(period.start), end: new Date(period.end) };
}

/** Returns the index of the period containing `instant` (periods are half-open), or undefined outside the term. */
export function periodIndexAt(terms: PeriodTerms, instant: Date): number | undefined {
  const schedule = periodSchedule(terms);
  const time = instant.getTime();
  let low = 0;
  let high = schedule.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const period = schedule[middle] as PeriodBounds;
    if (time < period.start.getTime()) high = middle - 1;
    else if (time >= period.end.getTime()) low = middle + 1;
    else return middle;
  }
  return undefined;
}

/** Returns the instant the contract's term ends: the end of its last period. */
export function contractEnd(terms: PeriodTerms): Date {
  const schedule = periodSchedule(terms);
  return new Date((schedule[schedule.length - 1] as PeriodBounds).end);
}

/** Returns the instant the contract's term starts: the start of period 0. */
export function contractStart(terms: PeriodTerms): Date {
  return new Date((periodSchedule(terms)[0] as PeriodBounds).start);
}
