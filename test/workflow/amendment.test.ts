// An `amend` update records terms that take effect from a future period's start. Here a
// 12-month contract is amended in period 0 to a 2-month term from period 1: period 1's
// close is the final one, the workflow completes, and usage after the amended end is
// rejected.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { OPERATION_REJECTED } from '../../src/activities/operation-activities';
import type { PeriodStatement } from '../../src/domain';
import { contractWorkflowId, type AmendResult, type LifecycleState } from '../../src/workflows/messages';
import { quietTemporalRuntime } from '../support/quiet-runtime';
import { startHarness, termsStartingAfter, type Harness } from '../support/harness';
import { signContract, sleepUntil, storedInvoices, storedStatements, utcMonthStart, waitForClose, type StoredInvoice } from './support';

const DAY_MS = 86_400_000;
const CLOSE_DELAY_MS = 3_600_000;

let h: Harness;
let contractId: string;
let amended: AmendResult;
let openPeriodAmendment: unknown;
let result: LifecycleState;
let afterEnd: { status: number; events: { status: string; rule?: string }[] };
let statements: PeriodStatement[];
let invoices: StoredInvoice[];
let periodRows: number[];

before(async () => {
  quietTemporalRuntime();
  h = await startHarness({ closeDelayMs: CLOSE_DELAY_MS });
  await h.startWorker();
  const now = await h.env.currentTimeMs();
  const start = utcMonthStart(now, 1);
  const terms = termsStartingAfter(new Date(now), { termMonths: 12 });
  contractId = await signContract(h, terms);
  const handle = h.env.client.workflow.getHandle(contractWorkflowId(contractId));

  await sleepUntil(h.env, start.getTime() + DAY_MS);
  try {
    await handle.executeUpdate('amend', { args: [{ terms: { ...terms, termMonths: 2 }, effectiveFromPeriod: 0, by: 'ops-test', reason: 'shorter term' }] });
  } catch (error) {
    openPeriodAmendment = error;
  }
  amended = await handle.executeUpdate('amend', {
    args: [{ terms: { ...terms, termMonths: 2 }, effectiveFromPeriod: 1, by: 'ops-test', reason: 'customer renegotiated a shorter term' }],
  });

  // Usage of period 2, which the amended term no longer has, sent during period 2. The
  // clock passes the closes of periods 0 and 1 on the way.
  const period2 = utcMonthStart(now, 3);
  await sleepUntil(h.env, period2.getTime() + DAY_MS);
  await waitForClose(h.db, contractId, 1);
  const ingestKey = await h.keyFor('ingest', 'acme');
  const response = await h.request(
    'POST',
    '/v1/usage',
    { contractId, events: [{ eventId: 'after-amended-end', meter: 'agent_task', quantity: '1', occurredAt: new Date(period2.getTime() + DAY_MS).toISOString() }] },
    ingestKey,
  );
  afterEnd = { status: response.status, events: response.body?.events ?? [] };

  // Only now: once the workflow has completed, the test server's clock jumps to the
  // workflow's 10-year execution timeout while the client waits for the result.
  result = await handle.result();

  statements = await storedStatements(h.db, contractId);
  invoices = await storedInvoices(h.db, contractId);
  periodRows = (await h.db.selectFrom('periods').select('period_index').where('contract_id', '=', contractId).orderBy('period_index').execute()).map(
    (row) => row.period_index,
  );
});

after(async () => {
  await h?.close();
});

test('amendment of the open period rejected', () => {
  assert.ok(openPeriodAmendment instanceof WorkflowUpdateFailedError, `got ${String(openPeriodAmendment)}`);
  assert.ok(openPeriodAmendment.cause instanceof ApplicationFailure);
  assert.equal(openPeriodAmendment.cause.type, OPERATION_REJECTED);
  assert.equal(openPeriodAmendment.cause.message, 'An amendment takes effect from a future period: period 0 is open, so use 1 or later (got 0).');
});

test('amendment answer names the version', () => {
  assert.deepEqual(amended, { version: 2, effectiveFromPeriod: 1 });
});

test('workflow completes after period 1', () => {
  assert.equal(result.status, 'completed');
  assert.equal(result.periodIndex, 1);
  assert.equal(result.finalPeriodIndex, 1);
});

test('period 1 close is the final one', () => {
  assert.deepEqual(
    statements.map((statement) => [statement.index, statement.final]),
    [
      [0, false],
      [1, true],
    ],
  );
});

test('two period invoices', () => {
  assert.deepEqual(
    invoices.map((invoice) => [invoice.periodIndex, invoice.total]),
    [
      [0, '15000.00'],
      [1, '15000.00'],
    ],
  );
});

test('usage after the amended end rejected', () => {
  // A batch whose every event is rejected stores nothing: a 422 problem with each event's result.
  assert.equal(afterEnd.status, 422);
  assert.equal(afterEnd.events[0]?.status, 'rejected');
  assert.equal(afterEnd.events[0]?.rule, 'before_contract_end');
});

test('no period opened after the amended end', () => {
  assert.deepEqual(periodRows, [0, 1]);
});
