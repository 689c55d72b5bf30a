import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  admitCarriedIn,
  admitEvent,
  admitEvents,
  applyGrantBalances,
  contractStartGrants,
  openPeriodAdmission,
  rolloverGrant,
  commitGrant,
  simulate,
  upgradeAdmission,
  type PeriodAdmissionState,
  type Terms,
} from '../../src/domain';
import { smallTerms, workedExampleTerms } from './domain-fixtures';

function open(terms: Terms, periodIndex = 0, previousPeriodClosed = true): PeriodAdmissionState {
  return openPeriodAdmission({
    contractId: 'c1',
    terms,
    periodIndex,
    tier: terms.initialTier,
    grants: contractStartGrants(terms).map((grant) => ({ grant, remaining: grant.credits })),
    previousPeriodClosed,
  });
}

function event(credits: string, at: string, eventId = `e-${at}`) {
  return { eventId, credits, occurredAt: at, arrivedAt: at, consumedAt: at, late: false };
}

test('event fits while charges stay under cap', () => {
  // small tier: commit 100 at 1.00, cap 150.00, overage at 1.00: 150 credits fit exactly.
  const terms = smallTerms();
  const first = admitEvent(open(terms), terms, event('150', '2026-01-02T00:00:00Z'));
  assert.equal(first.status, 'admitted');
  const second = admitEvent(first.state, terms, event('0.01', '2026-01-03T00:00:00Z'));
  assert.equal(second.status, 'deferred');
  assert.equal(second.nextPeriodStart, '2026-02-01T00:00:00.000Z');
});

test('throttle defers a smaller later event too', () => {
  const terms = smallTerms();
  const big = admitEvent(open(terms), terms, event('120', '2026-01-02T00:00:00Z'));
  assert.equal(big.status, 'admitted');
  // 120 + 40 would cost 160.00 > 150.00.
  const misfit = admitEvent(big.state, terms, event('40', '2026-01-03T00:00:00Z'));
  assert.equal(misfit.status, 'deferred');
  assert.equal(misfit.becameThrottled, true);
  assert.deepEqual(misfit.alerts.map((alert) => alert.key), ['c1/0/throttled']);
  // 120 + 5 would fit, but the period is throttled.
  const small = admitEvent(misfit.state, terms, event('5', '2026-01-04T00:00:00Z'));
  assert.equal(small.status, 'deferred');
  assert.equal(small.becameThrottled, false);
  assert.deepEqual(small.alerts, []);
  assert.equal(small.state.admittedCredits, '120');
  assert.equal(small.state.deferredCredits, '45');
  assert.equal(small.state.demandCredits, '165');
});

test('upgrade picks the lowest tier that fits', () => {
  const terms = smallTerms((json) => {
    json.capPolicy = 'upgrade';
    json.tiers.push({ name: 'huge', commitCredits: '1000', pricePerCredit: '0.50', platformFee: '0.00', spendCap: '2000.00' });
  });
  const first = admitEvent(open(terms), terms, event('120', '2026-01-02T00:00:00Z'));
  const upgraded = admitEvent(first.state, terms, event('40', '2026-01-03T00:00:00Z'));
  assert.equal(upgraded.status, 'admitted');
  assert.deepEqual(upgraded.tierChange, { from: 'small', to: 'big' });
  assert.equal(upgraded.state.tier, 'big');
  assert.equal(upgraded.state.grants.find((grant) => grant.id === 'commit-0')?.remaining, '300');
  assert.ok(upgraded.alerts.some((alert) => alert.key === 'c1/0/tier_upgraded/big'));
  assert.equal(upgraded.becameThrottled, false);
});

test('upgrade without a fitting tier throttles', () => {
  const terms = smallTerms((json) => (json.capPolicy = 'upgrade'));
  // big tier: commit 300 at 0.90 (270.00), cap 400.00, so at most 300 + 144 credits fit there.
  const result = admitEvent(open(terms), terms, event('500', '2026-01-02T00:00:00Z'));
  assert.equal(result.status, 'deferred');
  assert.equal(result.state.tier, 'small');
  assert.equal(result.becameThrottled, true);
});

test('tier without a cap admits everything', () => {
  const terms = smallTerms((json) => delete json.tiers[0].spendCap);
  const result = admitEvent(open(terms), terms, event('1000000', '2026-01-02T00:00:00Z'));
  assert.equal(result.status, 'admitted');
});

