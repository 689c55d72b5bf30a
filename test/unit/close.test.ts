import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkConservation,
  closePeriod,
  commitGrant,
  contractStartGrants,
  initialTriggerState,
  issueMovement,
  prepaidInvoice,
  simulate,
  type CloseInput,
  type GrantBalance,
} from '../../src/domain';
import { referenceDeal, smallTerms, workedExampleTerms } from './domain-fixtures';

function startBalances(terms: Parameters<typeof contractStartGrants>[0]): GrantBalance[] {
  return contractStartGrants(terms).map((grant) => ({ grant, remaining: grant.credits }));
}

function baseInput(overrides: Partial<CloseInput> & Pick<CloseInput, 'terms'>): CloseInput {
  return {
    contractId: 'c1',
    periodIndex: 0,
    tier: overrides.terms.initialTier,
    grants: startBalances(overrides.terms),
    admitted: [],
    deferred: [],
    trigger: initialTriggerState(),
    accruedOverage: [],
    final: false,
    ...overrides,
  };
}

// A 1,000-credit commit at 1.00, overage at 2x, 50% of unused commit rolled over for 10 days.
const rolloverTerms = () =>
  smallTerms((json) => {
    json.tiers = [{ name: 'small', commitCredits: '1000', pricePerCredit: '1.00', platformFee: '0.00' }];
    json.overageMultiplier = '2';
    json.rollover = { fraction: '0.5', expiresAfterDays: 10 };
  });

test('rollover grant expiring mid-period burns then expires', () => {
  const terms = rolloverTerms();
  const january = closePeriod(baseInput({ terms, admitted: [{ credits: '600', consumedAt: '2026-01-10T00:00:00Z' }] }));
  assert.equal(january.statement.rolledOverCredits, '200');
  assert.equal(january.statement.forfeitedCredits, '200');
  const rollover = january.newGrants.find((grant) => grant.kind === 'rollover');
  assert.equal(rollover?.expiresAt, '2026-02-11T00:00:00.000Z');

  // February: 150 credits before the rollover expires (it burns first, expiring first),
  // then 1,100 after: the commit covers 1,000, 100 is overage at 1.00 x 2.
  const february = closePeriod(
    baseInput({
      terms,
      periodIndex: 1,
      grants: january.grants,
      admitted: [
        { credits: '150', consumedAt: '2026-02-05T00:00:00Z' },
        { credits: '1100', consumedAt: '2026-02-20T00:00:00Z' },
      ],
      trigger: january.trigger,
    }),
  );
  assert.equal(february.statement.consumedCredits, '1250');
  assert.equal(february.statement.overageCredits, '100');
  assert.equal(february.statement.expiredCredits, '50');
  assert.equal(february.statement.rolledOverCredits, '0');
  assert.equal(february.statement.forfeitedCredits, '0');
  assert.equal(february.statement.charges.overage, '200.00');
  assert.equal(february.statement.charges.total, '1200.00');
  const moves = february.movements.filter((m) => m.kind !== 'issue').map((m) => [m.grantId, m.kind, m.credits, m.at]);
  assert.deepEqual(moves, [
    ['rollover-0', 'burn', '150', '2026-02-01T00:00:00.000Z'],
    ['commit-1', 'burn', '1000', '2026-02-11T00:00:00.000Z'],
    ['rollover-0', 'expire', '50', '2026-02-11T00:00:00.000Z'],
  ]);
});

test('close conserves credits per grant', () => {
  const terms = rolloverTerms();
  const january = closePeriod(baseInput({ terms, admitted: [{ credits: '600', consumedAt: '2026-01-10T00:00:00Z' }] }));
  const movements = [...contractStartGrants(terms).map((grant) => issueMovement(grant, 0)), ...january.movements];
  assert.deepEqual(checkConservation(january.grants, movements), []);
});

test('conservation check reports a broken grant', () => {
  const grant = commitGrant(smallTerms(), 0, '100');
  const violations = checkConservation([{ grant, remaining: '10' }], [issueMovement(grant, 0)]);
  assert.equal(violations.length, 1);
  assert.equal(violations[0]?.grantId, 'commit-0');
  assert.equal(violations[0]?.removed, '0');
});

