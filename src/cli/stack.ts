import fs from 'node:fs/promises';
import path from 'node:path';
import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createApp } from '../api/app';
import type { Config } from '../config';
import { createApiKey } from '../db/api-keys';
import { createDb, type Db } from '../db/connection';
import { migrateToLatest } from '../db/migrate';
import { createMailer, type Mailer } from '../activities/mailer';
import { startSignedContractWorkflows } from '../api/contract-workflows';
import { createContractWorker } from '../worker';
import { installTemporalLogger } from '../temporal-logger';

/** Something started that must be stopped on shutdown, in reverse order of start. */
export type Stopper = () => Promise<void>;

export class Stack {
  private readonly stoppers: { name: string; stop: Stopper }[] = [];

  constructor(readonly logger: Logger) {}

  add(name: string, stop: Stopper): void {
    this.stoppers.push({ name, stop });
  }

  /** Stops everything started, last first; a failure to stop one part does not skip the others. */
  async stop(): Promise<void> {
    for (const { name, stop } of this.stoppers.splice(0).reverse()) {
      try {
        await stop();
        this.logger.info({ part: name }, 'stopped');
      } catch (error) {
        this.logger.error({ part: name, err: error }, 'failed to stop cleanly');
      }
    }
  }
}

/** Connects to PostgreSQL and applies pending migrations. */
export async function openDatabase(url: string, stack: Stack): Promise<Db> {
  const db = createDb(url, { onIdleError: (error) => stack.logger.warn({ err: error }, 'PostgreSQL closed an idle connection') });
  stack.add('database pool', () => db.destroy());
  const applied = await migrateToLatest(db);
  stack.logger.info({ applied }, applied.length > 0 ? 'migrations applied' : 'database schema is up to date');
  return db;
}

/** Opens the Temporal client connection used to start and message workflows. */
export async function openTemporalClient(config: Config, address: string, stack: Stack): Promise<Client> {
  const connection = await Connection.connect({ address });
  stack.add('temporal client', () => connection.close());
  return new Client({ connection, namespace: config.temporalNamespace });
}

export function openMailer(config: Config, stack: Stack): Mailer {
  const mailer = createMailer({
    smtpUrl: config.smtpUrl,
    from: config.mailFrom,
    outboxDir: path.join(config.dataDir, 'outbox'),
    logger: stack.logger,
  });
  stack.add('mailer', async () => mailer.close());
  return mailer;
}

/** Creates the worker and runs it in the background until the stack stops. */
export async function runWorkerInBackground(
  config: Config,
  address: string,
  db: Db,
  mailer: Mailer,
  stack: Stack,
): Promise<Worker> {
  installTemporalLogger(stack.logger);
  const connection = await NativeConnection.connect({ address });
  const worker = await createContractWorker({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    db,
    mailer,
    closeDelayMs: config.closeDelayMs,
    publicUrl: config.publicUrl,
    logger: stack.logger,
    ...(config.workerMaxCachedWorkflows !== undefined ? { maxCachedWorkflows: config.workerMaxCachedWorkflows } : {}),
  });
  const running = worker.run();
  running.catch((error: unknown) => stack.logger.error({ err: error }, 'worker stopped with an error'));
  stack.add('worker', async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running.catch(() => undefined);
    await connection.close();
  });
  return worker;
}

/** Serves the API on the configured host and port until the stack stops. */
export async function listenApi(config: Config, db: Db, temporal: Client, stack: Stack): Promise<Server> {
  const app = createApp({ db, temporal, config, logger: stack.logger, now: () => new Date() });
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(config.apiPort, config.apiHost, () => resolve(listening));
    listening.once('error', reject);
  });
  stack.add('api', () => new Promise<void>((resolve) => server.close(() => resolve())));
  return server;
}

/**
 * Makes sure a first admin key exists: when the deployment has no key at all, creates
 * one and writes its token to `<dataDir>/admin-key.txt` (mode 600). Returns that path.
 */
export async function ensureFirstAdminKey(config: Config, db: Db): Promise<string | undefined> {
  const existing = await db.selectFrom('api_keys').select('id').limit(1).executeTakeFirst();
  const file = path.join(config.dataDir, 'admin-key.txt');
  if (existing) {
    return (await fs.stat(file).catch(() => undefined)) ? file : undefined;
  }
  const { token } = await createApiKey(db, { role: 'admin', label: 'first admin key, created by trueup start' });
  await fs.mkdir(config.dataDir, { recursive: true });
  await fs.writeFile(file, `${token}\n`, { mode: 0o600 });
  return file;
}

/** Starts the workflow of every signed contract that has none, e.g. after a Temporal server reset. */
export async function reconcileWorkflows(config: Config, db: Db, temporal: Client, logger: Logger): Promise<void> {
  const started = await startSignedContractWorkflows(db, temporal, config.taskQueue);
  if (started.length > 0) logger.info({ contractIds: started }, 'started missing contract workflows');
}

/** Stops the stack on Ctrl-C or SIGTERM, once, and resolves when it has stopped. */
export function stopOnSignal(stack: Stack): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      stack.logger.info({ signal }, 'shutting down');
      void stack.stop().then(resolve);
    };
    process.once('SIGINT', handler);
    process.once('SIGTERM', handler);
  });
}
