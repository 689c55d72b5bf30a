// Tier changes sent to a running contract as `changeTier` updates: an upgrade bills the
// whole open period at the new tier, a downgrade applies from the next period, and a
// rejected change leaves the contract and the audit log as they were and fails with its reason.
//
// One 4-month contract on the growth tier (commit 50,000 at 0.20, platform fee 5,000.00)
// with a higher scale tier (commit 100,000 at 0.17, platform fee 6,000.00):
// period 0 upgrades to scale, period 1 schedules a downgrade to growth, period 2 runs on
// growth, period 3 (the last) upgrades again and rejects a downgrade.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { OPERATION_REJECTED } from '../../src/activities/operation-activities';
import type { PeriodStatement } from '../../src/domain';
import { TIER_CHANGE_REJECTED } from '../../src/workflows/contract';
import { contractWorkflowId, type ChangeTierResult, type LifecycleState } from '../../src/workflows/messages';
import { quietTemporalRuntime } from '../support/quiet-runtime';
import { startHarness, termsStartingAfter, type Harness } from '../support/harness';
import {
  postUsage,
  signContract,
  sleepUntil,
  storedInvoices,
  storedStatements,
  utcMonthStart,
  waitFor,
  waitForClose,
  type StoredInvoice,
} from './support';

const DAY_MS = 86_400_000;

interface AuditRow {
  actor: string;
  action: string;
  reason: string | null;
  details: Record<string, unknown>;
}

let h: Harness;
let contractId: string;
let handle: WorkflowHandle;
let periodStart: (index: number) => Date;

/** Outcomes recorded while the contract runs, checked by the tests below. */
const seen = {
  unknownTier: undefined as unknown,
  sameTier: undefined as unknown,
  lastPeriodDowngrade: undefined as unknown,
  upgrade: undefined as ChangeTierResult | undefined,
  downgrade: undefined as ChangeTierResult | undefined,
  lastPeriodUpgrade: undefined as ChangeTierResult | undefined,
  auditAfterRejections: [] as AuditRow[],
  auditAfterLastRejection: [] as AuditRow[],
  tierAfterRejections: '',
  tierAfterUpgrade: undefined as LifecycleState | undefined,
  tierAfterDowngrade: undefined as LifecycleState | undefined,
  period2OpenTier: '',
  contractAfterLastRejection: undefined as { current_tier: string; next_tier: string | null } | undefined,
};
let statements: PeriodStatement[];
let invoices: StoredInvoice[];

function changeTier(tier: string): Promise<ChangeTierResult> {
  return handle.executeUpdate<ChangeTierResult, [unknown]>('changeTier', {
    args: [{ tier, by: 'ops-test', reason: `customer asked for ${tier}` }],
  });
}

/** Returns the error a rejected promise raised, or fails when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('the update was expected to be rejected');
}

function auditRows(): Promise<AuditRow[]> {
  return h.db
    .selectFrom('audit_log')
    .select(['actor', 'action', 'reason', 'details'])
    .where('contract_id', '=', contractId)
    .where('action', 'like', 'tier.%')
    .orderBy('id')
    .execute();
}

async function contractTiers(): Promise<{ current_tier: string; next_tier: string | null }> {
  return h.db.selectFrom('contracts').select(['current_tier', 'next_tier']).where('id', '=', contractId).executeTakeFirstOrThrow();
}

/** Waits until the workflow's lifecycle query reports `tier`, after it reloads its schedule. */
function lifecycleWithTier(tier: string): Promise<LifecycleState> {
  return waitFor(async () => {
    const state = await handle.query<LifecycleState>('lifecycle');
    return state.currentTier === tier ? state : undefined;
  }, `the lifecycle query to report tier ${tier}`);
}

