// Contracts and API setup shared by the database benchmarks: terms, signing straight in
// PostgreSQL (no workflow), and the express app on a loopback port.
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import { createApp } from '../src/api/app';
import { loadConfig } from '../src/config';
import { createDraft } from '../src/db/contracts';
import type { Db } from '../src/db/connection';
import { signContract } from '../src/db/signing';
import { parseTerms, type Terms } from '../src/domain';

export interface BenchTermsOptions {
  /** First day of the contract, `YYYY-MM-DD` in UTC. */
  startDate: string;
  termMonths: number;
  /** Spend cap of the growth tier in USD; undefined means no cap, so nothing is ever deferred. */
  spendCap: string | undefined;
  customerId: string;
}

/**
 * Terms like the reference deal without its prepaid block: a growth tier with a 50,000
 * credit commit and the scale tier above it, token meters, monthly true-up, throttling
 * at the cap.
 */
export function benchTerms(options: BenchTermsOptions): Terms {
  const cap = (value: string | undefined) => (value === undefined ? {} : { spendCap: value });
  return parseTerms({
    customer: { id: options.customerId, name: `Bench customer ${options.customerId}`, billingEmail: 'ap@bench.example' },
    accountManager: { name: 'Dana Reyes', email: 'dana@vendor.example' },
    currency: 'USD',
    timeZone: 'UTC',
    startDate: options.startDate,
    termMonths: options.termMonths,
    meters: [
      { key: 'agent_task', unit: 'task', creditsPerUnit: '10' },
      { key: 'llm_input_token', unit: 'token', creditsPerUnit: '0.001' },
      { key: 'llm_output_token', unit: 'token', creditsPerUnit: '0.004' },
    ],
    tiers: [
      { name: 'growth', commitCredits: '50000', pricePerCredit: '0.20', platformFee: '5000.00', ...cap(options.spendCap) },
      { name: 'scale', commitCredits: '100000', pricePerCredit: '0.17', platformFee: '6000.00', ...cap(options.spendCap === undefined ? undefined : '40000.00') },
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
  });
}

/** Creates and signs a contract directly in PostgreSQL, as `POST /v1/contracts` and signing would; returns its id. */
export async function signBenchContract(db: Db, terms: Terms): Promise<string> {
  const contractId = await createDraft(db, terms, 'bench');
  const signed = await signContract(db, { contractId, terms, by: 'bench', at: new Date() });
  if (!signed) throw new Error(`Contract ${contractId} could not be signed.`);
  return contractId;
}

/** `YYYY-MM-DD` of the first day of the UTC month `monthsFromNow` months from the month of `now`. */
export function firstOfMonth(now: Date, monthsFromNow: number): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + monthsFromNow, 1)).toISOString().slice(0, 10);
}

/**
 * Stands in for the Temporal client: ingestion signals the contract workflow only when
 * admission raises an alert (a few times per period), and these benchmarks run no workflow.
 */
export function signalCountingClient(): { client: Client; signals: () => number } {
  let count = 0;
  const handle = {
    signal: async () => {
      count += 1;
    },
  };
  const client = { workflow: { getHandle: () => handle } } as unknown as Client;
  return { client, signals: () => count };
}

export interface ApiServer {
  baseUrl: string;
  /** Sends one request on a kept-alive connection; returns the status, the body text and the latency. */
  request(method: 'GET' | 'POST', route: string, token: string, body?: string): Promise<{ status: number; text: string; ms: number }>;
  close(): Promise<void>;
}

/** Serves the real express app on a free port of 127.0.0.1, with the rate limit out of the way. */
export async function listenBenchApi(db: Db, temporal: Client): Promise<ApiServer> {
  const config = { ...loadConfig({}), closeDelayMs: 3_600_000, rateLimitPerMinute: 1_000_000_000, bodyLimitBytes: 4_194_304 };
  const app = createApp({ db, temporal, config, logger: pino({ level: 'silent' }), now: () => new Date() });
  const server = await new Promise<http.Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const { port } = server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  const request: ApiServer['request'] = (method, route, token, body) =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method,
          path: route,
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    request,
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
