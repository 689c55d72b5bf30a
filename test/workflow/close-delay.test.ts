// Usage of a new period that arrives during the previous period's close delay: admission
// counts it before that close runs, without the rollover grant the close will issue, and
// the close then burns exactly. The live contract must still agree with the simulator,
// which models the same close delay.
//
// The worked example moved to start next month, with the first three events of each month
// from February on moved to 10, 20 and 30 minutes after the month's start, inside the
// previous period's 1-hour close delay. Each event stays in its month, so the hand-worked
// table stays the same.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTerms, runSimulation, type PeriodStatement, type SimulationRun } from '../../src/domain';
import { quietTemporalRuntime } from '../support/quiet-runtime';
import { startHarness, type Harness } from '../support/harness';
import {
  playUsage,
  shiftRowsByMonth,
  signContract,
  storedInvoices,
  storedStatements,
  utcMonthStart,
  workedExampleRows,
  workedExampleTermsJson,
  type StoredInvoice,
} from './support';

const CLOSE_DELAY_MS = 3_600_000;
const MINUTE_MS = 60_000;
const PLAYED_PERIODS = 6;

let h: Harness;
let contractId: string;
let movedEventIds: string[];
let arrivals: Map<string, { periodIndex: number; arrivedAt: Date; late: boolean }>;
let simulation: SimulationRun;
let statements: PeriodStatement[];
let invoices: StoredInvoice[];

before(async () => {
  quietTemporalRuntime();
  h = await startHarness({ closeDelayMs: CLOSE_DELAY_MS });
  await h.startWorker();

  const start = utcMonthStart(await h.env.currentTimeMs(), 1);
  const termsJson = { ...workedExampleTermsJson(), startDate: start.toISOString().slice(0, 10) };
  const shifted = shiftRowsByMonth(workedExampleRows(), new Date('2026-01-01T00:00:00Z'), start);
  const seenPerMonth = new Map<number, number>();
  movedEventIds = [];
  const rows = shifted.map((row) => {
    const at = Date.parse(row.occurredAt);
    let month = 0;
    while (utcMonthStart(start, month + 1).getTime() <= at) month += 1;
    const position = seenPerMonth.get(month) ?? 0;
    seenPerMonth.set(month, position + 1);
    if (month === 0 || position >= 3) return row;
    movedEventIds.push(row.eventId);
    return { ...row, occurredAt: new Date(utcMonthStart(start, month).getTime() + (position + 1) * 10 * MINUTE_MS).toISOString() };
  });
  rows.sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt));

  contractId = await signContract(h, termsJson);
  await playUsage(h, contractId, rows, { start, periods: PLAYED_PERIODS, closeDelayMs: CLOSE_DELAY_MS });

  simulation = runSimulation(parseTerms(termsJson), rows, { closeDelayMs: CLOSE_DELAY_MS, contractId });
  statements = await storedStatements(h.db, contractId);
  invoices = await storedInvoices(h.db, contractId);
  const events = await h.db
    .selectFrom('usage_events')
    .select(['event_id', 'period_index', 'arrived_at', 'late'])
    .where('contract_id', '=', contractId)
    .where('event_id', 'in', movedEventIds)
    .execute();
  arrivals = new Map(events.map((event) => [event.event_id, { periodIndex: event.period_index, arrivedAt: event.arrived_at, late: event.late }]));
});

after(async () => {
  await h?.close();
});

test('fifteen events arrive during a close delay', () => {
  // Three events in each of February to June.
  assert.equal(movedEventIds.length, 15);
  assert.equal(arrivals.size, 15);
});

test('close-delay events arrive before the close', async () => {
  const periods = await h.db
    .selectFrom('periods')
    .select(['period_index', 'closed_at'])
    .where('contract_id', '=', contractId)
    .where('status', '=', 'closed')
    .execute();
  const closedAt = new Map(periods.map((period) => [period.period_index, period.closed_at!.getTime()]));
  for (const eventId of movedEventIds) {
    const arrival = arrivals.get(eventId)!;
    const previousClose = closedAt.get(arrival.periodIndex - 1)!;
    assert.ok(arrival.arrivedAt.getTime() < previousClose, `${eventId} arrived at ${arrival.arrivedAt.toISOString()}, after the close of period ${arrival.periodIndex - 1}`);
    assert.equal(arrival.late, false, `${eventId} late`);
  }
});

test('stored statements equal the simulation', () => {
  assert.equal(statements.length, PLAYED_PERIODS);
  for (let index = 0; index < PLAYED_PERIODS; index++) {
    const { alerts: storedAlerts, ...stored } = statements[index]!;
    const { alerts: simulatedAlerts, ...simulated } = simulation.result.periods[index]!;
    assert.deepEqual(stored, simulated, `period ${index}`);
    assert.deepEqual(
      storedAlerts.map((alert) => alert.key).sort(),
      simulatedAlerts.map((alert) => alert.key).sort(),
      `period ${index} alert keys`,
    );
  }
});

test('invoice totals keep the hand-worked values', () => {
  // The same table as without the move: each event stays in its month.
  assert.deepEqual(
    invoices.map((invoice) => invoice.total),
    ['15000.00', '16950.00', '22800.00', '24880.00', '24620.00', '15000.00'],
  );
});

test('February burns the rollover after the commit', () => {
  // February's first events arrive before January's close issues its 2,500 rollover
  // credits; the close still burns commit 50,000, then rollover 2,500, then 7,500 overage.
  const february = statements[1]!;
  assert.equal(february.consumedCredits, '60000');
  assert.equal(february.overageCredits, '7500');
});

test('May carries in April deferral after early events', () => {
  // May's first 3,000 credits are admitted before April's close carries in its 2,000
  // deferred credits: 87,000 consumed, 37,000 overage x 0.26 = 9,620.00.
  const may = statements[4]!;
  assert.equal(may.carriedInCredits, '2000');
  assert.equal(may.consumedCredits, '87000');
  assert.equal(may.deferredCredits, '0');
  assert.equal(may.charges.overage, '9620.00');
});
