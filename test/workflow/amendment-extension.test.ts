// An `amend` update that lengthens the term: a 2-month contract amended in period 0 to a
// 3-month term from period 1 runs a third period, which accepts usage and operations and
// closes as the final one.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeriodStatement } from '../../src/domain';
import { contractWorkflowId, type AmendResult, type GrantCreditsResult, type LifecycleState } from '../../src/workflows/messages';
import { quietTemporalRuntime } from '../support/quiet-runtime';
import { startHarness, termsStartingAfter, type Harness } from '../support/harness';
import { postUsage, signContract, sleepUntil, storedInvoices, storedStatements, utcMonthStart, waitForClose, type StoredInvoice } from './support';

const DAY_MS = 86_400_000;
const CLOSE_DELAY_MS = 3_600_000;

let h: Harness;
let amended: AmendResult;
let period2Usage: string[];
let period2Grant: GrantCreditsResult | unknown;
let period2View: { currentPeriod: { index: number } | null };
let result: LifecycleState;
let statements: PeriodStatement[];
let invoices: StoredInvoice[];

before(async () => {
  quietTemporalRuntime();
  h = await startHarness({ closeDelayMs: CLOSE_DELAY_MS });
  await h.startWorker();
  const now = await h.env.currentTimeMs();
  const terms = termsStartingAfter(new Date(now), { termMonths: 2 });
  const contractId = await signContract(h, terms);
  const handle = h.env.client.workflow.getHandle(contractWorkflowId(contractId));

  await sleepUntil(h.env, utcMonthStart(now, 1).getTime() + DAY_MS);
  amended = await handle.executeUpdate('amend', {
    args: [{ terms: { ...terms, termMonths: 3 }, effectiveFromPeriod: 1, by: 'ops-test', reason: 'customer extended by a month' }],
  });

  // One day into period 2, which only the amended term has.
  const period2 = utcMonthStart(now, 3);
  await sleepUntil(h.env, period2.getTime() + DAY_MS);
  await waitForClose(h.db, contractId, 1);
  period2Usage = await postUsage(h, contractId, [
    { eventId: 'period-2', meter: 'agent_task', quantity: '100', occurredAt: new Date(period2.getTime() + DAY_MS).toISOString() },
  ]);
  period2View = (await h.request('GET', `/v1/contracts/${contractId}`, undefined, 'ops')).body;
  try {
    period2Grant = await handle.executeUpdate('grantCredits', {
      args: [{ credits: '500', expiresAt: utcMonthStart(now, 4).toISOString(), by: 'ops-test', reason: 'goodwill credits' }],
    });
  } catch (error) {
    period2Grant = error;
  }

  await sleepUntil(h.env, utcMonthStart(now, 4).getTime() + CLOSE_DELAY_MS);
  await waitForClose(h.db, contractId, 2);
  // Once the workflow has completed, the test server's clock jumps to the workflow's
  // 10-year execution timeout while the client waits for the result, so this comes last.
  result = await handle.result();
  statements = await storedStatements(h.db, contractId);
  invoices = await storedInvoices(h.db, contractId);
});

after(async () => {
  await h?.close();
});

test('amendment answer names the version', () => {
  assert.deepEqual(amended, { version: 2, effectiveFromPeriod: 1 });
});

test('added period accepts usage', () => {
  assert.deepEqual(period2Usage, ['accepted']);
});

test('contract view shows the added period open', () => {
  assert.equal(period2View.currentPeriod?.index, 2);
});

test('added period accepts a grant', () => {
  assert.equal((period2Grant as GrantCreditsResult).credits, '500', `got ${String(period2Grant)}`);
});

test('third period close is the final one', () => {
  assert.deepEqual(
    statements.map((statement) => [statement.index, statement.final]),
    [
      [0, false],
      [1, false],
      [2, true],
    ],
  );
  // 100 tasks = 1,000 credits, all within the commit.
  assert.equal(statements[2]!.consumedCredits, '1000');
});

test('workflow completes after the third period', () => {
  assert.equal(result.status, 'completed');
  assert.equal(result.periodIndex, 2);
});

test('three period invoices', () => {
  assert.deepEqual(
    invoices.map((invoice) => [invoice.periodIndex, invoice.total]),
    [
      [0, '15000.00'],
      [1, '15000.00'],
      [2, '15000.00'],
    ],
  );
});
