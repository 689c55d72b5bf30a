import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  admitEvent,
  applyGrantBalances,
  closePeriod,
  contractStartGrants,
  initialTriggerState,
  openPeriodAdmission,
  periodBounds,
  simulate,
} from '../../src/domain';
import { referenceDeal, smallTerms } from './domain-fixtures';

test('zone skipping a whole date starts next date', () => {
  // Samoa skipped 2011-12-30; the period starts at 2011-12-31 00:00 local (+14:00).
  const terms = { startDate: '2011-11-30', timeZone: 'Pacific/Apia', termMonths: 2 };
  assert.equal(periodBounds(terms, 1).start.toISOString(), '2011-12-30T10:00:00.000Z');
});

test('prepaid invoice comes first at the same instant', () => {
  const result = simulate(referenceDeal(), []);
  assert.equal(result.invoices[0]?.number, 'SIM-0001');
  assert.equal(result.invoices[0]?.kind, 'prepaid');
  assert.equal(result.invoices[0]?.issuedAt, '2026-01-01T00:00:00.000Z');
  assert.equal(result.invoices[0]?.total, '20400.00');
  assert.equal(result.invoices[1]?.kind, 'period');
  assert.equal(result.invoices.length, 13);
});

test('fully used commit issues no rollover grant', () => {
  const terms = smallTerms((json) => (json.rollover = { fraction: '0.5', expiresAfterDays: 30 }));
  const grants = contractStartGrants(terms).map((grant) => ({ grant, remaining: grant.credits }));
  const result = closePeriod({
    contractId: 'c1',
    terms,
    periodIndex: 0,
    tier: 'small',
    grants,
    admitted: [{ credits: '100', consumedAt: '2026-01-05T00:00:00Z' }],
    deferred: [],
    trigger: initialTriggerState(),
    accruedOverage: [],
    final: false,
  });
  assert.equal(result.statement.rolledOverCredits, '0');
  assert.deepEqual(result.newGrants.map((grant) => grant.id), ['commit-1']);
});

test('automatic upgrade persists into later periods', () => {
  const terms = smallTerms((json) => (json.capPolicy = 'upgrade'));
  const result = simulate(terms, [
    { occurredAt: '2026-01-05T00:00:00Z', meter: 'unit', quantity: '120' },
    { occurredAt: '2026-01-06T00:00:00Z', meter: 'unit', quantity: '40' },
  ]);
  assert.equal(result.periods[0]?.tier, 'big');
  assert.equal(result.periods[1]?.tier, 'big');
  assert.equal(result.periods[1]?.charges.commitFee, '270.00');
});

test('spend cap basis never counts without a cap', () => {
  const terms = smallTerms((json) => {
    delete json.tiers[0].spendCap;
    json.renegotiation = { basis: 'spendCap', thresholdPercent: '100', consecutivePeriods: 1, responseDays: 10 };
  });
  const result = simulate(terms, [{ occurredAt: '2026-01-05T00:00:00Z', meter: 'unit', quantity: '100000' }]);
  assert.equal(result.periods[0]?.trigger.fired, false);
});

test('zero commit raises no usage thresholds', () => {
  const terms = smallTerms((json) => {
    json.tiers = [{ name: 'small', commitCredits: '0', pricePerCredit: '1.00', platformFee: '10.00' }];
    json.alerts = { usagePercentOfCommit: ['80'] };
  });
  const result = simulate(terms, [{ occurredAt: '2026-01-05T00:00:00Z', meter: 'unit', quantity: '5' }]);
  assert.deepEqual(result.periods[0]?.alerts, []);
});

test('adjustment boundary keeps earlier usage before it', () => {
  const terms = smallTerms();
  const grants = contractStartGrants(terms).map((grant) => ({ grant, remaining: grant.credits }));
  const state = openPeriodAdmission({ contractId: 'c1', terms, periodIndex: 0, tier: 'small', grants, previousPeriodClosed: true });
  const used = admitEvent(state, terms, { eventId: 'e1', credits: '140', occurredAt: '2026-01-05T00:00:00Z', arrivedAt: '2026-01-05T00:00:00Z', consumedAt: '2026-01-05T00:00:00Z', late: false }).state;
  const adjustment = {
    grant: { id: 'goodwill-1', kind: 'adjustment' as const, credits: '50', validFrom: '2026-01-10T00:00:00.000Z', expiresAt: '2026-01-20T00:00:00.000Z', reason: 'outage credit' },
    remaining: '50',
  };
  const adjusted = applyGrantBalances(used, [...grants, adjustment]);
  assert.deepEqual(adjusted.segmentStarts, ['2026-01-01T00:00:00.000Z', '2026-01-10T00:00:00.000Z', '2026-01-20T00:00:00.000Z']);
  assert.deepEqual(adjusted.segmentCredits, ['140', '0', '0']);
  // 40 more credits in the adjustment's window burn it: 140 + 40 costs 100.00 + 40.00.
  const next = admitEvent(adjusted, terms, { eventId: 'e2', credits: '40', occurredAt: '2026-01-12T00:00:00Z', arrivedAt: '2026-01-12T00:00:00Z', consumedAt: '2026-01-12T00:00:00Z', late: false });
  assert.equal(next.status, 'admitted');
});
