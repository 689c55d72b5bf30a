// Benchmark of the monthly close: many contracts closing the same month on a local
// Temporal dev server (in memory) with the real worker, activities and PostgreSQL,
// against a baseline workflow that runs one no-op activity per contract. Then the
// worker's memory with many contracts asleep, waiting on their close timers.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import pino from 'pino';
import { createContractActivities } from '../src/activities/contract-activities';
import { createMailer } from '../src/activities/mailer';
import { createDb, type Db } from '../src/db/connection';
import { migrateToLatest } from '../src/db/migrate';
import { contractWorkflowId } from '../src/workflows/messages';
import { quietLog } from '../src/runtime/log';
import { freePort, OutputTail, stopChild, trackChild } from '../src/runtime/process';
import { ensureTemporalCli } from '../src/runtime/temporal-cli';
import { benchTerms, firstOfMonth, signBenchContract } from './contracts';
import { cpuSince, fmt, nodeCpuSince, parseBenchArgs, postgresCpu, printContext, printTable, processCpuMs, sleep, startBenchPostgres } from './support';

const TASK_QUEUE = 'trueup-bench';
const CLOSE_DELAY_MS = 3_600_000;
const MiB = 1024 * 1024;

interface DevServer {
  address: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` on a free port of 127.0.0.1 without a database file,
 * so its state lives in memory and is gone when it stops. No web UI.
 */
async function startInMemoryDevServer(): Promise<DevServer> {
  const cli = await ensureTemporalCli(quietLog);
  if (!cli) throw new Error('The Temporal CLI is missing and could not be built; install Go or put `temporal` on PATH, then run again.');
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const output = new OutputTail(40);
  const child: ChildProcess = spawn(
    cli,
    [
      'server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--namespace', 'default',
      '--log-format', 'json', '--log-level', 'error',
      '--dynamic-config-value', 'frontend.enableServerVersionCheck=false',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  trackChild(child, 'SIGTERM');
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk));

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`The Temporal dev server exited with ${child.exitCode} during start-up:\n${output.text()}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        break;
      } finally {
        await connection.close();
      }
    } catch {
      if (Date.now() > deadline) {
        await stopChild(child, 'SIGTERM', 15_000);
        throw new Error(`The Temporal dev server did not accept requests on ${address} within 60 s:\n${output.text()}`);
      }
      await sleep(250);
    }
  }
  return { address, pid: child.pid!, stop: () => stopChild(child, 'SIGTERM', 15_000) };
}

/** Runs `work` for each item with `concurrency` calls in flight at most. */
async function forEachConcurrently<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** Signs `count` contracts with the same terms shape, eight at a time; returns their ids. */
async function signContracts(db: Db, count: number, startDate: string, termMonths: number, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  await forEachConcurrently(
    Array.from({ length: count }, (_, i) => i),
    8,
    async (i) => {
      ids.push(await signBenchContract(db, benchTerms({ startDate, termMonths, spendCap: '25000.00', customerId: `${prefix}-${i}` })));
    },
  );
  return ids;
}

