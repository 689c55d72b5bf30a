// Setup shared by the workflow benchmarks: an in-memory Temporal dev server, PostgreSQL,
// signed contracts, and a worker whose activities record their progress.
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
import { quietLog } from '../src/runtime/log';
import { freePort, OutputTail, stopChild, trackChild } from '../src/runtime/process';
import { ensureTemporalCli } from '../src/runtime/temporal-cli';
import { benchTerms, signBenchContract } from './contracts';
import { sleep, startBenchPostgres, type BenchPostgres } from './support';

export const TASK_QUEUE = 'trueup-bench';
/** The product's default close delay (`CLOSE_DELAY`, 1 hour). */
export const CLOSE_DELAY_MS = 3_600_000;

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
export async function forEachConcurrently<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** Signs `count` contracts of the bench terms, eight at a time; returns their ids. */
export async function signContracts(db: Db, count: number, startDate: string, termMonths: number, prefix: string): Promise<string[]> {
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

export async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${what}.`);
    await sleep(20);
  }
}

/**
 * Waits until the worker has had no workflow task or activity in flight for a quarter of
 * a second, so that CPU counters read afterwards include the tail of the work.
 */
export async function waitForIdle(worker: Worker): Promise<void> {
  let idleSince = performance.now();
  const deadline = Date.now() + 120_000;
  while (performance.now() - idleSince < 250) {
    const status = worker.getStatus();
    if (status.numInFlightWorkflowActivations > 0 || status.numInFlightActivities > 0) idleSince = performance.now();
    if (Date.now() > deadline) throw new Error('Timed out after 120 s waiting for the worker to go idle.');
    await sleep(25);
  }
}

/** Progress of the activities so far, each counted once per contract. */
export class Progress {
  readonly invoiced = new Set<string>();
  /** Contracts whose workflow loaded a schedule with its close still ahead: it sleeps next. */
  readonly asleep = new Set<string>();
  readonly noop = new Set<string>();
  lastInvoiceAt = 0;
  lastNoopAt = 0;
}

export interface WorkflowBench {
  db: Db;
  postgres: BenchPostgres;
  /** Process id of the Temporal dev server. */
  temporalPid: number;
  client: Client;
  progress: Progress;
  /** Creates the worker of the bench task queue and runs it until `stop`. */
  startWorker(): Promise<Worker>;
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL and an in-memory dev server, migrates the database and connects a
 * client. The worker, started separately, runs the real contract activities (with email
 * to an outbox folder) plus a no-op activity, each wrapped to record its progress.
 */
export async function startWorkflowBench(): Promise<WorkflowBench> {
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
  });
  const outboxDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trueup-bench-outbox-'));
  const stoppers: (() => Promise<void>)[] = [async () => fs.rmSync(outboxDir, { recursive: true, force: true })];
  const stop = async () => {
    for (const stopper of stoppers.splice(0).reverse()) {
      await stopper().catch((error: unknown) => console.error('Failed to stop part of the benchmark:', error));
    }
  };

  try {
    const postgres = await startBenchPostgres();
    stoppers.push(() => postgres.remove());
    const db = createDb(postgres.url);
    stoppers.push(() => db.destroy());
    await migrateToLatest(db);
    const server = await startInMemoryDevServer();
    stoppers.push(() => server.stop());
    const connection = await Connection.connect({ address: server.address });
    stoppers.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });

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
      // The close's last activity: after it the run continues as new and the next run,
      // given its schedule, only starts its timer.
      async raiseAlerts(input: Parameters<typeof real.raiseAlerts>[0]) {
        const result = await real.raiseAlerts(input);
        progress.asleep.add(input.contractId);
        return result;
      },
      async benchNoop(input: { contractId: string }) {
        progress.noop.add(input.contractId);
        progress.lastNoopAt = performance.now();
      },
    };

    const startWorker = async () => {
      const nativeConnection = await NativeConnection.connect({ address: server.address });
      stoppers.push(() => nativeConnection.close());
      const workflowBundle = await bundleWorkflowCode({
        workflowsPath: require.resolve('./close-workflows'),
        logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
      });
      // Sticky cache and concurrency stay at the SDK's defaults, as `trueup worker` runs them.
      const worker = await Worker.create({ connection: nativeConnection, namespace: 'default', taskQueue: TASK_QUEUE, workflowBundle, activities });
      const running = worker.run();
      stoppers.push(async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
      });
      return worker;
    };

    return { db, postgres, temporalPid: server.pid, client, progress, startWorker, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