test('close computed twice is deep equal', () => {
  const input = baseInput({ terms: referenceDeal(), admitted: [{ credits: '70000', consumedAt: '2026-01-20T00:00:00Z' }] });
  assert.deepEqual(closePeriod(input), closePeriod(input));
});

test('late event is consumed at arrival and marked', () => {
  const terms = smallTerms();
  const result = closePeriod(
    baseInput({
      terms,
      periodIndex: 0,
      admitted: [
        { credits: '30', consumedAt: '2026-01-05T00:00:00Z' },
        { credits: '20', consumedAt: '2026-01-31T12:00:00Z', late: true },
      ],
    }),
  );
  assert.equal(result.statement.lateCredits, '20');
  assert.equal(result.statement.consumedCredits, '50');
  assert.equal(result.statement.demandCredits, '50');
});

test('usage outside the period is rejected', () => {
  assert.throws(
    () => closePeriod(baseInput({ terms: smallTerms(), admitted: [{ credits: '1', consumedAt: '2026-02-01T00:00:00Z' }] })),
    (error: Error & { issues?: { path: string; rule: string }[] }) =>
      error.issues?.[0]?.path === 'admitted[0].consumedAt' && error.issues[0].rule === 'within_period',
  );
});

test('upgrade at close grows the commit grant', () => {
  const terms = smallTerms((json) => (json.capPolicy = 'upgrade'));
  const result = closePeriod(
    baseInput({ terms, tier: 'big', admitted: [{ credits: '160', consumedAt: '2026-01-05T00:00:00Z' }], tierChanges: [{ from: 'small', to: 'big' }] }),
  );
  assert.deepEqual(result.movements[0], { grantId: 'commit-0', kind: 'issue', credits: '200', at: '2026-01-01T00:00:00.000Z', periodIndex: 0 });
  assert.equal(result.statement.tier, 'big');
  assert.equal(result.statement.charges.commitFee, '270.00');
  assert.equal(result.statement.forfeitedCredits, '140');
  assert.equal(result.statement.overageCredits, '0');
  assert.ok(result.alerts.some((alert) => alert.key === 'c1/0/tier_upgraded/big'));
  assert.equal(result.newGrants.find((grant) => grant.id === 'commit-1')?.credits, '300');
});

test('lower tier within the period is rejected', () => {
  const terms = smallTerms();
  const grants = [{ grant: commitGrant(terms, 0, '300'), remaining: '300' }];
  assert.throws(() => closePeriod(baseInput({ terms, grants, tier: 'small' })), /lower tier can only start with the next period/);
});

test('final close forfeits commit and expires the rest', () => {
  const terms = referenceDeal();
  const result = closePeriod(baseInput({ terms: { ...terms, termMonths: 1 }, final: true, admitted: [{ credits: '10000', consumedAt: '2026-01-02T00:00:00Z' }] }));
  assert.equal(result.statement.rolledOverCredits, '0');
  assert.equal(result.statement.forfeitedCredits, '40000');
  assert.equal(result.statement.expiredCredits, '120000');
  assert.equal(result.newGrants.length, 0);
  assert.equal(result.statement.final, true);
});

test('final close reports unbilled deferred usage', () => {
  const terms = smallTerms();
  const result = closePeriod(
    baseInput({ terms, final: true, deferred: [{ credits: '40', count: 2, occurredAt: '2026-01-20T00:00:00.000Z' }] }),
  );
  assert.equal(result.statement.deferredCredits, '80');
  const alert = result.alerts.find((candidate) => candidate.kind === 'unbilled_deferred_usage');
  assert.equal(alert?.key, 'c1/0/unbilled_deferred_usage');
  assert.deepEqual(alert?.recipients, ['am@vendor.example']);
  assert.equal(alert?.data.deferredCredits, '80');
});