/** What the activities have done so far, counted once per contract. */
class Progress {
  readonly invoiced = new Set<string>();
  readonly asleep = new Set<string>();
  readonly noop = new Set<string>();
  lastInvoiceAt = 0;
  lastNoopAt = 0;
}

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${what}.`);
    await sleep(20);
  }
}

interface PhaseFigures {
  seconds: number;
  /** Seconds from the first start until every workflow waits on its next timer; the baseline has none. */
  settledSeconds: number | undefined;
  nodeCpuMs: number;
  temporalCpuMs: number;
  postgresCpuMs: number;
}

/**
 * Starts one workflow per contract, sixteen starts in flight, and waits until `done` holds.
 * The clock runs from the first start to the time `finishedAt` returns.
 */
async function runPhase(
  client: Client,
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
  await forEachConcurrently(contractIds, 16, async (contractId) => {
    await client.workflow.start(workflowType, {
      workflowId: workflowType === 'contractWorkflow' ? contractWorkflowId(contractId) : `bench-noop-${contractId}`,
      taskQueue: TASK_QUEUE,
      args: [workflowType === 'contractWorkflow' ? { contractId, periodIndex: 0 } : { contractId }],
    });
  });
  await waitUntil(done, 600_000, `${workflowType} of ${contractIds.length} contracts`);
  const seconds = (finishedAt() - started) / 1000;
  let settledSeconds: number | undefined;
  if (settled) {
    await waitUntil(settled, 600_000, `${contractIds.length} workflows to wait on their next close`);
    settledSeconds = (performance.now() - started) / 1000;
  }
  return {
    seconds,
    settledSeconds,
    nodeCpuMs: nodeCpuSince(nodeBefore),
    temporalCpuMs: processCpuMs(pids.temporal) - temporalBefore,
    postgresCpuMs: cpuSince(pgBefore, postgresCpu(pids.postgres)),
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

function memoryNow(): NodeJS.MemoryUsage {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage();
}

async function main(): Promise<void> {
  const args = parseBenchArgs();
  printContext('Close: contracts closing the same month on the Temporal dev server', args);
  const closing = args.quick ? 50 : 1_000;
  const asleepTarget = args.quick ? 300 : 10_000;
  if (!(globalThis as { gc?: unknown }).gc) console.log('Run with node --expose-gc for heap figures after a full collection.\n');

  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
  });
  const outboxDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trueup-bench-outbox-'));
  const postgres = await startBenchPostgres();
  const db = createDb(postgres.url);
  let server: DevServer | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let connection: Connection | undefined;
  let nativeConnection: NativeConnection | undefined;
  try {
    await migrateToLatest(db);
    server = await startInMemoryDevServer();
    const pids = { temporal: server.pid, postgres: postgres.pid };

    // Each contract's first period ended more than the close delay ago, so its close is
    // due as soon as its workflow starts; the second period is still open.
    const now = new Date();
    const closeMonthStart = firstOfMonth(new Date(now.getTime() - CLOSE_DELAY_MS), -1);
    const signingStarted = performance.now();
    const closingIds = await signContracts(db, closing, closeMonthStart, 2, 'closing');
    const baselineIds = await signContracts(db, closing, closeMonthStart, 2, 'baseline');
    const warmupIds = await signContracts(db, 20, closeMonthStart, 2, 'warmup');
    const asleepIds = await signContracts(db, Math.max(0, asleepTarget - closing), firstOfMonth(now, 0), 12, 'asleep');
    const signingSeconds = (performance.now() - signingStarted) / 1000;

    const logger = pino({ level: 'silent' });
    const mailer = createMailer({ from: 'bench@trueup.localhost', outboxDir, logger });
    const real = createContractActivities({ db, mailer, closeDelayMs: CLOSE_DELAY_MS, publicUrl: 'http://127.0.0.1', logger });
    const progress = new Progress();
    const activities = {
      ...real,
      async issueInvoices(input: Parameters<typeof real.issueInvoices>[0]) {
        const result = await real.issueInvoices(input);
        progress.invoiced.add(input.contractId);
        progress.lastInvoiceAt = performance.now();
        return result;
      },
      async loadSchedule(input: Parameters<typeof real.loadSchedule>[0]) {
        const schedule = await real.loadSchedule(input);
        if (Date.parse(schedule.closeDueAt) > Date.now()) progress.asleep.add(input.contractId);
        return schedule;
      },
      async benchNoop(input: { contractId: string }) {
        progress.noop.add(input.contractId);
        progress.lastNoopAt = performance.now();
      },
    };

    const memoryBeforeWorker = memoryNow();
    nativeConnection = await NativeConnection.connect({ address: server.address });
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, namespace: 'default' });
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('./close-workflows'),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
    });
    worker = await Worker.create({ connection: nativeConnection, namespace: 'default', taskQueue: TASK_QUEUE, workflowBundle, activities });
    running = worker.run();

    // A warm-up of both workflows, so that neither phase pays for the first run of its code.
    await runPhase(client, 'noopBaselineWorkflow', warmupIds, pids, () => warmupIds.every((id) => progress.noop.has(id)), () => progress.lastNoopAt);
    await runPhase(client, 'contractWorkflow', warmupIds, pids, () => warmupIds.every((id) => progress.invoiced.has(id)), () => progress.lastInvoiceAt);

    const baseline = await runPhase(
      client,
      'noopBaselineWorkflow',
      baselineIds,
      pids,
      () => baselineIds.every((id) => progress.noop.has(id)),
      () => progress.lastNoopAt,
    );
    const close = await runPhase(
      client,
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
        `Signing ${fmt(closing * 2 + 20 + asleepIds.length)} contracts beforehand took ${fmt(signingSeconds, 1)} s.\n`,
    );
    printTable([describePhase('contractWorkflow (close)', closing, close), describePhase('one no-op activity (baseline)', closing, baseline)]);
    const totalCpu = (phase: PhaseFigures) => phase.nodeCpuMs + phase.temporalCpuMs + phase.postgresCpuMs;
    printTable([
      {
        'close ÷ baseline, wall time': fmt(close.seconds / baseline.seconds, 2),
        'close ÷ baseline, total CPU': fmt(totalCpu(close) / totalCpu(baseline), 2),
        'close ÷ baseline, Temporal CPU': fmt(close.temporalCpuMs / baseline.temporalCpuMs, 2),
      },
    ]);

    // Memory with contracts asleep: the closed ones wait for their second period's close,
    // and the rest are started in their first period.
    const memoryBeforeAsleep = memoryNow();
    const asleepStarted = performance.now();
    await forEachConcurrently(asleepIds, 16, async (contractId) => {
      await client.workflow.start('contractWorkflow', {
        workflowId: contractWorkflowId(contractId),
        taskQueue: TASK_QUEUE,
        args: [{ contractId, periodIndex: 0 }],
      });
    });
    await waitUntil(() => asleepIds.every((id) => progress.asleep.has(id)), 600_000, `${asleepIds.length} workflows to fall asleep`);
    await waitUntil(() => worker!.getStatus().numInFlightWorkflowActivations === 0, 60_000, 'the worker to finish its workflow tasks');
    const asleepSeconds = (performance.now() - asleepStarted) / 1000;
    await sleep(2_000);
    const memoryAsleep = memoryNow();
    const status = worker.getStatus();
    const asleepCount = closingIds.length + warmupIds.length + asleepIds.length;

    console.log(
      `${fmt(asleepCount)} contract workflows asleep on their close timers (${fmt(asleepIds.length)} started in ${fmt(asleepSeconds, 1)} s). ` +
        `Memory of the process that runs the worker (the benchmark's client and pool included), after a full garbage collection:\n`,
    );
    const row = (label: string, memory: NodeJS.MemoryUsage) => ({
      when: label,
      'RSS MiB': fmt(memory.rss / MiB, 1),
      'heap used MiB': fmt(memory.heapUsed / MiB, 1),
      'heap total MiB': fmt(memory.heapTotal / MiB, 1),
      'external MiB': fmt(memory.external / MiB, 1),
    });
    printTable([
      row('before the worker started', memoryBeforeWorker),
      row(`after the close (${fmt(closing + warmupIds.length)} asleep)`, memoryBeforeAsleep),
      row(`${fmt(asleepCount)} asleep`, memoryAsleep),
    ]);
    const { options } = worker;
    printTable([
      {
        'cached workflows': fmt(status.numCachedWorkflows),
        'maxCachedWorkflows (default)': fmt(options.maxCachedWorkflows),
        'V8 heap limit MiB': fmt(require('node:v8').getHeapStatistics().heap_size_limit / MiB),
        reuseV8Context: String(options.reuseV8Context),
        'RSS KiB per asleep contract': fmt((memoryAsleep.rss - memoryBeforeAsleep.rss) / 1024 / Math.max(1, asleepIds.length), 1),
        'heap KiB per asleep contract': fmt((memoryAsleep.heapUsed - memoryBeforeAsleep.heapUsed) / 1024 / Math.max(1, asleepIds.length), 1),
      },
    ]);
  } finally {
    if (worker && worker.getState() === 'RUNNING') worker.shutdown();
    await running?.catch((error: unknown) => console.error('The worker stopped with an error:', error));
    await nativeConnection?.close();
    await connection?.close();
    await server?.stop();
    await db.destroy();
    await postgres.remove();
    fs.rmSync(outboxDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