test('batch admits a leading run of events', () => {
  const terms = smallTerms();
  const result = admitEvents(open(terms), terms, [
    { credits: '10', count: 14, consumedAt: '2026-01-02T00:00:00Z' },
    { credits: '7', count: 3, consumedAt: '2026-01-02T00:00:00Z' },
  ]);
  // 14 x 10 = 140 fits; one 7 more would be 147; a second 154 > 150.
  assert.equal(result.admittedEvents, 15);
  assert.equal(result.deferredEvents, 2);
  assert.equal(result.state.admittedCredits, '147');
  assert.equal(result.state.deferredCredits, '14');
});

test('batch and single events agree', () => {
  const terms = smallTerms();
  let single = open(terms);
  const statuses: string[] = [];
  for (let i = 0; i < 20; i++) {
    const result = admitEvent(single, terms, event('9.5', `2026-01-02T00:00:${String(i).padStart(2, '0')}Z`));
    statuses.push(result.status);
    single = result.state;
  }
  const batch = admitEvents(open(terms), terms, [{ credits: '9.5', count: 20, consumedAt: '2026-01-02T00:00:00Z' }]);
  assert.equal(statuses.filter((status) => status === 'admitted').length, batch.admittedEvents);
  assert.equal(single.admittedCredits, batch.state.admittedCredits);
  assert.equal(batch.admittedEvents, 15);
});

test('admission state survives a JSON round trip', () => {
  const terms = smallTerms();
  const result = admitEvent(open(terms), terms, event('120', '2026-01-02T00:00:00Z'));
  const copy = JSON.parse(JSON.stringify(result.state)) as PeriodAdmissionState;
  assert.deepEqual(copy, result.state);
  assert.equal(admitEvent(copy, terms, event('40', '2026-01-03T00:00:00Z')).status, 'deferred');
});

test('close delay leaves the pending rollover out', () => {
  const terms = smallTerms((json) => (json.rollover = { fraction: '1', expiresAfterDays: 10 }));
  const previous = rolloverGrant(terms, 0, '50', 10);
  const grants = [
    { grant: commitGrant(terms, 1, '100'), remaining: '100' },
    { grant: previous, remaining: '50' },
  ];
  const during = openPeriodAdmission({ contractId: 'c1', terms, periodIndex: 1, tier: 'small', grants, previousPeriodClosed: false });
  assert.deepEqual(during.grants.map((grant) => grant.id), ['commit-1']);
  // The rollover's expiry on 11 February is already a segment boundary.
  assert.deepEqual(during.segmentStarts, ['2026-02-01T00:00:00.000Z', '2026-02-11T00:00:00.000Z']);
  // 190 credits cost 100.00 + 90.00 without the rollover: deferred.
  const inDelay = admitEvent(during, terms, event('190', '2026-02-01T00:30:00Z'));
  assert.equal(inDelay.status, 'deferred');

  const after = applyGrantBalances(during, grants);
  assert.deepEqual(after.grants.map((grant) => grant.id), ['commit-1', 'rollover-0']);
  assert.equal(after.previousPeriodClosed, true);
  assert.deepEqual(after.segmentStarts, during.segmentStarts);
  // With the rollover counted, 190 credits cost 100.00 + 40.00.
  assert.equal(admitEvent(after, terms, event('190', '2026-02-01T02:00:00Z')).status, 'admitted');
});

test('carried-in usage fits first in original order', () => {
  const terms = smallTerms();
  const state = open(terms, 1);
  const withEvent = admitEvent(state, terms, event('100', '2026-02-01T00:10:00Z')).state;
  const result = admitCarriedIn(withEvent, terms, [
    { credits: '30', occurredAt: '2026-01-30T00:00:00.000Z' },
    { credits: '10', count: 3, occurredAt: '2026-01-31T00:00:00.000Z' },
    { credits: '1', occurredAt: '2026-01-31T01:00:00.000Z' },
  ]);
  // 100 + 30 + 10 + 10 = 150 fits; the third 10 does not, and everything after is deferred again.
  assert.deepEqual(result.admitted, [
    { credits: '30', occurredAt: '2026-01-30T00:00:00.000Z' },
    { credits: '10', count: 2, occurredAt: '2026-01-31T00:00:00.000Z' },
  ]);
  assert.deepEqual(result.deferred, [
    { credits: '10', occurredAt: '2026-01-31T00:00:00.000Z' },
    { credits: '1', occurredAt: '2026-01-31T01:00:00.000Z' },
  ]);
  assert.equal(result.state.carriedInCredits, '50');
  assert.equal(result.state.demandCredits, '100');
  assert.equal(result.state.deferredCredits, '11');
  assert.equal(result.becameThrottled, true);
});