test('carried-in usage is consumed before own usage', () => {
  const terms = smallTerms();
  const result = closePeriod(
    baseInput({
      terms,
      carriedIn: { admitted: [{ credits: '30', occurredAt: '2025-12-31T00:00:00.000Z' }], deferred: [{ credits: '5', occurredAt: '2025-12-31T01:00:00.000Z' }] },
      admitted: [{ credits: '80', consumedAt: '2026-01-10T00:00:00Z' }],
    }),
  );
  assert.equal(result.statement.carriedInCredits, '35');
  assert.equal(result.statement.consumedCredits, '110');
  assert.equal(result.statement.demandCredits, '80');
  assert.equal(result.statement.deferredCredits, '5');
  assert.equal(result.statement.overageCredits, '10');
  assert.deepEqual(result.deferredOut, [{ credits: '5', occurredAt: '2025-12-31T01:00:00.000Z' }]);
});

test('trigger streak restarts after firing', () => {
  const terms = smallTerms((json) => (json.renegotiation = { basis: 'commit', thresholdPercent: '150', consecutivePeriods: 2, responseDays: 30 }));
  let grants = startBalances(terms);
  let trigger = initialTriggerState();
  const streaks: [number, boolean][] = [];
  for (let k = 0; k < 4; k++) {
    const month = String(k + 1).padStart(2, '0');
    // 151 credits is above 150% of the 100-credit commit; every period counts.
    const result = closePeriod(baseInput({ terms, periodIndex: k, grants, trigger, admitted: [{ credits: '151', consumedAt: `2026-${month}-02T00:00:00Z` }] }));
    streaks.push([result.statement.trigger.streak, result.statement.trigger.fired]);
    grants = result.grants;
    trigger = result.trigger;
  }
  assert.deepEqual(streaks, [
    [1, false],
    [2, true],
    [1, false],
    [2, true],
  ]);
});

test('demand at exactly the threshold does not count', () => {
  const terms = smallTerms((json) => (json.renegotiation = { basis: 'commit', thresholdPercent: '150', consecutivePeriods: 1, responseDays: 30 }));
  const result = closePeriod(baseInput({ terms, admitted: [{ credits: '150', consumedAt: '2026-01-02T00:00:00Z' }] }));
  assert.equal(result.statement.trigger.fired, false);
  assert.equal(result.statement.trigger.streak, 0);
});

test('spend cap basis counts deferred demand', () => {
  const terms = smallTerms((json) => (json.renegotiation = { basis: 'spendCap', thresholdPercent: '100', consecutivePeriods: 1, responseDays: 10 }));
  // Admitted 140 costs 140.00; with the deferred 20 the demand would cost 160.00 > 150.00.
  const result = closePeriod(
    baseInput({ terms, admitted: [{ credits: '140', consumedAt: '2026-01-02T00:00:00Z' }], deferred: [{ credits: '20', occurredAt: '2026-01-03T00:00:00.000Z' }] }),
  );
  assert.equal(result.statement.charges.total, '140.00');
  assert.equal(result.statement.trigger.fired, true);
  assert.equal(result.statement.trigger.respondBy, '2026-02-11');
});

test('quarterly true-up bills three overage lines', () => {
  const terms = smallTerms((json) => {
    json.trueUp = 'quarterly';
    delete json.tiers[0].spendCap;
    delete json.tiers[1].spendCap;
  });
  const rows = [
    { occurredAt: '2026-01-10T00:00:00Z', meter: 'unit', quantity: '110' },
    { occurredAt: '2026-02-10T00:00:00Z', meter: 'unit', quantity: '120' },
    { occurredAt: '2026-03-10T00:00:00Z', meter: 'unit', quantity: '130' },
  ];
  const result = simulate(terms, rows);
  assert.deepEqual(result.periods.slice(0, 3).map((p) => p.charges.overage), ['10.00', '20.00', '30.00']);
  assert.deepEqual(result.invoices[0]?.lines.map((line) => line.kind), ['platform_fee', 'commit_fee']);
  assert.equal(result.invoices[0]?.total, '100.00');
  assert.deepEqual(result.invoices[1]?.lines.map((line) => line.kind), ['platform_fee', 'commit_fee']);
  const march = result.invoices[2];
  assert.deepEqual(
    march?.lines.filter((line) => line.kind === 'overage').map((line) => [line.periodIndex, line.quantity, line.unitPrice, line.amount]),
    [
      [0, '10', '1', '10.00'],
      [1, '20', '1', '20.00'],
      [2, '30', '1', '30.00'],
    ],
  );
  assert.equal(march?.total, '160.00');
});