before(async () => {
  quietTemporalRuntime();
  h = await startHarness();
  await h.startWorker();
  const now = await h.env.currentTimeMs();
  periodStart = (index) => utcMonthStart(now, 1 + index);
  contractId = await signContract(h, termsStartingAfter(new Date(now), { termMonths: 4 }));
  handle = h.env.client.workflow.getHandle(contractWorkflowId(contractId));

  // Period 0: 6,000 tasks = 60,000 credits arrive on growth (10,000 over its commit), then
  // the rejected changes, then the upgrade.
  await sleepUntil(h.env, periodStart(0).getTime() + DAY_MS);
  assert.deepEqual(
    await postUsage(h, contractId, [
      { eventId: 'tier-1', meter: 'agent_task', quantity: '6000', occurredAt: new Date(periodStart(0).getTime() + DAY_MS).toISOString() },
    ]),
    ['accepted'],
  );
  seen.unknownTier = await rejection(changeTier('enterprise'));
  seen.sameTier = await rejection(changeTier('growth'));
  seen.auditAfterRejections = await auditRows();
  seen.tierAfterRejections = (await contractTiers()).current_tier;
  seen.upgrade = await changeTier('scale');
  seen.tierAfterUpgrade = await lifecycleWithTier('scale');

  // Period 1: a downgrade, effective from period 2.
  await sleepUntil(h.env, periodStart(1).getTime() + DAY_MS);
  await waitForClose(h.db, contractId, 0);
  seen.downgrade = await changeTier('growth');
  seen.tierAfterDowngrade = await handle.query<LifecycleState>('lifecycle');

  // Period 2 opens on growth.
  await sleepUntil(h.env, periodStart(2).getTime() + DAY_MS);
  await waitForClose(h.db, contractId, 1);
  seen.period2OpenTier = (await lifecycleWithTier('growth')).currentTier!;

  // Period 3, the last: an upgrade, then a downgrade that could never apply.
  await sleepUntil(h.env, periodStart(3).getTime() + DAY_MS);
  await waitForClose(h.db, contractId, 2);
  // The downgrade follows the upgrade at once: it must be judged against the upgraded tier,
  // even before the workflow has reloaded its schedule.
  seen.lastPeriodUpgrade = await changeTier('scale');
  const auditBefore = await auditRows();
  seen.lastPeriodDowngrade = await rejection(changeTier('growth'));
  seen.auditAfterLastRejection = (await auditRows()).slice(auditBefore.length);
  seen.contractAfterLastRejection = await contractTiers();

  await handle.result();
  statements = await storedStatements(h.db, contractId);
  invoices = await storedInvoices(h.db, contractId);
});

after(async () => {
  await h?.close();
});

/** Checks that `error` is a failed update whose cause is an ApplicationFailure of `type` with `message`. */
function assertRejected(error: unknown, type: string, message: string): void {
  assert.ok(error instanceof WorkflowUpdateFailedError, `expected WorkflowUpdateFailedError, got ${String(error)}`);
  assert.ok(error.cause instanceof ApplicationFailure, `expected an ApplicationFailure cause, got ${String(error.cause)}`);
  assert.equal(error.cause.type, type);
  assert.equal(error.cause.message, message);
}

test('unknown tier rejected with the tiers', () => {
  assertRejected(seen.unknownTier, TIER_CHANGE_REJECTED, `Tier "enterprise" is not one of this contract's tiers (growth, scale).`);
});

test('same tier rejected', () => {
  assertRejected(seen.sameTier, TIER_CHANGE_REJECTED, 'The contract is already on tier "growth".');
});

test('rejected changes leave no trace', () => {
  assert.deepEqual(seen.auditAfterRejections, []);
  assert.equal(seen.tierAfterRejections, 'growth');
});

test('upgrade answer carries the new tier', () => {
  assert.deepEqual(seen.upgrade, { previousTier: 'growth', tier: 'scale', effective: 'now', effectiveFromPeriod: 0 });
});

test('lifecycle reports the upgraded tier', () => {
  assert.equal(seen.tierAfterUpgrade?.currentTier, 'scale');
  assert.equal(seen.tierAfterUpgrade?.periodIndex, 0);
});

