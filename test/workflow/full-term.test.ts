// A 12-month contract without usage runs to the end of its term: one run per period,
// linked by continue-as-new, twelve period invoices, and a completed workflow whose
// every run keeps a short history.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { temporal } from '@temporalio/proto';
import type { PeriodStatement } from '../../src/domain';
import { contractWorkflowId, type LifecycleState } from '../../src/workflows/messages';
import { quietTemporalRuntime } from '../support/quiet-runtime';
import { startHarness, termsStartingAfter, type Harness } from '../support/harness';
import { signContract, storedInvoices, storedStatements, type StoredInvoice } from './support';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const TERM_MONTHS = 12;
// A run without usage records 46 events (52 for the last, which also ends the contract):
// the start, two schedule loads, the timer, the three close activities, delivery,
// continue-as-new and the workflow tasks between them. The server suggests continue-as-new
// at 4,096 events; a bound of 100 leaves room for a few signals and updates.
const MAX_EVENTS_PER_RUN = 100;

let h: Harness;
let contractId: string;
let result: LifecycleState;
let runs: { runId: string; events: HistoryEvent[] }[];
let statements: PeriodStatement[];
let invoices: StoredInvoice[];

before(async () => {
  quietTemporalRuntime();
  h = await startHarness();
  await h.startWorker();
  const terms = termsStartingAfter(new Date(await h.env.currentTimeMs()), { termMonths: TERM_MONTHS });
  contractId = await signContract(h, terms);

  // Awaiting the result lets the test server skip time through all twelve closes.
  const handle = h.env.client.workflow.getHandle(contractWorkflowId(contractId));
  result = await handle.result();

  // Walk the chain back from the latest run: each run's start event names the run it continues.
  runs = [];
  let runId: string | undefined = (await handle.describe()).runId;
  while (runId) {
    const history: temporal.api.history.v1.IHistory = await h.env.client.workflow
      .getHandle(contractWorkflowId(contractId), runId)
      .fetchHistory();
    const events: HistoryEvent[] = history.events ?? [];
    runs.unshift({ runId, events });
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }

  statements = await storedStatements(h.db, contractId);
  invoices = await storedInvoices(h.db, contractId);
});

after(async () => {
  await h?.close();
});

test('workflow completes after the term', async () => {
  const description = await h.env.client.workflow.getHandle(contractWorkflowId(contractId)).describe();
  assert.equal(description.status.name, 'COMPLETED');
});

test('result reports the final period completed', () => {
  assert.equal(result.status, 'completed');
  assert.equal(result.periodIndex, TERM_MONTHS - 1);
  assert.equal(result.finalPeriodIndex, TERM_MONTHS - 1);
  assert.equal(result.closesCompleted, 1);
});

test('contract row is ended', async () => {
  const contract = await h.db.selectFrom('contracts').select(['status', 'ended_at']).where('id', '=', contractId).executeTakeFirstOrThrow();
  assert.equal(contract.status, 'ended');
  assert.ok(contract.ended_at instanceof Date);
});

test('one run per period', () => {
  assert.equal(runs.length, TERM_MONTHS);
});

test('each run but the last continues as new', () => {
  runs.slice(0, -1).forEach((run, index) => {
    const last = run.events.at(-1);
    assert.ok(last?.workflowExecutionContinuedAsNewEventAttributes, `run ${index} ends with continue-as-new`);
  });
  assert.ok(runs.at(-1)!.events.at(-1)?.workflowExecutionCompletedEventAttributes, 'the last run completes');
});

test('each run history stays short', () => {
  runs.forEach((run, index) => {
    assert.ok(run.events.length < MAX_EVENTS_PER_RUN, `run ${index} has ${run.events.length} events`);
  });
});

test('twelve period invoices of the fees', () => {
  // No usage: platform fee 5,000.00 + commit fee (50,000 x 0.20 = 10,000.00) = 15,000.00 a period.
  assert.equal(invoices.length, TERM_MONTHS);
  assert.deepEqual(
    invoices.map((invoice) => invoice.periodIndex),
    Array.from({ length: TERM_MONTHS }, (_, index) => index),
  );
  for (const invoice of invoices) {
    assert.equal(invoice.total, '15000.00', `period ${invoice.periodIndex} total`);
    assert.deepEqual(
      invoice.lines.map((line) => [line.kind, line.amount]),
      [
        ['platform_fee', '5000.00'],
        ['commit_fee', '10000.00'],
      ],
      `period ${invoice.periodIndex} lines`,
    );
  }
});

test('twelve closed period statements', () => {
  assert.equal(statements.length, TERM_MONTHS);
  assert.deepEqual(
    statements.map((statement) => statement.final),
    Array.from({ length: TERM_MONTHS }, (_, index) => index === TERM_MONTHS - 1),
  );
});

test('unused commit rolls over until the final close', () => {
  // Unused 50,000 a period: 25% = 12,500 roll over and 37,500 are forfeited, except at the
  // final close, where all 50,000 are forfeited.
  statements.slice(0, -1).forEach((statement) => {
    assert.equal(statement.rolledOverCredits, '12500', `period ${statement.index} rolled over`);
    assert.equal(statement.forfeitedCredits, '37500', `period ${statement.index} forfeited`);
  });
  assert.equal(statements.at(-1)!.rolledOverCredits, '0');
  assert.equal(statements.at(-1)!.forfeitedCredits, '50000');
});

test('every rollover expires by the end', () => {
  // Eleven rollover grants of 12,500 = 137,500 credits, none used: each expires 90 days after
  // its period's end or, at the latest, at the final close.
  const expired = statements.reduce((sum, statement) => sum + Number(statement.expiredCredits), 0);
  assert.equal(expired, 137_500);
});
