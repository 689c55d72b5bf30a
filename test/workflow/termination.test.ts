// A `terminate` update makes the open period the contract's last: its close is the final
// one, the workflow completes, and nothing is issued or accepted for later periods.
//
// A 12-month contract on the growth tier (commit 50,000 credits at 0.20, platform fee
// 5,000.00, 25% rollover for 90 days) without usage, terminated in period 1.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { OPERATION_REJECTED } from '../../src/activities/operation-activities';
import type { PeriodStatement } from '../../src/domain';
import { contractWorkflowId, type LifecycleState, type TerminateResult } from '../../src/workflows/messages';
import { quietTemporalRuntime } from '../support/quiet-runtime';
import { startHarness, termsStartingAfter, type Harness } from '../support/harness';
import { postUsage, signContract, sleepUntil, storedInvoices, storedStatements, utcMonthStart, waitForClose, type StoredInvoice } from './support';

const DAY_MS = 86_400_000;
const CLOSE_DELAY_MS = 3_600_000;

let h: Harness;
let contractId: string;
let handle: WorkflowHandle;
let periodEnd: (index: number) => Date;
let terminated: TerminateResult;
let secondTermination: unknown;
let result: LifecycleState;
let lateUsage: { status: string; rule?: string }[];
let statements: PeriodStatement[];
let invoices: StoredInvoice[];

before(async () => {
  quietTemporalRuntime();
  h = await startHarness({ closeDelayMs: CLOSE_DELAY_MS });
  await h.startWorker();
  const now = await h.env.currentTimeMs();
  periodEnd = (index) => utcMonthStart(now, 2 + index);
  contractId = await signContract(h, termsStartingAfter(new Date(now), { termMonths: 12 }));
  handle = h.env.client.workflow.getHandle(contractWorkflowId(contractId));

  // One day into period 1, after the close of period 0.
  await sleepUntil(h.env, periodEnd(0).getTime() + DAY_MS);
  await waitForClose(h.db, contractId, 0);
  terminated = await handle.executeUpdate('terminate', { args: [{ by: 'ops-test', reason: 'customer moved to another vendor' }] });
  try {
    await handle.executeUpdate('terminate', { args: [{ by: 'ops-test', reason: 'sent twice by mistake' }] });
  } catch (error) {
    secondTermination = error;
  }

  // Awaiting the result skips time through the final close.
  result = await handle.result();

  // An event of period 1 that arrives after its final close.
  await sleepUntil(h.env, periodEnd(1).getTime() + CLOSE_DELAY_MS + DAY_MS);
  const ingestKey = await h.keyFor('ingest', 'acme');
  const response = await h.request(
    'POST',
    '/v1/usage',
    {
      contractId,
      events: [{ eventId: 'after-end', meter: 'agent_task', quantity: '1', occurredAt: new Date(periodEnd(1).getTime() - DAY_MS).toISOString() }],
    },
    ingestKey,
  );
  lateUsage = response.body?.events ?? [];

  statements = await storedStatements(h.db, contractId);
  invoices = await storedInvoices(h.db, contractId);
});

after(async () => {
  await h?.close();
});

test('termination answer names the last period', () => {
  assert.deepEqual(terminated, { finalPeriodIndex: 1, endsAt: periodEnd(1).toISOString() });
});

test('second termination rejected', () => {
  assert.ok(secondTermination instanceof WorkflowUpdateFailedError, `got ${String(secondTermination)}`);
  assert.ok(secondTermination.cause instanceof ApplicationFailure);
  assert.equal(secondTermination.cause.type, OPERATION_REJECTED);
  assert.equal(secondTermination.cause.message, `Contract ${contractId} is already terminated: period 1 is its last.`);
});

test('termination audited once', async () => {
  const rows = await h.db
    .selectFrom('audit_log')
    .select(['actor', 'action', 'reason'])
    .where('contract_id', '=', contractId)
    .where('action', '=', 'contract.terminated')
    .execute();
  assert.deepEqual(rows, [{ actor: 'ops-test', action: 'contract.terminated', reason: 'customer moved to another vendor' }]);
});

test('workflow completes after the final close', async () => {
  assert.equal((await handle.describe()).status.name, 'COMPLETED');
  assert.equal(result.status, 'completed');
  assert.equal(result.periodIndex, 1);
  assert.equal(result.finalPeriodIndex, 1);
});

test('contract ends at period 1', async () => {
  const contract = await h.db
    .selectFrom('contracts')
    .select(['status', 'final_period_index'])
    .where('id', '=', contractId)
    .executeTakeFirstOrThrow();
  assert.equal(contract.status, 'ended');
  assert.equal(contract.final_period_index, 1);
});

test('two periods closed, the second final', () => {
  assert.deepEqual(
    statements.map((statement) => [statement.index, statement.final]),
    [
      [0, false],
      [1, true],
    ],
  );
});

test('final close forfeits and expires what is left', () => {
  // Period 0 left 50,000 unused: 12,500 rolled over. The final close forfeits period 1's
  // whole commit of 50,000 and expires the 12,500 rollover credits, whose own expiry is
  // 90 days after period 0's end.
  const final = statements[1]!;
  assert.equal(final.rolledOverCredits, '0');
  assert.equal(final.forfeitedCredits, '50000');
  assert.equal(final.expiredCredits, '12500');
});

test('two invoices of the fees', () => {
  // Platform fee 5,000.00 + commit fee (50,000 x 0.20 = 10,000.00) = 15,000.00 each.
  assert.deepEqual(
    invoices.map((invoice) => [invoice.periodIndex, invoice.total]),
    [
      [0, '15000.00'],
      [1, '15000.00'],
    ],
  );
});

test('no grant for a period after the end', async () => {
  const grants = await h.db.selectFrom('grants').select('grant_id').where('contract_id', '=', contractId).orderBy('grant_id').execute();
  assert.deepEqual(
    grants.map((grant) => grant.grant_id),
    ['commit-0', 'commit-1', 'rollover-0'],
  );
});

test('usage after the final close rejected', () => {
  assert.equal(lateUsage.length, 1);
  assert.equal(lateUsage[0]!.status, 'rejected');
  assert.equal(lateUsage[0]!.rule, 'contract_open');
});