test('upgrade is audited with who and why', async () => {
  const [first] = await auditRows();
  assert.equal(first?.actor, 'ops-test');
  assert.equal(first?.action, 'tier.upgraded');
  assert.equal(first?.reason, 'customer asked for scale');
  assert.deepEqual(first?.details.result, seen.upgrade);
});

test('upgraded period billed at scale', () => {
  // Scale for the whole period: platform fee 6,000.00 + commit fee (100,000 x 0.17 =
  // 17,000.00) = 23,000.00. The 60,000 credits that arrived on growth fit the 100,000 commit: no overage.
  const period = statements[0]!;
  assert.equal(period.tier, 'scale');
  assert.equal(period.consumedCredits, '60000');
  assert.equal(period.overageCredits, '0');
  assert.equal(period.charges.platformFee, '6000.00');
  assert.equal(period.charges.commitFee, '17000.00');
  assert.equal(period.charges.overage, '0.00');
  assert.equal(period.charges.total, '23000.00');
});

test('upgraded period rolls over the scale commit', () => {
  // Unused 100,000 - 60,000 = 40,000: 25% = 10,000 roll over, 30,000 forfeited.
  assert.equal(statements[0]!.rolledOverCredits, '10000');
  assert.equal(statements[0]!.forfeitedCredits, '30000');
});

test('upgraded period invoice lines', () => {
  assert.deepEqual(
    invoices[0]!.lines.map((line) => [line.kind, line.quantity, line.unitPrice, line.amount]),
    [
      ['platform_fee', '1', '6000.00', '6000.00'],
      ['commit_fee', '100000', '0.17', '17000.00'],
    ],
  );
  assert.equal(invoices[0]!.total, '23000.00');
});

test('downgrade scheduled for the next period', () => {
  assert.deepEqual(seen.downgrade, { previousTier: 'scale', tier: 'growth', effective: 'next_period', effectiveFromPeriod: 2 });
  assert.equal(seen.tierAfterDowngrade?.currentTier, 'scale');
});

test('downgraded contract opens the next period on growth', () => {
  assert.equal(seen.period2OpenTier, 'growth');
});

test('downgrade applies from the next period', () => {
  // Period 1 stays on scale: 6,000.00 + 17,000.00 = 23,000.00. Period 2 is on growth:
  // 5,000.00 + (50,000 x 0.20 = 10,000.00) = 15,000.00.
  assert.equal(statements[1]!.tier, 'scale');
  assert.equal(statements[1]!.charges.total, '23000.00');
  assert.equal(statements[2]!.tier, 'growth');
  assert.equal(statements[2]!.charges.total, '15000.00');
});

test('last period downgrade rejected', () => {
  assertRejected(seen.lastPeriodDowngrade, OPERATION_REJECTED, "Period 3 is the contract's last, so a lower tier from the next period would never apply.");
});

test('last period downgrade changes nothing', () => {
  assert.deepEqual(seen.auditAfterLastRejection, []);
  assert.deepEqual(seen.contractAfterLastRejection, { current_tier: 'scale', next_tier: null });
});

test('last period billed at the upgraded tier', () => {
  assert.deepEqual(seen.lastPeriodUpgrade, { previousTier: 'growth', tier: 'scale', effective: 'now', effectiveFromPeriod: 3 });
  assert.equal(statements[3]!.tier, 'scale');
  assert.equal(statements[3]!.charges.total, '23000.00');
});

test('audit log lists the three changes', async () => {
  assert.deepEqual(
    (await auditRows()).map((row) => row.action),
    ['tier.upgraded', 'tier.downgrade_scheduled', 'tier.upgraded'],
  );
});

test('invoice totals follow the tiers', () => {
  assert.deepEqual(
    invoices.map((invoice) => invoice.total),
    ['23000.00', '23000.00', '15000.00', '23000.00'],
  );
});
