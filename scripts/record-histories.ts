// Records event histories of the contract workflow for the replay test.
//
//   node --import tsx scripts/record-histories.ts [output folder]
//
// Runs representative contracts on the time-skipping test server with a fresh embedded
// PostgreSQL (the same setup as the workflow tests) and writes one JSON history per
// scenario, as `handle.fetchHistory()` returns it, into test/fixtures/histories unless an
// output folder is given. Re-record after a deliberate, versioned change to the workflow,
// as docs/workflow-versioning.md describes. Keep the old files too while runs recorded by
// the old code may still be open.
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { contractWorkflowId } from '../src/workflows/messages';
import { historyToJson } from '../test/support/history-json';
import { quietTemporalRuntime } from '../test/support/quiet-runtime';
import { startHarness, termsStartingAfter, type Harness } from '../test/support/harness';
import { postUsage, signContract, sleepUntil, utcMonthStart, waitFor, waitForClose } from '../test/workflow/support';

const DAY_MS = 86_400_000;
const CLOSE_DELAY_MS = 3_600_000;

interface Recorded {
  contractId: string;
  handle: WorkflowHandle;
  firstRunId: string;
  periodStart: Date;
  periodEnd: Date;
}

/** Signs a contract starting next month and moves the clock one day into its first period. */
async function startContract(h: Harness, overrides: Record<string, unknown>): Promise<Recorded> {
  const now = await h.env.currentTimeMs();
  const contractId = await signContract(h, termsStartingAfter(new Date(now), overrides));
  const handle = h.env.client.workflow.getHandle(contractWorkflowId(contractId));
  const firstRunId = (await handle.describe()).runId;
  const periodStart = utcMonthStart(now, 1);
  await sleepUntil(h.env, periodStart.getTime() + DAY_MS);
  return { contractId, handle, firstRunId, periodStart, periodEnd: utcMonthStart(now, 2) };
}

/** Moves the clock past the first close and waits until the first run has ended. */
async function finishFirstRun(h: Harness, recorded: Recorded): Promise<void> {
  await sleepUntil(h.env, recorded.periodEnd.getTime() + CLOSE_DELAY_MS + 60_000);
  await waitForClose(h.db, recorded.contractId, 0);
  const firstRun = h.env.client.workflow.getHandle(contractWorkflowId(recorded.contractId), recorded.firstRunId);
  await waitFor(async () => {
    const status = (await firstRun.describe()).status.name;
    return status === 'RUNNING' ? undefined : status;
  }, `the end of the first run of contract ${recorded.contractId}`);
}

async function writeHistory(h: Harness, recorded: Recorded, outputDir: string, name: string): Promise<void> {
  const history = await h.env.client.workflow.getHandle(contractWorkflowId(recorded.contractId), recorded.firstRunId).fetchHistory();
  const file = path.join(outputDir, `${name}.json`);
  fs.writeFileSync(file, historyToJson(history));
  process.stderr.write(`wrote ${file} (${history.events?.length ?? 0} events)\n`);
}

/** Records a first period whose usage raises an alert (a signal and a delivery), then its close and continue-as-new. */
async function closeWithUsageAlert(h: Harness, outputDir: string): Promise<void> {
  const recorded = await startContract(h, { termMonths: 12 });
  // 4,500 tasks = 45,000 credits, 90% of the 50,000 commit: the 80% usage alert is raised.
  await postUsage(h, recorded.contractId, [
    { eventId: 'record-1', meter: 'agent_task', quantity: '4500', occurredAt: new Date(recorded.periodStart.getTime() + DAY_MS).toISOString() },
  ]);
  await finishFirstRun(h, recorded);
  await writeHistory(h, recorded, outputDir, 'close-with-usage-alert');
}

/** Records a one-period contract with an upgrade, a downgrade the activity rejects, a grant, then the final close. */
async function operationsThenClose(h: Harness, outputDir: string): Promise<void> {
  const recorded = await startContract(h, { termMonths: 1 });
  const by = 'record-histories';
  await recorded.handle.executeUpdate('changeTier', { args: [{ tier: 'scale', by, reason: 'more room for a launch' }] });
  try {
    await recorded.handle.executeUpdate('changeTier', { args: [{ tier: 'growth', by, reason: 'launch postponed' }] });
    throw new Error('The downgrade in the last period was expected to be rejected.');
  } catch (error) {
    if (!(error instanceof WorkflowUpdateFailedError)) throw error;
  }
  await recorded.handle.executeUpdate('grantCredits', {
    args: [{ credits: '5000', expiresAt: recorded.periodEnd.toISOString(), by, reason: 'goodwill credits' }],
  });
  await finishFirstRun(h, recorded);
  await writeHistory(h, recorded, outputDir, 'operations-then-final-close');
}

/** Records a termination in the first period, whose close is then the final one, and the workflow's completion. */
async function terminateThenComplete(h: Harness, outputDir: string): Promise<void> {
  const recorded = await startContract(h, { termMonths: 12 });
  await recorded.handle.executeUpdate('terminate', { args: [{ by: 'record-histories', reason: 'customer left' }] });
  await finishFirstRun(h, recorded);
  await writeHistory(h, recorded, outputDir, 'terminate-then-complete');
}

async function main(): Promise<void> {
  const outputDir = path.resolve(process.argv[2] ?? path.join(__dirname, '../test/fixtures/histories'));
  fs.mkdirSync(outputDir, { recursive: true });
  quietTemporalRuntime();
  const h = await startHarness({ closeDelayMs: CLOSE_DELAY_MS });
  try {
    await h.startWorker();
    await closeWithUsageAlert(h, outputDir);
    await operationsThenClose(h, outputDir);
    await terminateThenComplete(h, outputDir);
  } finally {
    await h.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`Recording histories failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
