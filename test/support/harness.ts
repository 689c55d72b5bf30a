import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createApp } from '../../src/api/app';
import { createApiKey } from '../../src/db/api-keys';
import { createDb, type Db } from '../../src/db/connection';
import { migrateToLatest } from '../../src/db/migrate';
import type { Role } from '../../src/db/schema';
import { createContractActivities } from '../../src/activities/contract-activities';
import { createMailer, type Mailer } from '../../src/activities/mailer';
import { testDatabase } from './postgres';
import { timeSkippingEnv } from './temporal';

export const TASK_QUEUE = 'trueup-test';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundles the workflow code once per test process; each worker reuses the bundle. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
  });
  return bundle;
}

export const silentLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** Creates a migrated database of its own for one test. */
export async function migratedDatabase(): Promise<{ db: Db; url: string; drop(): Promise<void> }> {
  const database = await testDatabase();
  // Dropping the database at the end closes its idle connections on purpose.
  const db = createDb(database.url, { maxConnections: 25, onIdleError: () => undefined });
  await migrateToLatest(db);
  return {
    db,
    url: database.url,
    async drop() {
      await db.destroy();
      await database.drop();
    },
  };
}

export interface Harness {
  env: TestWorkflowEnvironment;
  db: Db;
  mailer: Mailer;
  outboxDir: string;
  baseUrl: string;
  /** Sends a request as the given role, or as an admin key when no role is given. */
  request(method: string, route: string, body?: unknown, role?: Role | string): Promise<{ status: number; body: any }>;
  keyFor(role: Role, customerId?: string): Promise<string>;
  startWorker(): Promise<{ worker: Worker; stop(): Promise<void> }>;
  close(): Promise<void>;
}

/**
 * Starts what an end-to-end test needs: a fresh migrated database, the time-skipping
 * Temporal server, and the API on a loopback port whose clock is the server's. The
 * worker is started by the test (`startWorker`), so tests can stop and restart it.
 */
export async function startHarness(options: { closeDelayMs?: number; mailer?: Mailer } = {}): Promise<Harness> {
  const database = await migratedDatabase();
  const env = await timeSkippingEnv();
  const outboxDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trueup-outbox-'));
  const mailer = options.mailer ?? createMailer({ from: 'trueup-test@trueup.localhost', outboxDir, logger: silentLogger });
  const closeDelayMs = options.closeDelayMs ?? 3_600_000;

  let serverTimeMs = Date.now();
  const app = createApp({
    db: database.db,
    temporal: env.client,
    config: {
      temporalNamespace: 'default',
      taskQueue: TASK_QUEUE,
      bodyLimitBytes: 1_048_576,
      rateLimitPerMinute: 1_000_000,
      closeDelayMs,
      publicUrl: 'http://127.0.0.1',
    },
    logger: silentLogger,
    now: () => new Date(serverTimeMs),
  });
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const keys = new Map<string, string>();
  async function keyFor(role: Role, customerId?: string): Promise<string> {
    const cacheKey = `${role}:${customerId ?? ''}`;
    let token = keys.get(cacheKey);
    if (!token) {
      token = (await createApiKey(database.db, { role, customerId: customerId ?? null })).token;
      keys.set(cacheKey, token);
    }
    return token;
  }

  const workers: { stop(): Promise<void> }[] = [];

  return {
    env,
    db: database.db,
    mailer,
    outboxDir,
    baseUrl,
    keyFor,
    async request(method, route, body, role = 'admin') {
      serverTimeMs = await env.currentTimeMs();
      const token = role.startsWith('tu_') ? role : await keyFor(role as Role);
      const response = await fetch(`${baseUrl}${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
    async startWorker() {
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue: TASK_QUEUE,
        workflowBundle: await workflowBundle(),
        activities: createContractActivities({
          db: database.db,
          mailer,
          closeDelayMs,
          publicUrl: baseUrl,
          logger: silentLogger,
        }),
      });
      const running = worker.run();
      const handle = {
        worker,
        async stop() {
          if (worker.getState() === 'RUNNING') worker.shutdown();
          await running;
        },
      };
      workers.push(handle);
      return handle;
    },
    async close() {
      for (const worker of workers) await worker.stop().catch(() => undefined);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await env.teardown();
      await database.drop();
      fs.rmSync(outboxDir, { recursive: true, force: true });
    },
  };
}

/** Terms of the reference deal for two months from `startDate`, in UTC, with the throttle cap policy. */
export function twoMonthTerms(startDate: string, overrides: Record<string, unknown> = {}) {
  return {
    customer: { id: 'acme', name: 'Acme Corp', billingEmail: 'ap@acme.example' },
    accountManager: { name: 'Dana Reyes', email: 'dana@vendor.example' },
    currency: 'USD',
    timeZone: 'UTC',
    startDate,
    termMonths: 2,
    meters: [{ key: 'agent_task', unit: 'task', creditsPerUnit: '10' }],
    tiers: [
      { name: 'growth', commitCredits: '50000', pricePerCredit: '0.20', platformFee: '5000.00', spendCap: '25000.00' },
      { name: 'scale', commitCredits: '100000', pricePerCredit: '0.17', platformFee: '6000.00', spendCap: '40000.00' },
    ],
    initialTier: 'growth',
    overageMultiplier: '1.3',
    capPolicy: 'throttle',
    rollover: { fraction: '0.25', expiresAfterDays: 90 },
    trueUp: 'monthly',
    renegotiation: { basis: 'commit', thresholdPercent: '150', consecutivePeriods: 3, responseDays: 30 },
    alerts: { usagePercentOfCommit: ['80', '100'], spendPercentOfCap: ['90'], expiryNoticeDays: 14 },
    projection: { monthlyCredits: '60000' },
    clauses: { mostFavoredNation: false, retroactivePricing: false },
    ...overrides,
  };
}

/** Returns `twoMonthTerms` starting on the first day of the month after `now`. */
export function termsStartingAfter(now: Date, overrides: Record<string, unknown> = {}) {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return twoMonthTerms(start.toISOString().slice(0, 10), overrides);
}
