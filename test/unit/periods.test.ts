import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contractEnd, periodBounds, periodIndexAt, rolloverGrant, startOfLocalDate } from '../../src/domain';
import { workedExampleTerms } from './domain-fixtures';

const hours = (bounds: { start: Date; end: Date }) => (bounds.end.getTime() - bounds.start.getTime()) / 3_600_000;

test('contract starting 31 January clamps to month end', () => {
  const terms = { startDate: '2026-01-31', timeZone: 'UTC', termMonths: 4 };
  assert.equal(periodBounds(terms, 0).start.toISOString(), '2026-01-31T00:00:00.000Z');
  assert.equal(periodBounds(terms, 1).start.toISOString(), '2026-02-28T00:00:00.000Z');
  assert.equal(periodBounds(terms, 2).start.toISOString(), '2026-03-31T00:00:00.000Z');
  assert.equal(periodBounds(terms, 3).start.toISOString(), '2026-04-30T00:00:00.000Z');
  assert.equal(periodBounds(terms, 3).end.toISOString(), '2026-05-31T00:00:00.000Z');
});

test('leap year February starts on the 29th', () => {
  const terms = { startDate: '2028-01-31', timeZone: 'UTC', termMonths: 2 };
  assert.equal(periodBounds(terms, 1).start.toISOString(), '2028-02-29T00:00:00.000Z');
});

test('period across spring DST is 743 hours', () => {
  const terms = { startDate: '2026-03-01', timeZone: 'America/New_York', termMonths: 12 };
  const march = periodBounds(terms, 0);
  assert.equal(march.start.toISOString(), '2026-03-01T05:00:00.000Z');
  assert.equal(march.end.toISOString(), '2026-04-01T04:00:00.000Z');
  assert.equal(hours(march), 743);
});

test('period across autumn DST is 745 hours', () => {
  // Clocks fall back on 2026-11-01, inside the 31 days from 15 October to 15 November.
  const terms = { startDate: '2026-10-15', timeZone: 'America/New_York', termMonths: 2 };
  const period = periodBounds(terms, 0);
  assert.equal(period.start.toISOString(), '2026-10-15T04:00:00.000Z');
  assert.equal(period.end.toISOString(), '2026-11-15T05:00:00.000Z');
  assert.equal(hours(period), 745);
});

test('zone skipping midnight starts at first instant', () => {
  // Sao Paulo moved clocks from 00:00 to 01:00 on 2018-11-04.
  const start = startOfLocalDate({ year: 2018, month: 11, day: 4 }, 'America/Sao_Paulo');
  assert.equal(start.toISOString(), '2018-11-04T03:00:00.000Z');
  const terms = { startDate: '2018-10-04', timeZone: 'America/Sao_Paulo', termMonths: 2 };
  assert.equal(periodBounds(terms, 1).start.toISOString(), '2018-11-04T03:00:00.000Z');
  // The period ends at 01:00 local, after the skipped hour, so it still lasts 31 x 24 hours.
  assert.equal(hours(periodBounds(terms, 0)), 744);
});

test('periods are half open', () => {
  const terms = { startDate: '2026-01-01', timeZone: 'UTC', termMonths: 12 };
  assert.equal(periodIndexAt(terms, new Date('2026-01-31T23:59:59.999Z')), 0);
  assert.equal(periodIndexAt(terms, new Date('2026-02-01T00:00:00.000Z')), 1);
  assert.equal(periodIndexAt(terms, new Date('2025-12-31T23:59:59.999Z')), undefined);
  assert.equal(periodIndexAt(terms, new Date('2027-01-01T00:00:00.000Z')), undefined);
  assert.equal(periodIndexAt(terms, new Date('2026-12-31T23:59:59.999Z')), 11);
});

test('contract end is last period end', () => {
  assert.equal(contractEnd({ startDate: '2026-01-01', timeZone: 'UTC', termMonths: 12 }).toISOString(), '2027-01-01T00:00:00.000Z');
  assert.equal(contractEnd({ startDate: '2026-01-01', timeZone: 'Asia/Tokyo', termMonths: 1 }).toISOString(), '2026-01-31T15:00:00.000Z');
});

test('period outside term is rejected', () => {
  assert.throws(() => periodBounds({ startDate: '2026-01-01', timeZone: 'UTC', termMonths: 12 }, 12), /Period 12 is outside the term/);
});

test('rollover expires at local midnight 90 days after period end', () => {
  const terms = workedExampleTerms();
  assert.equal(rolloverGrant(terms, 0, '2500', 90).expiresAt, '2026-05-02T00:00:00.000Z');
  assert.equal(rolloverGrant(terms, 5, '5000', 90).expiresAt, '2026-09-29T00:00:00.000Z');
  const newYork = { ...terms, timeZone: 'America/New_York' };
  // Period 0 ends 2026-02-01 00:00 EST; 90 days later is 2026-05-02 00:00 EDT.
  assert.equal(rolloverGrant(newYork, 0, '1', 90).expiresAt, '2026-05-02T04:00:00.000Z');
});