test('usage threshold alert raised once per period', () => {
  const terms = workedExampleTerms();
  const state = openPeriodAdmission({
    contractId: 'c1',
    terms,
    periodIndex: 0,
    tier: 'growth',
    grants: contractStartGrants(terms).map((grant) => ({ grant, remaining: grant.credits })),
    previousPeriodClosed: true,
  });
  const first = admitEvent(state, terms, event('40000', '2026-01-02T00:00:00Z'));
  assert.deepEqual(first.alerts.map((alert) => alert.key), ['c1/0/usage_threshold/80']);
  const second = admitEvent(first.state, terms, event('1000', '2026-01-03T00:00:00Z'));
  assert.deepEqual(second.alerts, []);
});

test('event outside the period is rejected', () => {
  const terms = smallTerms();
  assert.throws(() => admitEvent(open(terms), terms, event('1', '2026-02-01T00:00:00Z')), /must be an instant inside period 0/);
});

test('simulated arrivals in the close delay precede the close', () => {
  // January leaves 100 unused, all rolled over. An event in the first hour of February is
  // judged without that rollover: 190 credits would cost 190.00 > 150.00, so it is deferred.
  const terms = smallTerms((json) => (json.rollover = { fraction: '1', expiresAfterDays: 30 }));
  const inDelay = simulate(terms, [{ occurredAt: '2026-02-01T00:30:00Z', meter: 'unit', quantity: '190' }]);
  assert.equal(inDelay.periods[1]?.deferredCredits, '190');
  const afterClose = simulate(terms, [{ occurredAt: '2026-02-01T01:00:00Z', meter: 'unit', quantity: '190' }]);
  assert.equal(afterClose.periods[1]?.deferredCredits, '0');
  assert.equal(afterClose.periods[1]?.charges.total, '100.00');
  const noDelay = simulate(terms, [{ occurredAt: '2026-02-01T00:30:00Z', meter: 'unit', quantity: '190' }], { closeDelayMs: 0 });
  assert.equal(noDelay.periods[1]?.deferredCredits, '0');
});

test('ops upgrade lifts the throttle', () => {
  // Worked example, growth tier: cap 25,000.00 = 5,000.00 + 10,000.00 + 38,461 credits x 0.26
  // (9,999.86). 88,000 credits (38,000 of overage, 24,880.00) fit; 1,000 more would cost
  // 25,140.00, so that event is deferred and the period throttled.
  const terms = workedExampleTerms();
  const filled = admitEvents(open(terms), terms, [{ credits: '88000', consumedAt: '2026-01-10T00:00:00Z' }]);
  const throttled = admitEvent(filled.state, terms, event('1000', '2026-01-11T00:00:00Z'));
  assert.equal(throttled.status, 'deferred');
  assert.equal(throttled.state.throttled, true);

  const upgraded = upgradeAdmission(throttled.state, terms, 'scale', '2026-01-12T00:00:00.000Z');
  assert.equal(upgraded.tier, 'scale');
  assert.equal(upgraded.throttled, false);
  assert.equal(upgraded.grants.find((grant) => grant.id === 'commit-0')?.remaining, '100000');
  assert.deepEqual(upgraded.tierChanges.at(-1), { from: 'growth', to: 'scale', at: '2026-01-12T00:00:00.000Z' });

  // Scale: 6,000.00 + 17,000.00 fees and 100,000 commit credits, so 1,000 more fit at once.
  const after = admitEvent(upgraded, terms, event('1000', '2026-01-13T00:00:00Z'));
  assert.equal(after.status, 'admitted');
});

test('ops upgrade rejects a lower tier', () => {
  const terms = workedExampleTerms();
  const state = open(terms);
  assert.throws(() => upgradeAdmission(state, terms, 'growth', '2026-01-12T00:00:00.000Z'), /must be a tier above "growth"/);
  assert.throws(() => upgradeAdmission(state, terms, 'platinum', '2026-01-12T00:00:00.000Z'));
});
