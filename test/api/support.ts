import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Client } from '@temporalio/client';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { createApp } from '../../src/api/app';
import { createApiKey } from '../../src/db/api-keys';
import type { Db } from '../../src/db/connection';
import type { Role } from '../../src/db/schema';
import { migratedDatabase, silentLogger, twoMonthTerms } from '../support/harness';

/** A workflow update or query the API sent to the stubbed Temporal client. */
export interface TemporalCall {
  kind: 'start' | 'update' | 'query' | 'signal';
  workflowId: string;
  name: string;
  args: unknown[];
  updateId?: string;
}

/**
 * A Temporal client stub for routes that need no real workflow: starts and signals
 * succeed, the lifecycle query returns a running state, and each update returns what
 * `updateResults` gives for its name (or throws what it throws).
 */
export function stubTemporal(updateResults: Record<string, (request: any) => unknown> = {}) {
  const calls: TemporalCall[] = [];
  const client = {
    workflow: {
      async start(_workflow: unknown, options: { workflowId: string; args: unknown[] }) {
        calls.push({ kind: 'start', workflowId: options.workflowId, name: 'contractWorkflow', args: options.args });
        return { workflowId: options.workflowId };
      },
      getHandle(workflowId: string) {
        return {
          async executeUpdate(name: string, options: { args: unknown[]; updateId?: string }) {
            calls.push({ kind: 'update', workflowId, name, args: options.args, updateId: options.updateId });
            const result = updateResults[name];
            if (!result) throw new Error(`The stub has no result for update ${name}.`);
            return result(options.args[0]);
          },
          async query(name: string) {
            calls.push({ kind: 'query', workflowId, name, args: [] });
            return {
              contractId: workflowId.replace(/^contract-/, ''),
              status: 'running',
              periodIndex: 0,
              closeDueAt: null,
              currentTier: 'growth',
              tiers: ['growth', 'scale'],
              finalPeriodIndex: null,
              closesCompleted: 0,
            };
          },
          async signal(name: string, ...args: unknown[]) {
            calls.push({ kind: 'signal', workflowId, name, args });
          },
        };
      },
    },
    workflowService: { async getSystemInfo() {} },
    withDeadline<R>(_deadline: number | Date, fn: () => Promise<R>): Promise<R> {
      return fn();
    },
  };
  return { client: client as unknown as Client, calls };
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

export interface RequestOptions {
  /** An API key token, a role whose key the server creates, or `none` for no Authorization header. */
  as?: Role | 'none' | string;
  body?: unknown;
  /** Sent as is, instead of `body` as JSON. */
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface ApiServer {
  db: Db;
  baseUrl: string;
  temporalCalls: TemporalCall[];
  /** Sets the API's clock. */
  setNow(at: Date | string): void;
  /** Advances the rate limiter's clock. */
  advanceRateClock(ms: number): void;
  keyFor(role: Role, customerId?: string): Promise<string>;
  request(method: string, path: string, options?: RequestOptions): Promise<ApiResponse>;
  /** Row counts of every table, to check that a request wrote nothing. */
  rowCounts(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/**
 * Starts the API on a loopback port over a fresh migrated database, with a stubbed
 * Temporal client and clocks the test sets.
 */
export async function startApiServer(
  options: {
    now?: string;
    bodyLimitBytes?: number;
    rateLimitPerMinute?: number;
    closeDelayMs?: number;
    updateResults?: Record<string, (request: any) => unknown>;
    logger?: Logger;
  } = {},
): Promise<ApiServer> {
  const database = await migratedDatabase();
  const temporal = stubTemporal(options.updateResults);
  let nowMs = Date.parse(options.now ?? '2026-01-15T12:00:00Z');
  let rateClockMs = 0;

  const app = createApp({
    db: database.db,
    temporal: temporal.client,
    config: {
      temporalNamespace: 'default',
      taskQueue: 'trueup-test',
      bodyLimitBytes: options.bodyLimitBytes ?? 1_048_576,
      rateLimitPerMinute: options.rateLimitPerMinute ?? 1_000_000,
      closeDelayMs: options.closeDelayMs ?? 3_600_000,
      publicUrl: 'http://127.0.0.1',
    },
    logger: options.logger ?? silentLogger,
    now: () => new Date(nowMs),
    rateLimitClockMs: () => rateClockMs,
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
      token = (await createApiKey(database.db, { role, customerId: customerId ?? (role === 'ingest' ? 'acme' : null) })).token;
      keys.set(cacheKey, token);
    }
    return token;
  }

  return {
    db: database.db,
    baseUrl,
    temporalCalls: temporal.calls,
    setNow(at) {
      nowMs = typeof at === 'string' ? Date.parse(at) : at.getTime();
    },
    advanceRateClock(ms) {
      rateClockMs += ms;
    },
    keyFor,
    async request(method, path, requestOptions = {}) {
      const as = requestOptions.as ?? 'admin';
      const headers: Record<string, string> = { ...requestOptions.headers };
      if (as !== 'none') {
        headers.authorization ??= `Bearer ${as.startsWith('tu_') ? as : await keyFor(as as Role)}`;
      }
      let body: string | undefined = requestOptions.rawBody;
      if (body === undefined && requestOptions.body !== undefined) {
        body = JSON.stringify(requestOptions.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await fetch(`${baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: response.status, headers: response.headers, text, body: parsed };
    },
    async rowCounts() {
      const tables = [
        'contracts',
        'terms_versions',
        'periods',
        'usage_events',
        'grants',
        'ledger_movements',
        'invoices',
        'invoice_lines',
        'alerts',
        'audit_log',
        'idempotency_keys',
      ];
      const union = tables.map((table) => `select '${table}' as name, count(*)::int as n from ${table}`).join(' union all ');
      const result = await sql<{ name: string; n: number }>`${sql.raw(union)}`.execute(database.db);
      return Object.fromEntries(result.rows.map((row) => [row.name, row.n]));
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await database.drop();
    },
  };
}

/** Terms of the reference deal, starting 2026-01-01 in UTC, for two months, with the throttle cap policy. */
export function referenceTerms(overrides: Record<string, unknown> = {}) {
  return twoMonthTerms('2026-01-01', overrides);
}

/** Creates and signs a contract through the API (as admin) and returns its id. */
export async function signedContract(api: ApiServer, overrides: Record<string, unknown> = {}): Promise<string> {
  const created = await api.request('POST', '/v1/contracts', { body: { terms: referenceTerms(overrides) } });
  if (created.status !== 201) throw new Error(`Creating the draft failed: ${created.status} ${created.text}`);
  const id = created.body.id as string;
  const signed = await api.request('POST', `/v1/contracts/${id}/sign`, { body: {} });
  if (signed.status !== 200) throw new Error(`Signing failed: ${signed.status} ${signed.text}`);
  return id;
}
