// The worked example played month by month through the live contract: API, PostgreSQL,
// the contract workflow on the time-skipping server. Its periods and invoices must equal
// the simulator's on the same usage and the values worked out by hand.
//
// The test server's clock starts at the real current time and cannot go back, so the
// example moves to start on the first day of next month (UTC) and each usage event keeps
// its offset within its month. The term stays 12 months and the test stops after six
// closes, so that June is not the final close: its unused commit credits roll over as in
// the hand-worked table instead of being forfeited.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import Decimal from 'decimal.js';
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
const DAY_MS = 86_400_000;
const PLAYED_PERIODS = 6;

let h: Harness;
let start: Date;
let contractId: string;
let simulation: SimulationRun;
let statements: PeriodStatement[];
let invoices: StoredInvoice[];
const answersByPeriod: string[][] = Array.from({ length: PLAYED_PERIODS }, () => []);

/** End of shifted period `index`: the first day of the month after it. */
function periodEnd(index: number): Date {
  return utcMonthStart(start, index + 1);
}

/** Index of the shifted period that contains `instant`. */
function periodIndexOf(instant: number): number {
  let index = 0;
  while (periodEnd(index).getTime() <= instant) index += 1;
  return index;
}

before(async () => {
  quietTemporalRuntime();
  h = await startHarness({ closeDelayMs: CLOSE_DELAY_MS });
  await h.startWorker();

  start = utcMonthStart(await h.env.currentTimeMs(), 1);
  const termsJson = { ...workedExampleTermsJson(), startDate: start.toISOString().slice(0, 10) };
  const rows = shiftRowsByMonth(workedExampleRows(), new Date('2026-01-01T00:00:00Z'), start);
  contractId = await signContract(h, termsJson);

  const statuses = await playUsage(h, contractId, rows, { start, periods: PLAYED_PERIODS, closeDelayMs: CLOSE_DELAY_MS });
  for (const row of rows) answersByPeriod[periodIndexOf(Date.parse(row.occurredAt))]!.push(statuses.get(row.eventId)!);

  simulation = runSimulation(parseTerms(termsJson), rows, { closeDelayMs: CLOSE_DELAY_MS, contractId });
  statements = await storedStatements(h.db, contractId);
  invoices = await storedInvoices(h.db, contractId);
});

after(async () => {
  await h?.close();
});

test('six periods closed by the workflow', () => {
  assert.equal(statements.length, PLAYED_PERIODS);
});

test('each stored statement equals the simulation', () => {
  for (let index = 0; index < PLAYED_PERIODS; index++) {
    const stored = statements[index]!;
    const simulated = simulation.result.periods[index]!;
    for (const field of [
      'index',
      'start',
      'end',
      'tier',
      'demandCredits',
      'carriedInCredits',
      'consumedCredits',
      'deferredCredits',
      'overageCredits',
      'rolledOverCredits',
      'forfeitedCredits',
      'expiredCredits',
      'lateCredits',
      'final',
    ] as const) {
      assert.equal(stored[field], simulated[field], `period ${index} ${field}`);
    }
    assert.deepEqual(stored.charges, simulated.charges, `period ${index} charges`);
    assert.deepEqual(stored.trigger, simulated.trigger, `period ${index} trigger`);
  }
});

test('each stored statement lists the simulated alerts', () => {
  for (let index = 0; index < PLAYED_PERIODS; index++) {
    const stored = statements[index]!.alerts.map((alert) => alert.key).sort();
    const simulated = simulation.result.periods[index]!.alerts.map((alert) => alert.key).sort();
    assert.deepEqual(stored, simulated, `period ${index} alert keys`);
  }
});

test('each period invoice equals the simulation', () => {
  const simulated = simulation.result.invoices.filter((invoice) => invoice.periodIndex! < PLAYED_PERIODS);
  assert.equal(invoices.length, PLAYED_PERIODS);
  assert.equal(simulated.length, PLAYED_PERIODS);
  invoices.forEach((invoice, position) => {
    const expected = simulated[position]!;
    assert.equal(invoice.kind, expected.kind, `invoice ${position} kind`);
    assert.equal(invoice.periodIndex, expected.periodIndex, `invoice ${position} period`);
    // The simulator issues at the close's due time; the workflow a few milliseconds later,
    // when its timer has fired and the close activity has started.
    const lateByMs = Date.parse(invoice.issuedAt) - Date.parse(expected.issuedAt);
    assert.ok(lateByMs >= 0, `invoice ${position} issued at ${invoice.issuedAt}, before its close was due (${expected.issuedAt})`);
    assert.ok(lateByMs < 60_000, `invoice ${position} issued at ${invoice.issuedAt}, over a minute after its close was due (${expected.issuedAt})`);
    assert.equal(invoice.total, expected.total, `invoice ${position} total`);
    assert.deepEqual(
      invoice.lines,
      expected.lines.map(({ kind, description, quantity, unitPrice, amount }) => ({ kind, description, quantity, unitPrice, amount })),
      `invoice ${position} lines`,
    );
  });
});

