import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Writable } from 'node:stream';
import {
  admissionCharges,
  admitEvents,
  checkConservation,
  commitGrant,
  openPeriodAdmission,
  runSimulation,
  type PeriodStatement,
  type SimulationResult,
} from '../../src/domain';
import { runSimulate } from '../../src/cli/simulate';
import { workedExampleRows, workedExampleTerms } from './domain-fixtures';

// The worked example: growth tier (commit 50,000 credits at 0.20, platform fee 5,000.00,
// cap 25,000.00), overage at 0.26, 25% rollover for 90 days, agent_task events of 1,000
// credits each.
const expected = [
  { demand: '40000', carriedIn: '0', consumed: '40000', deferred: '0', overage: '0', rolledOver: '2500', forfeited: '7500', overageCharge: '0.00', total: '15000.00' },
  { demand: '60000', carriedIn: '0', consumed: '60000', deferred: '0', overage: '7500', rolledOver: '0', forfeited: '0', overageCharge: '1950.00', total: '16950.00' },
  { demand: '80000', carriedIn: '0', consumed: '80000', deferred: '0', overage: '30000', rolledOver: '0', forfeited: '0', overageCharge: '7800.00', total: '22800.00' },
  { demand: '90000', carriedIn: '0', consumed: '88000', deferred: '2000', overage: '38000', rolledOver: '0', forfeited: '0', overageCharge: '9880.00', total: '24880.00' },
  { demand: '85000', carriedIn: '2000', consumed: '87000', deferred: '0', overage: '37000', rolledOver: '0', forfeited: '0', overageCharge: '9620.00', total: '24620.00' },
  { demand: '30000', carriedIn: '0', consumed: '30000', deferred: '0', overage: '0', rolledOver: '5000', forfeited: '15000', overageCharge: '0.00', total: '15000.00' },
];

