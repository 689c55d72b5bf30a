import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  admitEvent,
  admitEvents,
  checkConservation,
  closePeriod,
  contractStartGrants,
  Exact,
  initialTriggerState,
  openPeriodAdmission,
  parseTerms,
  periodBounds,
  roundMoney,
  runSimulation,
  tierByName,
  type Terms,
  type UsageRow,
} from '../../src/domain';

const RUNS = 60;

const decimal = (min: number, max: number, scale: number) =>
  fc.integer({ min: min * 10 ** scale, max: max * 10 ** scale }).map((units) => new Exact(units).dividedBy(10 ** scale).toFixed());

/** Random valid terms: 1 to 3 tiers, optional caps, rollover, prepaid, trigger and alerts, in a few zones and currencies. */
const termsArbitrary: fc.Arbitrary<Terms> = fc
  .record({
    currency: fc.constantFrom('USD', 'JPY', 'BHD'),
    timeZone: fc.constantFrom('UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Tokyo'),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 31 }),
    termMonths: fc.integer({ min: 1, max: 4 }),
    rates: fc.array(decimal(0, 20, 3).filter((value) => value !== '0'), { minLength: 1, maxLength: 2 }),
    tiers: fc.array(
      fc.record({
        commitStep: fc.integer({ min: 1, max: 500 }),
        price: decimal(0, 3, 2).filter((value) => value !== '0'),
        platformFee: decimal(0, 200, 2),
        capExtra: fc.option(decimal(0, 400, 2), { nil: undefined }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    zeroFirstCommit: fc.boolean(),
    overageMultiplier: fc.option(fc.constantFrom('0', '1', '1.3', '2'), { nil: undefined }),
    capPolicy: fc.constantFrom('throttle', 'upgrade'),
    rollover: fc.option(fc.record({ fraction: decimal(0, 1, 2), expiresAfterDays: fc.integer({ min: 1, max: 70 }) }), { nil: undefined }),
    prepaid: fc.option(fc.record({ credits: fc.integer({ min: 1, max: 400 }), purchasedMonth: fc.integer({ min: 0, max: 3 }), months: fc.integer({ min: 1, max: 3 }) }), { nil: undefined }),
    trueUp: fc.constantFrom('monthly', 'quarterly', 'annual'),
    renegotiation: fc.option(
      fc.record({ basis: fc.constantFrom('commit', 'spendCap'), thresholdPercent: fc.constantFrom('50', '100', '150'), consecutivePeriods: fc.integer({ min: 1, max: 3 }) }),
      { nil: undefined },
    ),
  })
  .map((draft) => {
    const startDate = `2026-${String(draft.month).padStart(2, '0')}-${String(Math.min(draft.day, 28)).padStart(2, '0')}`;
    let commit = draft.zeroFirstCommit ? -draft.tiers[0]!.commitStep : 0;
    const tiers = draft.tiers.map((tier, index) => {
      commit += tier.commitStep;
      const platformFee = roundMoney(tier.platformFee, draft.currency);
      const fees = platformFee.plus(roundMoney(new Exact(commit).times(tier.price), draft.currency));
      return {
        name: `tier${index}`,
        commitCredits: String(commit),
        pricePerCredit: tier.price,
        platformFee: platformFee.toFixed(),
        ...(tier.capExtra === undefined ? {} : { spendCap: fees.plus(roundMoney(tier.capExtra, draft.currency)).toFixed() }),
      };
    });
    const json: Record<string, unknown> = {
      customer: { id: 'p1', name: 'Property Customer', billingEmail: 'billing@p1.example' },
      accountManager: { name: 'Pat', email: 'pat@vendor.example' },
      currency: draft.currency,
      timeZone: draft.timeZone,
      startDate,
      termMonths: draft.termMonths,
      meters: draft.rates.map((rate, index) => ({ key: `meter_${index}`, creditsPerUnit: rate })),
      tiers,
      initialTier: 'tier0',
      capPolicy: draft.capPolicy,
      trueUp: draft.trueUp,
      alerts: { usagePercentOfCommit: ['80', '100'], spendPercentOfCap: ['90'], expiryNoticeDays: 14 },
    };
    if (draft.overageMultiplier !== undefined) json.overageMultiplier = draft.overageMultiplier;
    if (draft.rollover !== undefined) json.rollover = draft.rollover;
    if (draft.prepaid !== undefined) {
      const purchased = new Date(Date.UTC(2026, draft.month - 1 + draft.prepaid.purchasedMonth, Math.min(draft.day, 28)));
      json.prepaid = [
        { credits: String(draft.prepaid.credits), discount: '0.15', purchasedOn: purchased.toISOString().slice(0, 10), expiresAfterMonths: draft.prepaid.months },
      ];
    }
    if (draft.renegotiation !== undefined) json.renegotiation = { ...draft.renegotiation, responseDays: 30 };
    return parseTerms(json);
  });

/** Random usage rows inside the term (and a few outside), in any order, some repeating an event id. */
function usageArbitrary(terms: Terms): fc.Arbitrary<UsageRow[]> {
  const start = periodBounds(terms, 0).start.getTime();
  const end = periodBounds(terms, terms.termMonths - 1).end.getTime();
  return fc.array(
    fc.record({
      at: fc.integer({ min: start - 3_600_000, max: end + 3_600_000 }),
      meter: fc.integer({ min: 0, max: terms.meters.length - 1 }),
      quantity: decimal(0, 60, 1),
      eventId: fc.option(fc.integer({ min: 0, max: 30 }).map((n) => `ev-${n}`), { nil: undefined }),
    }),
    { maxLength: 60 },
  ).map((rows) =>
    rows.map((row) => ({
      occurredAt: new Date(row.at).toISOString(),
      meter: terms.meters[row.meter]!.key,
      quantity: row.quantity,
      ...(row.eventId === undefined ? {} : { eventId: row.eventId }),
    })),
  );
}

const contractArbitrary = termsArbitrary.chain((terms) => usageArbitrary(terms).map((rows) => ({ terms, rows })));

test('credits are conserved per grant', () => {
  fc.assert(
    fc.property(contractArbitrary, ({ terms, rows }) => {
      const run = runSimulation(terms, rows);
      assert.deepEqual(checkConservation(run.grants, run.movements), []);
    }),
    { numRuns: RUNS },
  );
});

test('period charges never exceed the cap', () => {
  fc.assert(
    fc.property(contractArbitrary, ({ terms, rows }) => {
      const { result } = runSimulation(terms, rows);
      for (const period of result.periods) {
        const cap = tierByName(terms, period.tier).spendCap;
        if (cap !== undefined) assert.ok(new Exact(period.charges.total).lessThanOrEqualTo(cap), `period ${period.index}: ${period.charges.total} > ${cap}`);
      }
    }),
    { numRuns: RUNS },
  );
});

test('random contracts reach the cap', () => {
  // Guards the generators: the cap properties mean little unless some contracts defer or upgrade.
  let deferring = 0;
  let upgrading = 0;
  for (const { terms, rows } of fc.sample(contractArbitrary, { numRuns: 120, seed: 7 })) {
    const { result } = runSimulation(terms, rows);
    if (result.periods.some((period) => period.deferredCredits !== '0')) deferring += 1;
    if (result.periods.some((period) => period.tier !== terms.initialTier)) upgrading += 1;
  }
  assert.ok(deferring >= 5, `only ${deferring} of 120 contracts deferred usage`);
  assert.ok(upgrading >= 5, `only ${upgrading} of 120 contracts upgraded`);
});

test('invoice total equals sum of lines', () => {
  fc.assert(
    fc.property(contractArbitrary, ({ terms, rows }) => {
      const { result } = runSimulation(terms, rows);
      for (const invoice of result.invoices) {
        const sum = invoice.lines.reduce((total, line) => total.plus(line.amount), new Exact(0));
        assert.ok(sum.equals(invoice.total), `${invoice.number}: lines ${sum.toFixed()} != total ${invoice.total}`);
      }
    }),
    { numRuns: RUNS },
  );
});

test('consumption never exceeds demand plus carried in', () => {
  fc.assert(
    fc.property(contractArbitrary, ({ terms, rows }) => {
      const { result } = runSimulation(terms, rows);
      for (const period of result.periods) {
        const supply = new Exact(period.demandCredits).plus(period.carriedInCredits);
        assert.ok(new Exact(period.consumedCredits).lessThanOrEqualTo(supply));
        assert.ok(supply.equals(new Exact(period.consumedCredits).plus(period.deferredCredits)));
        assert.ok(new Exact(period.overageCredits).lessThanOrEqualTo(period.consumedCredits));
      }
    }),
    { numRuns: RUNS },
  );
});

test('close computed twice is deep equal', () => {
  const closeInput = termsArbitrary.chain((terms) =>
    fc
      .array(fc.record({ offset: fc.double({ min: 0, max: 0.999, noNaN: true }), credits: decimal(0, 500, 2) }), { maxLength: 20 })
      .map((items) => {
        const bounds = periodBounds(terms, 0);
        const span = bounds.end.getTime() - bounds.start.getTime();
        return {
          contractId: 'p1',
          terms,
          periodIndex: 0,
          tier: terms.initialTier,
          grants: contractStartGrants(terms).map((grant) => ({ grant, remaining: grant.credits })),
          admitted: items.map((item) => ({ credits: item.credits, consumedAt: new Date(bounds.start.getTime() + Math.floor(item.offset * span)).toISOString() })),
          deferred: [],
          trigger: initialTriggerState(),
          accruedOverage: [],
          final: terms.termMonths === 1,
        };
      }),
  );
  fc.assert(
    fc.property(closeInput, (input) => {
      const first = closePeriod(input);
      const second = closePeriod(structuredClone(input));
      assert.deepEqual(second, first);
    }),
    { numRuns: RUNS },
  );
});

test('simulation computed twice is deep equal', () => {
  fc.assert(
    fc.property(contractArbitrary, ({ terms, rows }) => {
      assert.deepEqual(runSimulation(terms, rows).result, runSimulation(terms, [...rows]).result);
    }),
    { numRuns: 20 },
  );
});

test('grouped simulation matches event by event', () => {
  fc.assert(
    fc.property(contractArbitrary, fc.integer({ min: 2, max: 7 }), ({ terms, rows }, groupSize) => {
      const reference = runSimulation(terms, rows, { groupSize: 1 }).result;
      for (const result of [runSimulation(terms, rows).result, runSimulation(terms, rows, { groupSize }).result]) {
        const withoutAlerts = (periods: typeof result.periods) => periods.map((period) => ({ ...period, alerts: [] }));
        assert.deepEqual(withoutAlerts(result.periods), withoutAlerts(reference.periods));
        result.periods.forEach((period, index) => {
          const keys = (alerts: { key: string }[]) => alerts.map((alert) => alert.key).sort();
          assert.deepEqual(keys(period.alerts), keys(reference.periods[index]!.alerts));
        });
        assert.deepEqual(result.invoices, reference.invoices);
        assert.deepEqual(result.totals, reference.totals);
      }
    }),
    { numRuns: RUNS },
  );
});

test('repeated event ids count once', () => {
  fc.assert(
    fc.property(contractArbitrary, ({ terms, rows }) => {
      const { result } = runSimulation(terms, rows);
      const invalid = new Set(result.events.rejected.filter((row) => !/repeats row/.test(row.reason)).map((row) => row.row));
      const ids = rows.filter((row, index) => row.eventId !== undefined && !invalid.has(index + 1)).map((row) => row.eventId);
      const repeats = ids.length - new Set(ids).size;
      const rejectedRepeats = result.events.rejected.filter((row) => /repeats row/.test(row.reason)).length;
      assert.equal(result.events.duplicates + rejectedRepeats, repeats);
      assert.equal(result.events.accepted + result.events.duplicates + result.events.rejected.length, rows.length);
    }),
    { numRuns: RUNS },
  );
});

test('batch admission matches event by event', () => {
  const scenario = termsArbitrary.chain((terms) =>
    fc.record({
      terms: fc.constant(terms),
      sizes: fc.array(fc.constantFrom('0', '0.5', '1', '7.25', '40', '125.5'), { minLength: 1, maxLength: 80 }),
    }),
  );
  fc.assert(
    fc.property(scenario, ({ terms, sizes }) => {
      const open = () =>
        openPeriodAdmission({
          contractId: 'p1',
          terms,
          periodIndex: 0,
          tier: terms.initialTier,
          grants: contractStartGrants(terms).map((grant) => ({ grant, remaining: grant.credits })),
          previousPeriodClosed: true,
        });
      const at = periodBounds(terms, 0).start.toISOString();
      let state = open();
      let admitted = 0;
      for (const [index, credits] of sizes.entries()) {
        const result = admitEvent(state, terms, { eventId: `e${index}`, credits, occurredAt: at, arrivedAt: at, consumedAt: at, late: false });
        if (result.status === 'admitted') admitted += 1;
        state = result.state;
      }
      const batch = admitEvents(open(), terms, sizes.map((credits) => ({ credits, consumedAt: at })));
      assert.equal(batch.admittedEvents, admitted);
      assert.equal(batch.state.admittedCredits, state.admittedCredits);
      assert.equal(batch.state.deferredCredits, state.deferredCredits);
      assert.equal(batch.state.tier, state.tier);
    }),
    { numRuns: RUNS },
  );
});