test('final close settles accrued overage', () => {
  const terms = smallTerms((json) => {
    json.trueUp = 'annual';
    json.termMonths = 2;
  });
  const rows = [{ occurredAt: '2026-01-10T00:00:00Z', meter: 'unit', quantity: '110' }];
  const result = simulate(terms, rows);
  assert.equal(result.invoices[0]?.total, '100.00');
  assert.equal(result.invoices[1]?.lines.find((line) => line.kind === 'overage')?.amount, '10.00');
  assert.equal(result.invoices[1]?.total, '110.00');
});

test('prepaid block at 15% discount', () => {
  const invoice = prepaidInvoice(referenceDeal(), 0, 'acme');
  // 120,000 credits x 0.20 x (1 - 0.15)
  assert.equal(invoice.total, '20400.00');
  assert.equal(invoice.lines[0]?.unitPrice, '0.17');
  assert.equal(invoice.lines[0]?.quantity, '120000');
  assert.equal(invoice.kind, 'prepaid');
  assert.equal(invoice.key, 'acme/prepaid/0');
  assert.equal(invoice.periodIndex, 0);
});

test('prepaid credits burn after commit', () => {
  const terms = referenceDeal();
  const result = closePeriod(baseInput({ terms, admitted: [{ credits: '70000', consumedAt: '2026-01-20T00:00:00Z' }] }));
  assert.equal(result.statement.overageCredits, '0');
  assert.equal(result.grants.find((balance) => balance.grant.id === 'prepaid-0')?.remaining, '100000');
  assert.equal(result.statement.charges.total, '15000.00');
});

test('JPY contract rounds to whole yen', () => {
  const terms = smallTerms((json) => {
    json.currency = 'JPY';
    json.tiers = [{ name: 'small', commitCredits: '1001', pricePerCredit: '1.5', platformFee: '1000' }];
    json.overageMultiplier = '1.3';
  });
  // Commit fee 1,001 x 1.5 = 1,501.5 rounds to even 1,502; overage 3 x 1.5 x 1.3 = 5.85 rounds to 6.
  const result = closePeriod(baseInput({ terms, admitted: [{ credits: '1004', consumedAt: '2026-01-20T00:00:00Z' }] }));
  assert.deepEqual(result.statement.charges, { platformFee: '1000', commitFee: '1502', overage: '6', total: '2508' });
  assert.equal(result.invoices[0]?.total, '2508');
  assert.equal(result.invoices[0]?.lines[1]?.amount, '1502');
});

test('invoice total is the sum of lines', () => {
  const terms = workedExampleTerms();
  const result = closePeriod(baseInput({ terms, admitted: [{ credits: '60001', consumedAt: '2026-01-20T00:00:00Z' }] }));
  const invoice = result.invoices[0];
  assert.equal(invoice?.lines.map((line) => line.amount).join(' + '), '5000.00 + 10000.00 + 2600.26');
  assert.equal(invoice?.total, '17600.26');
});

test('usage thresholds alert once each', () => {
  const terms = workedExampleTerms();
  const result = closePeriod(baseInput({ terms, admitted: [{ credits: '50000', consumedAt: '2026-01-20T00:00:00Z' }] }));
  const usage = result.alerts.filter((alert) => alert.kind === 'usage_threshold');
  assert.deepEqual(usage.map((alert) => alert.key), ['c1/0/usage_threshold/80', 'c1/0/usage_threshold/100']);
  assert.deepEqual(usage[0]?.recipients, ['dana@vendor.example', 'ap@acme.example']);
});

test('expiring credits alert within notice days', () => {
  const terms = smallTerms((json) => {
    json.rollover = { fraction: '1', expiresAfterDays: 10 };
    json.alerts = { expiryNoticeDays: 14 };
  });
  const result = closePeriod(baseInput({ terms, admitted: [{ credits: '40', consumedAt: '2026-01-20T00:00:00Z' }] }));
  const alert = result.alerts.find((candidate) => candidate.kind === 'credits_expiring');
  assert.equal(alert?.key, 'c1/0/credits_expiring/rollover-0');
  assert.equal(alert?.data.credits, '60');
  assert.equal(alert?.data.expiresAt, '2026-02-11T00:00:00.000Z');
});