test('invoice numbers are sequential without gaps', () => {
  const numbers = invoices.map((invoice) => Number(invoice.number));
  for (let position = 1; position < numbers.length; position++) {
    assert.equal(numbers[position], numbers[0]! + position, `invoice ${position} number`);
  }
});

// The hand-worked table: growth tier, commit 50,000 credits at 0.20 (commit fee 10,000.00),
// platform fee 5,000.00, cap 25,000.00, overage 0.20 x 1.3 = 0.26 per credit, 1,000 credits
// an event.
const handWorked = [
  // January: 40 events = 40,000 credits, all commit. Unused 10,000: 25% = 2,500 roll over,
  // 7,500 forfeited. Charges 5,000.00 + 10,000.00 = 15,000.00.
  { demand: '40000', carriedIn: '0', consumed: '40000', deferred: '0', overage: '0', rolledOver: '2500', forfeited: '7500', overageCharge: '0.00', total: '15000.00' },
  // February: 60,000 credits; commit 50,000 then January's rollover 2,500 burn, 7,500 overage
  // x 0.26 = 1,950.00. Charges 15,000.00 + 1,950.00 = 16,950.00.
  { demand: '60000', carriedIn: '0', consumed: '60000', deferred: '0', overage: '7500', rolledOver: '0', forfeited: '0', overageCharge: '1950.00', total: '16950.00' },
  // March: 80,000 credits, 30,000 overage x 0.26 = 7,800.00; 22,800.00.
  { demand: '80000', carriedIn: '0', consumed: '80000', deferred: '0', overage: '30000', rolledOver: '0', forfeited: '0', overageCharge: '7800.00', total: '22800.00' },
  // April: the 89th event would cost 15,000.00 + 39,000 x 0.26 = 25,140.00 > 25,000.00, so
  // events 89 and 90 (2,000 credits) are deferred: 88,000 consumed, 38,000 overage x 0.26 =
  // 9,880.00; 24,880.00.
  { demand: '90000', carriedIn: '0', consumed: '88000', deferred: '2000', overage: '38000', rolledOver: '0', forfeited: '0', overageCharge: '9880.00', total: '24880.00' },
  // May: April's 2,000 carried in first, then 85,000: 87,000 consumed, 37,000 overage x 0.26
  // = 9,620.00; 24,620.00.
  { demand: '85000', carriedIn: '2000', consumed: '87000', deferred: '0', overage: '37000', rolledOver: '0', forfeited: '0', overageCharge: '9620.00', total: '24620.00' },
  // June: 30,000 credits; unused 20,000: 5,000 roll over, 15,000 forfeited; 15,000.00.
  { demand: '30000', carriedIn: '0', consumed: '30000', deferred: '0', overage: '0', rolledOver: '5000', forfeited: '15000', overageCharge: '0.00', total: '15000.00' },
];

test('statements match the hand-worked table', () => {
  handWorked.forEach((row, index) => {
    const period = statements[index]!;
    assert.equal(period.tier, 'growth', `period ${index} tier`);
    assert.equal(period.demandCredits, row.demand, `period ${index} demand`);
    assert.equal(period.carriedInCredits, row.carriedIn, `period ${index} carried in`);
    assert.equal(period.consumedCredits, row.consumed, `period ${index} consumed`);
    assert.equal(period.deferredCredits, row.deferred, `period ${index} deferred`);
    assert.equal(period.overageCredits, row.overage, `period ${index} overage`);
    assert.equal(period.rolledOverCredits, row.rolledOver, `period ${index} rolled over`);
    assert.equal(period.forfeitedCredits, row.forfeited, `period ${index} forfeited`);
    assert.equal(period.expiredCredits, '0', `period ${index} expired`);
    assert.equal(period.charges.platformFee, '5000.00', `period ${index} platform fee`);
    assert.equal(period.charges.commitFee, '10000.00', `period ${index} commit fee`);
    assert.equal(period.charges.overage, row.overageCharge, `period ${index} overage charge`);
    assert.equal(period.charges.total, row.total, `period ${index} total`);
  });
});

test('invoice totals match the hand-worked table', () => {
  assert.deepEqual(
    invoices.map((invoice) => invoice.total),
    handWorked.map((row) => row.total),
  );
});

test('April invoice bills the overage at 0.26', () => {
  const april = invoices[3]!;
  assert.deepEqual(
    april.lines.map((line) => [line.kind, line.quantity, line.unitPrice, line.amount]),
    [
      ['platform_fee', '1', '5000.00', '5000.00'],
      ['commit_fee', '50000', '0.20', '10000.00'],
      // 38,000 credits x 0.26 = 9,880.00.
      ['overage', '38000', '0.26', '9880.00'],
    ],
  );
});

