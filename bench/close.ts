// Benchmark of the monthly close: many contracts closing the same month on a local
// Temporal dev server (in memory) with the real worker, activities and PostgreSQL,
// against a baseline workflow that runs one no-op activity per contract.
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { contractWorkflowId } from '../src/workflows/messages';
import { firstOfMonth } from './contracts';
import { cpuSince, fmt, nodeCpuSince, parseBenchArgs, postgresCpu, printContext, printTable, processCpuMs } from './support';
import { CLOSE_DELAY_MS, forEachConcurrently, signContracts, startWorkflowBench, TASK_QUEUE, waitForIdle, waitUntil } from './temporal';

interface PhaseFigures {
  /** The first contract's workflow run, whose history shows what Temporal did per contract. */
  firstRun: { workflowId: string; runId: string };
  seconds: number;
  /** Seconds from the first start until every workflow waits on its next timer; the baseline has none. */
  settledSeconds: number | undefined;
  nodeCpuMs: number;
  temporalCpuMs: number;
  postgresCpuMs: number;
}

/**
 * Starts one workflow per contract, sixteen starts in flight, and waits until `done` holds.
 * The clock runs from the first start to the time `finishedAt` returns; the CPU counters
 * run until the worker is idle.
 */
async function runPhase(
  client: Client,
  worker: Worker,
  workflowType: 'contractWorkflow' | 'noopBaselineWorkflow',
  contractIds: readonly string[],
  pids: { temporal: number; postgres: number },
  done: () => boolean,
  finishedAt: () => number,
  settled?: () => boolean,
): Promise<PhaseFigures> {
  const pgBefore = postgresCpu(pids.postgres);
  const temporalBefore = processCpuMs(pids.temporal);
  const nodeBefore = process.cpuUsage();
  const started = performance.now();
  let firstRun: { workflowId: string; runId: string } | undefined;
  await forEachConcurrently(contractIds, 16, async (contractId) => {
    const handle = await client.workflow.start(workflowType, {
      workflowId: workflowType === 'contractWorkflow' ? contractWorkflowId(contractId) : `bench-noop-${contractId}`,
      taskQueue: TASK_QUEUE,
      args: [workflowType === 'contractWorkflow' ? { contractId, periodIndex: 0 } : { contractId }],
    });
    if (contractId === contractIds[0]) firstRun = { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
  });
  await waitUntil(done, 600_000, `${workflowType} of ${contractIds.length} contracts`);
  const seconds = (finishedAt() - started) / 1000;
  let settledSeconds: number | undefined;
  if (settled) {
    await waitUntil(settled, 600_000, `${contractIds.length} workflows to wait on their next close`);
    settledSeconds = (performance.now() - started) / 1000;
  }
  await waitForIdle(worker);
  return {
    firstRun: firstRun!,
    seconds,
    settledSeconds,
    nodeCpuMs: nodeCpuSince(nodeBefore),
    temporalCpuMs: processCpuMs(pids.temporal) - temporalBefore,
    postgresCpuMs: cpuSince(pgBefore, postgresCpu(pids.postgres)),
  };
}

/** Counts what one workflow run's history records: activities, workflow tasks and events. */
async function describeHistory(client: Client, label: string, run: { workflowId: string; runId?: string }): Promise<Record<string, string>> {
  const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
  const events = history.events ?? [];
  return {
    'workflow run': label,
    activities: String(events.filter((event) => event.activityTaskScheduledEventAttributes).length),
    'workflow tasks': String(events.filter((event) => event.workflowTaskCompletedEventAttributes).length),
    timers: String(events.filter((event) => event.timerStartedEventAttributes).length),
    'history events': String(events.length),
  };
}

function describePhase(label: string, count: number, phase: PhaseFigures): Record<string, string> {
  const total = phase.nodeCpuMs + phase.temporalCpuMs + phase.postgresCpuMs;
  return {
    workflow: label,
    contracts: fmt(count),
    'to last invoice or no-op s': fmt(phase.seconds, 2),
    'per second': fmt(count / phase.seconds, 1),
    'all asleep again s': phase.settledSeconds === undefined ? '-' : fmt(phase.settledSeconds, 2),
    'worker CPU ms/contract': fmt(phase.nodeCpuMs / count, 2),
    'Temporal CPU ms/contract': fmt(phase.temporalCpuMs / count, 2),
    'PostgreSQL CPU ms/contract': fmt(phase.postgresCpuMs / count, 2),
    'total CPU ms/contract': fmt(total / count, 2),
  };
}

async function main(): Promise<void> {
  const args = parseBenchArgs();
  printContext('Close: contracts closing the same month on the Temporal dev server', args);
  const closing = args.quick ? 50 : 1_000;

  const bench = await startWorkflowBench();
  try {
    const { db, client, progress } = bench;
    const pids = { temporal: bench.temporalPid, postgres: bench.postgres.pid };

    // Each contract's first period ended more than the close delay ago, so its close is
    // due as soon as its workflow starts. The second period is still open.
    const now = new Date();
    const closeMonthStart = firstOfMonth(new Date(now.getTime() - CLOSE_DELAY_MS), -1);
    const closingIds = await signContracts(db, closing, closeMonthStart, 2, 'closing');
    const baselineIds = await signContracts(db, closing, closeMonthStart, 2, 'baseline');
    const warmupIds = await signContracts(db, 20, closeMonthStart, 2, 'warmup');
    const worker = await bench.startWorker();

    // A warm-up of both workflows, so that neither phase pays for the first run of its code.
    await runPhase(client, worker, 'noopBaselineWorkflow', warmupIds, pids, () => warmupIds.every((id) => progress.noop.has(id)), () => progress.lastNoopAt);
    await runPhase(client, worker, 'contractWorkflow', warmupIds, pids, () => warmupIds.every((id) => progress.invoiced.has(id)), () => progress.lastInvoiceAt);

    const baseline = await runPhase(
      client,
      worker,
      'noopBaselineWorkflow',
      baselineIds,
      pids,
      () => baselineIds.every((id) => progress.noop.has(id)),
      () => progress.lastNoopAt,
    );
    const close = await runPhase(
      client,
      worker,
      'contractWorkflow',
      closingIds,
      pids,
      () => closingIds.every((id) => progress.invoiced.has(id)),
      () => progress.lastInvoiceAt,
      () => closingIds.every((id) => progress.asleep.has(id)),
    );

    const invoices = await db
      .selectFrom('invoices')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where('contract_id', 'in', closingIds)
      .executeTakeFirstOrThrow();
    if (Number(invoices.count) !== closing) throw new Error(`Expected ${closing} invoices after the close, found ${invoices.count}.`);

    console.log(
      `${fmt(closing)} contracts, each with its first month ended and due to close at once (start date ${closeMonthStart}, 2 months, ` +
        `close delay ${CLOSE_DELAY_MS / 60_000} min); ${fmt(closing)} baseline workflows of one no-op activity each. ` +
        `Sixteen workflow starts in flight; the worker at the SDK's defaults.\n`,
    );
    printTable([describePhase('contractWorkflow (close)', closing, close), describePhase('one no-op activity (baseline)', closing, baseline)]);
    // The run that closes ends by continuing as new. The run after it receives the next
    // schedule and starts its timer, so both runs belong to one contract's close.
    printTable([
      await describeHistory(client, 'contractWorkflow, run that closes', close.firstRun),
      await describeHistory(client, 'contractWorkflow, next run so far', { workflowId: close.firstRun.workflowId }),
      await describeHistory(client, 'one no-op activity (baseline)', baseline.firstRun),
    ]);
    const totalCpu = (phase: PhaseFigures) => phase.nodeCpuMs + phase.temporalCpuMs + phase.postgresCpuMs;
    printTable([
      {
        'close ÷ baseline, wall time': fmt(close.seconds / baseline.seconds, 2),
        'close ÷ baseline, total CPU': fmt(totalCpu(close) / totalCpu(baseline), 2),
        'close ÷ baseline, Temporal CPU': fmt(close.temporalCpuMs / baseline.temporalCpuMs, 2),
        'close ÷ baseline, worker CPU': fmt(close.nodeCpuMs / baseline.nodeCpuMs, 2),
      },
    ]);
  } finally {
    await bench.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
