// The product stack of a replay, in this process: an embedded PostgreSQL of its own,
// Temporal's time-skipping test server, the contract worker and the HTTP API, with the
// API on the test server's clock so that months pass in seconds.
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import pg from 'pg';
import pino, { type Logger } from 'pino';
import { createApp } from '../api/app';
import { createMailer, type Mailer } from '../activities/mailer';
import { createApiKey } from '../db/api-keys';
import { createDb, type Db } from '../db/connection';
import { migrateToLatest } from '../db/migrate';
import type { Role } from '../db/schema';
import { startEmbeddedPostgres } from '../runtime/postgres';
import { ensureTimeSkippingServer } from '../runtime/test-server';
import type { RuntimeLog } from '../runtime/log';
import { installTemporalLogger } from '../temporal-logger';
import { createContractWorker } from '../worker';

/** File whose presence marks a folder as a replay's own, which the next replay may empty. */
const MARKER_FILE = '.trueup-replay';

const TASK_QUEUE = 'trueup-replay';

export interface ReplayStackOptions {
  /** Folder for PostgreSQL, the outbox and the service log; emptied at start. */
  dataDir: string;
  closeDelayMs: number;
  /** Sends alert emails by SMTP when set; otherwise writes them to `<dataDir>/outbox`. */
  smtpUrl: string | undefined;
  mailFrom: string;
  logLevel: string;
  log: RuntimeLog;
}

/**
 * The test server's clock as the API reads it. The API needs the time synchronously, so the
 * clock keeps the server time of its last `refresh()` and adds the wall time since, which is
 * how the server's clock moves while time skipping is locked.
 */
export class ServerClock {
  private serverMs = 0;
  private wallMs = 0;

  constructor(private readonly env: TestWorkflowEnvironment) {}

  async refresh(): Promise<number> {
    this.serverMs = await this.env.currentTimeMs();
    this.wallMs = Date.now();
    return this.serverMs;
  }

  now(): Date {
    return new Date(this.serverMs + (Date.now() - this.wallMs));
  }

  /** Skips the server's clock forward to `instantMs`, firing the timers on the way; no-op when already there. */
  async skipTo(instantMs: number): Promise<void> {
    const gap = instantMs - (await this.refresh());
    if (gap > 0) await this.env.sleep(gap);
    await this.refresh();
  }
}

export interface ReplayStack {
  db: Db;
  env: TestWorkflowEnvironment;
  clock: ServerClock;
  apiUrl: string;
  /** Destination of alert emails: the outbox folder or the SMTP server. */
  mailDestination: string;
  logFile: string;
  createKey(role: Role, customerId?: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Empties `dir` for a new replay. A folder that exists and is not empty must carry the
 * marker file of an earlier replay, so that a mistyped `--data-dir` never deletes other data.
 */
export function prepareDataDir(dir: string): void {
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
    if (!fs.existsSync(path.join(dir, MARKER_FILE))) {
      throw new Error(`${dir} is not empty and is not a replay's folder (it has no ${MARKER_FILE} file); choose another --data-dir.`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, MARKER_FILE), 'Data of the last `trueup replay`; the next replay deletes this folder.\n');
}

/**
 * Waits until no other client is connected to PostgreSQL, or `timeoutMs` has passed. A pg
 * pool's `end()` resolves before its sockets have closed, and a client that PostgreSQL's
 * shutdown disconnects first raises an error event that would crash this process.
 */
async function waitForClientsToDisconnect(adminUrl: string, timeoutMs: number): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { rows } = await client.query<{ count: string }>(
        "select count(*) as count from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()",
      );
      if (Number(rows[0]?.count) === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await client.end();
  }
}

/** Starts the time-skipping server and the SDK's client, trying once more if the JVM starts too slowly. */
async function startTimeSkippingServer(log: RuntimeLog): Promise<TestWorkflowEnvironment> {
  const executable = await ensureTimeSkippingServer(log);
  const options = executable ? { server: { executable: { type: 'existing-path' as const, path: executable } } } : {};
  try {
    return await TestWorkflowEnvironment.createTimeSkipping(options);
  } catch (error) {
    log.warn(`The time-skipping test server failed to start, trying once more: ${(error as Error).message}`);
    return TestWorkflowEnvironment.createTimeSkipping(options);
  }
}

/** Starts every part of the replay's stack; on a failure stops what had started and rethrows. */
export async function startReplayStack(options: ReplayStackOptions): Promise<ReplayStack> {
  const { dataDir, log } = options;
  prepareDataDir(dataDir);
  const logFile = path.join(dataDir, 'services.log');
  const logger: Logger = pino(
    { name: 'trueup-replay', level: options.logLevel, redact: ['req.headers.authorization', 'authorization', 'smtpUrl'] },
    pino.destination({ dest: logFile, sync: false, mkdir: true }),
  );
  const stoppers: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stoppers.splice(0).reverse()) {
      await stop().catch((error: unknown) => logger.error({ err: error }, 'failed to stop a part of the replay stack'));
    }
    logger.flush();
  };

  try {
    const postgres = await startEmbeddedPostgres({ dataDir, log, durable: false });
    stoppers.push(async () => {
      await waitForClientsToDisconnect(postgres.adminUrl, 5000);
      await postgres.stop();
    });
    const db = createDb(postgres.url);
    stoppers.push(() => db.destroy());
    await migrateToLatest(db);

    // The SDK's runtime, created with the test server's connection, must log through pino first.
    installTemporalLogger(logger);
    log.info('Starting the Temporal time-skipping test server');
    const env = await startTimeSkippingServer(log);
    stoppers.push(() => env.teardown());
    const clock = new ServerClock(env);
    await clock.refresh();

    const mailer: Mailer = createMailer({ smtpUrl: options.smtpUrl, from: options.mailFrom, outboxDir: path.join(dataDir, 'outbox'), logger });
    stoppers.push(async () => mailer.close());

    const app = createApp({
      db,
      temporal: env.client,
      config: {
        temporalNamespace: env.namespace ?? 'default',
        taskQueue: TASK_QUEUE,
        bodyLimitBytes: 4 * 1_048_576,
        rateLimitPerMinute: 1_000_000,
        closeDelayMs: options.closeDelayMs,
        publicUrl: 'http://127.0.0.1',
      },
      logger,
      now: () => clock.now(),
    });
    const server = await new Promise<Server>((resolve, reject) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
      listening.once('error', reject);
    });
    stoppers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    log.info('Bundling the contract workflow and starting the worker');
    const worker = await createContractWorker({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue: TASK_QUEUE,
      db,
      mailer,
      closeDelayMs: options.closeDelayMs,
      publicUrl: apiUrl,
      logger,
    });
    const running = worker.run();
    running.catch((error: unknown) => logger.error({ err: error }, 'worker stopped with an error'));
    stoppers.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
    });

    return {
      db,
      env,
      clock,
      apiUrl,
      mailDestination: mailer.destination,
      logFile,
      createKey: async (role, customerId) => (await createApiKey(db, { role, customerId: customerId ?? null, label: 'trueup replay' })).token,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