test('April invoice issued at its close', () => {
  // The close is due at April's end plus the 1-hour close delay; it runs within a minute.
  const due = periodEnd(3).getTime() + CLOSE_DELAY_MS;
  const issuedAt = Date.parse(invoices[3]!.issuedAt);
  assert.ok(issuedAt >= due, `issued at ${invoices[3]!.issuedAt}`);
  assert.ok(issuedAt < due + 60_000, `issued at ${invoices[3]!.issuedAt}`);
});

test('April defers its last two events', () => {
  const april = answersByPeriod[3]!;
  assert.equal(april.length, 90);
  assert.equal(april.filter((status) => status === 'accepted').length, 88);
  assert.deepEqual(april.slice(88), ['deferred', 'deferred']);
});

test('every other month accepts all its events', () => {
  for (const index of [0, 1, 2, 4, 5]) {
    const answers = answersByPeriod[index]!;
    assert.ok(answers.length > 0, `period ${index} has events`);
    assert.ok(
      answers.every((status) => status === 'accepted'),
      `period ${index} answers: ${[...new Set(answers)].join(', ')}`,
    );
  }
});

test('trigger streak counts March to May', () => {
  // Threshold 150% x 50,000 = 75,000 credits: March (80,000), April (90,000) and May (85,000) count.
  assert.deepEqual(statements[0]!.trigger, { streak: 0, fired: false, respondBy: null });
  assert.deepEqual(statements[1]!.trigger, { streak: 0, fired: false, respondBy: null });
  assert.deepEqual(statements[2]!.trigger, { streak: 1, fired: false, respondBy: null });
  assert.deepEqual(statements[3]!.trigger, { streak: 2, fired: false, respondBy: null });
  assert.equal(statements[5]!.trigger.streak, 0);
  assert.equal(statements[5]!.trigger.fired, false);
});

test('trigger fires at May close', () => {
  const may = statements[4]!.trigger;
  assert.equal(may.streak, 3);
  assert.equal(may.fired, true);
  // Respond by May's end plus 30 days.
  assert.equal(may.respondBy, new Date(periodEnd(4).getTime() + 30 * DAY_MS).toISOString().slice(0, 10));
});

test('trigger alert goes to the account manager once', async () => {
  const alerts = await h.db
    .selectFrom('alerts')
    .select(['period_index', 'recipients', 'data'])
    .where('contract_id', '=', contractId)
    .where('kind', '=', 'renegotiation_trigger')
    .execute();
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.period_index, 4);
  assert.deepEqual(alerts[0]!.recipients, ['dana@vendor.example']);
  assert.deepEqual(alerts[0]!.data.demandCredits, ['80000', '90000', '85000']);
});

/** Sums credits per period, grant and movement kind, leaving out issues; keys sort as `period grant kind`. */
function movementTotals(movements: readonly { periodIndex: number; grantId: string; kind: string; credits: string }[]): Map<string, string> {
  const totals = new Map<string, Decimal>();
  for (const movement of movements) {
    if (movement.kind === 'issue' || movement.periodIndex >= PLAYED_PERIODS) continue;
    const key = `${movement.periodIndex} ${movement.grantId} ${movement.kind}`;
    totals.set(key, (totals.get(key) ?? new Decimal(0)).plus(movement.credits));
  }
  return new Map([...totals].sort(([a], [b]) => a.localeCompare(b)).map(([key, total]) => [key, total.toFixed()]));
}

test('ledger movements equal the simulation', async () => {
  // The close burns a grant once per segment: May's commit burns 5,000 credits (April's 2,000
  // carried in and three events) before January's rollover expires on May 2, then 45,000.
  const rows = await h.db
    .selectFrom('ledger_movements')
    .select(['grant_id', 'kind', 'credits', 'period_index'])
    .where('contract_id', '=', contractId)
    .execute();
  const stored = movementTotals(rows.map((row) => ({ periodIndex: row.period_index, grantId: row.grant_id, kind: row.kind, credits: row.credits })));
  assert.deepEqual(stored, movementTotals(simulation.movements));
  assert.equal(stored.get('4 commit-4 burn'), '50000');
});

test('grants equal the simulation', async () => {
  const rows = await h.db
    .selectFrom('grants')
    .select(['grant_id', 'kind', 'credits', 'valid_from', 'expires_at'])
    .where('contract_id', '=', contractId)
    .orderBy('grant_id')
    .execute();
  const stored = rows.map((row) => [row.grant_id, row.kind, row.credits, row.valid_from.toISOString(), row.expires_at.toISOString()]);
  const simulated = simulation.grants
    .map((balance) => balance.grant)
    .filter((grant) => rows.some((row) => row.grant_id === grant.id))
    .map((grant) => [grant.id, grant.kind, grant.credits, grant.validFrom, grant.expiresAt])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  assert.deepEqual(stored, simulated);
});