function assertTableRows(periods: readonly PeriodStatement[]): void {
  expected.forEach((row, index) => {
    const period = periods[index] as PeriodStatement;
    assert.equal(period.index, index);
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
}

test('worked example table', () => {
  const run = runSimulation(workedExampleTerms(), workedExampleRows());
  assertTableRows(run.result.periods);
});

test('worked example period bounds', () => {
  const { periods } = runSimulation(workedExampleTerms(), workedExampleRows()).result;
  assert.equal(periods[0]?.start, '2026-01-01T00:00:00.000Z');
  assert.equal(periods[0]?.end, '2026-02-01T00:00:00.000Z');
  assert.equal(periods[5]?.start, '2026-06-01T00:00:00.000Z');
  assert.equal(periods.length, 12);
});

test('worked example rollover expiry dates', () => {
  const run = runSimulation(workedExampleTerms(), workedExampleRows());
  const january = run.closes[0]?.newGrants.find((grant) => grant.kind === 'rollover');
  const june = run.closes[5]?.newGrants.find((grant) => grant.kind === 'rollover');
  assert.equal(january?.id, 'rollover-0');
  assert.equal(january?.credits, '2500');
  assert.equal(january?.validFrom, '2026-02-01T00:00:00.000Z');
  assert.equal(january?.expiresAt, '2026-05-02T00:00:00.000Z');
  assert.equal(june?.id, 'rollover-5');
  assert.equal(june?.credits, '5000');
  assert.equal(june?.expiresAt, '2026-09-29T00:00:00.000Z');
});

test('worked example February burns commit before rollover', () => {
  const run = runSimulation(workedExampleTerms(), workedExampleRows());
  const burns = run.closes[1]?.movements.filter((movement) => movement.kind === 'burn') ?? [];
  assert.deepEqual(
    burns.map((movement) => [movement.grantId, movement.credits]),
    [
      ['commit-1', '50000'],
      ['rollover-0', '2500'],
    ],
  );
});

test('worked example trigger fires at May close', () => {
  const { periods } = runSimulation(workedExampleTerms(), workedExampleRows()).result;
  assert.deepEqual(periods[1]?.trigger, { streak: 0, fired: false, respondBy: null });
  assert.deepEqual(periods[2]?.trigger, { streak: 1, fired: false, respondBy: null });
  assert.deepEqual(periods[3]?.trigger, { streak: 2, fired: false, respondBy: null });
  assert.deepEqual(periods[4]?.trigger, { streak: 3, fired: true, respondBy: '2026-07-01' });
  assert.deepEqual(periods[5]?.trigger, { streak: 0, fired: false, respondBy: null });
  assert.ok(periods[4]?.alerts.some((alert) => alert.key === 'simulation/4/renegotiation_trigger'));
});

test('worked example trigger alert lists the streak', () => {
  const run = runSimulation(workedExampleTerms(), workedExampleRows());
  const alert = run.closes[4]?.alerts.find((candidate) => candidate.kind === 'renegotiation_trigger');
  assert.deepEqual(alert?.recipients, ['dana@vendor.example']);
  assert.deepEqual(alert?.data.periods, ['2', '3', '4']);
  assert.deepEqual(alert?.data.demandCredits, ['80000', '90000', '85000']);
  assert.equal(alert?.data.respondBy, '2026-07-01');
});

test('worked example April throttles at the 89th event', () => {
  const { periods } = runSimulation(workedExampleTerms(), workedExampleRows()).result;
  const kinds = periods[3]?.alerts.map((alert) => alert.kind) ?? [];
  assert.ok(kinds.includes('throttled'));
  assert.ok(!(periods[4]?.alerts.map((alert) => alert.kind) ?? []).includes('throttled'));
});

test('worked example April defers from the 89th event', () => {
  // In April January's rollover is used up, so only April's 50,000-credit commit counts.
  const terms = workedExampleTerms();
  const state = openPeriodAdmission({
    contractId: 'c1',
    terms,
    periodIndex: 3,
    tier: 'growth',
    grants: [{ grant: commitGrant(terms, 3, '50000'), remaining: '50000' }],
    previousPeriodClosed: true,
  });
  const result = admitEvents(state, terms, [{ credits: '1000', count: 90, consumedAt: '2026-04-10T00:00:00Z' }]);
  assert.equal(result.admittedEvents, 88);
  assert.equal(result.deferredEvents, 2);
  assert.equal(result.becameThrottled, true);
  // 88 events: 5,000.00 + 10,000.00 + 38,000 x 0.26 = 24,880.00; the 89th would make it 25,140.00.
  assert.equal(admissionCharges(result.state, terms).charges.total.toFixed(2), '24880.00');
  const withOneMore = { ...result.state, throttled: false, segmentCredits: ['89000'] };
  assert.equal(admissionCharges(withOneMore, terms).charges.total.toFixed(2), '25140.00');
});

test('worked example invoices match charges', () => {
  const { result } = runSimulation(workedExampleTerms(), workedExampleRows());
  assert.equal(result.invoices[0]?.number, 'SIM-0001');
  assert.equal(result.invoices[3]?.number, 'SIM-0004');
  assert.equal(result.invoices[3]?.total, '24880.00');
  assert.deepEqual(
    result.invoices[3]?.lines.map((line) => [line.kind, line.quantity, line.unitPrice, line.amount]),
    [
      ['platform_fee', '1', '5000.00', '5000.00'],
      ['commit_fee', '50000', '0.20', '10000.00'],
      ['overage', '38000', '0.26', '9880.00'],
    ],
  );
  assert.equal(result.invoices[3]?.issuedAt, '2026-05-01T01:00:00.000Z');
});

test('worked example ledger conserves credits', () => {
  const run = runSimulation(workedExampleTerms(), workedExampleRows());
  assert.deepEqual(checkConservation(run.grants, run.movements), []);
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

test('simulate command reproduces the worked example', async () => {
  const examples = path.resolve(__dirname, '../../examples');
  const out = new Capture();
  const err = new Capture();
  const status = await runSimulate(
    ['--terms', path.join(examples, 'worked-example-terms.json'), '--usage', path.join(examples, 'worked-example-usage.csv'), '--format', 'json'],
    out,
    err,
  );
  assert.equal(status, 0, err.text);
  const result = JSON.parse(out.text) as SimulationResult;
  assert.equal(result.currency, 'USD');
  assertTableRows(result.periods);
  assert.deepEqual(result.periods[4]?.trigger, { streak: 3, fired: true, respondBy: '2026-07-01' });
  assert.equal(result.totals.unbilledDeferredCredits, '0');
});
