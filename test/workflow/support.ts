// Helpers shared by the contract workflow tests: signing through the API, moving the
// time-skipping server's clock, and reading periods and invoices back from PostgreSQL.
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createContractActivities, type ContractActivities } from '../../src/activities/contract-activities';
import type { Db } from '../../src/db/connection';
import type { PeriodStatement, UsageRow } from '../../src/domain';
import { silentLogger, TASK_QUEUE, workflowBundle, type Harness } from '../support/harness';

const examples = path.resolve(__dirname, '../../examples');

/** Polls `probe` every 100 ms until it returns a value, or fails after `timeoutMs` of wall time. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Creates a draft with `terms` and signs it through the API; returns the contract id. */
export async function signContract(h: Harness, terms: object): Promise<string> {
  const created = await h.request('POST', '/v1/contracts', { terms }, 'sales');
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const contractId: string = created.body.id;
  const signed = await h.request('POST', `/v1/contracts/${contractId}/sign`, {}, 'sales');
  assert.equal(signed.status, 200, JSON.stringify(signed.body));
  return contractId;
}

/** Skips the test server's clock forward to `instantMs`; does nothing when it is already there. */
export async function sleepUntil(env: TestWorkflowEnvironment, instantMs: number): Promise<void> {
  const gap = instantMs - (await env.currentTimeMs());
  if (gap > 0) await env.sleep(gap);
}

/** Returns the first instant of the UTC month `months` after the month of `instant`. */
export function utcMonthStart(instant: Date | number, months = 0): Date {
  const date = new Date(instant);
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, 1));
}

/** Reads the worked example's terms as plain JSON, before validation. */
export function workedExampleTermsJson(): Record<string, any> {
  return JSON.parse(fs.readFileSync(path.join(examples, 'worked-example-terms.json'), 'utf8'));
}

/** Reads the worked example's usage rows in file order. */
export function workedExampleRows(): Required<UsageRow>[] {
  const text = fs.readFileSync(path.join(examples, 'worked-example-usage.csv'), 'utf8');
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [occurredAt, meter, quantity, eventId] = line.split(',') as [string, string, string, string];
      return { occurredAt, meter, quantity, eventId };
    });
}

/**
 * Moves usage rows from the months starting at `fromStart` to the months starting at
 * `toStart`, month by month: a row keeps its offset from the start of its month. A row
 * whose offset does not fit the shorter target month moves to one second before that
 * month's end, so every row stays in the period it belonged to.
 */
export function shiftRowsByMonth<R extends UsageRow>(rows: readonly R[], fromStart: Date, toStart: Date): R[] {
  return rows.map((row) => {
    const at = Date.parse(row.occurredAt);
    const months =
      (new Date(at).getUTCFullYear() - fromStart.getUTCFullYear()) * 12 + new Date(at).getUTCMonth() - fromStart.getUTCMonth();
    const offset = at - utcMonthStart(fromStart, months).getTime();
    const targetStart = utcMonthStart(toStart, months).getTime();
    const targetEnd = utcMonthStart(toStart, months + 1).getTime();
    const shifted = Math.min(targetStart + offset, targetEnd - 1000);
    return { ...row, occurredAt: new Date(shifted).toISOString() };
  });
}

/**
 * Sends one batch of usage through `POST /v1/usage` with an ingest key of the customer
 * `acme` (the customer of the example terms) and returns each event's status.
 */
export async function postUsage(h: Harness, contractId: string, rows: readonly Required<UsageRow>[]): Promise<string[]> {
  const ingestKey = await h.keyFor('ingest', 'acme');
  const response = await h.request(
    'POST',
    '/v1/usage',
    {
      contractId,
      events: rows.map((row) => ({ eventId: row.eventId, meter: row.meter, quantity: row.quantity, occurredAt: row.occurredAt })),
    },
    ingestKey,
  );
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return (response.body.events as { status: string }[]).map((event) => event.status);
}

/**
 * Plays usage rows through the API at their own instants on a contract whose periods are
 * the UTC months from `start`, and lets the workflow close the first `periods` periods.
 * Rows at one instant go in one batch. Before the first row after a close is due, it waits
 * for that close, because a live contract has closed by then. Returns each event's status
 * by event id, once the invoices of those periods are issued.
 */
export async function playUsage(
  h: Harness,
  contractId: string,
  rows: readonly Required<UsageRow>[],
  options: { start: Date; periods: number; closeDelayMs: number },
): Promise<Map<string, string>> {
  const closeDue = (index: number) => utcMonthStart(options.start, index + 1).getTime() + options.closeDelayMs;
  const groups = new Map<string, Required<UsageRow>[]>();
  for (const row of rows) groups.set(row.occurredAt, [...(groups.get(row.occurredAt) ?? []), row]);

  const statuses = new Map<string, string>();
  let closed = 0;
  for (const [occurredAt, group] of groups) {
    const at = Date.parse(occurredAt);
    await sleepUntil(h.env, at);
    while (closed < options.periods && closeDue(closed) <= at) {
      await waitForClose(h.db, contractId, closed);
      closed += 1;
    }
    const answers = await postUsage(h, contractId, group);
    group.forEach((row, position) => statuses.set(row.eventId, answers[position]!));
  }
  for (; closed < options.periods; closed++) {
    await sleepUntil(h.env, closeDue(closed));
    await waitForClose(h.db, contractId, closed);
  }

  // The invoice activity runs after the close activity has committed the period.
  await waitFor(async () => {
    const issued = await storedInvoices(h.db, contractId);
    return issued.length >= options.periods ? issued : undefined;
  }, `the invoices of the first ${options.periods} periods`);
  return statuses;
}

/** Waits until period `periodIndex` of the contract is closed; returns its stored statement. */
export function waitForClose(db: Db, contractId: string, periodIndex: number, timeoutMs = 60_000): Promise<PeriodStatement> {
  return waitFor(
    async () => {
      const row = await db
        .selectFrom('periods')
        .select(['status', 'statement'])
        .where('contract_id', '=', contractId)
        .where('period_index', '=', periodIndex)
        .executeTakeFirst();
      return row?.status === 'closed' ? (row.statement as PeriodStatement) : undefined;
    },
    `the close of period ${periodIndex}`,
    timeoutMs,
  );
}

/** Reads the stored statements of a contract's closed periods, by period index. */
export async function storedStatements(db: Db, contractId: string): Promise<PeriodStatement[]> {
  const rows = await db
    .selectFrom('periods')
    .select('statement')
    .where('contract_id', '=', contractId)
    .where('status', '=', 'closed')
    .orderBy('period_index')
    .execute();
  return rows.map((row) => row.statement as PeriodStatement);
}

export interface StoredInvoice {
  number: string;
  kind: string;
  periodIndex: number | null;
  issuedAt: string;
  total: string;
  lines: { kind: string; description: string; quantity: string; unitPrice: string; amount: string }[];
}

/** Reads a contract's stored invoices with their lines, in number order. */
export async function storedInvoices(db: Db, contractId: string): Promise<StoredInvoice[]> {
  const invoices = await db
    .selectFrom('invoices')
    .selectAll()
    .where('contract_id', '=', contractId)
    .orderBy('number')
    .execute();
  const result: StoredInvoice[] = [];
  for (const invoice of invoices) {
    const lines = await db
      .selectFrom('invoice_lines')
      .select(['kind', 'description', 'quantity', 'unit_price', 'amount'])
      .where('invoice_number', '=', invoice.number)
      .orderBy('line_no')
      .execute();
    result.push({
      number: invoice.number,
      kind: invoice.kind,
      periodIndex: invoice.period_index,
      issuedAt: invoice.issued_at.toISOString(),
      total: invoice.total,
      lines: lines.map((line) => ({
        kind: line.kind,
        description: line.description,
        quantity: line.quantity,
        unitPrice: line.unit_price,
        amount: line.amount,
      })),
    });
  }
  return result;
}

export interface CrashingWorker {
  /** Calls of each activity this worker ran, the crashed one included. */
  calls: Map<string, number>;
  /** Resolves once the worker has crashed and stopped polling. */
  stopped: Promise<void>;
  /** Stops the worker if it is still running, for clean-up after a failed test. */
  stop(): Promise<void>;
}

/**
 * Starts a worker whose activity `crashAfter` does its work and then kills the worker
 * before reporting the result: it starts the worker's shutdown and fails, so the server
 * records a failed attempt and retries it on whichever worker polls next. This is the
 * crash that matters for exactly-once effects: the side effect is committed, but the
 * workflow never learns it. The other activities run unchanged.
 */
export async function startCrashingWorker(
  h: Harness,
  crashAfter: keyof ContractActivities,
  options: { closeDelayMs: number },
): Promise<CrashingWorker> {
  const real = createContractActivities({
    db: h.db,
    mailer: h.mailer,
    closeDelayMs: options.closeDelayMs,
    publicUrl: h.baseUrl,
    logger: silentLogger,
  });
  const calls = new Map<string, number>();
  let worker: Worker | undefined;
  let crashed = false;

  const wrapped: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const [name, activity] of Object.entries(real) as [string, (...args: unknown[]) => Promise<unknown>][]) {
    wrapped[name] = async (...args: unknown[]) => {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      const result = await activity(...args);
      if (name === crashAfter && !crashed) {
        crashed = true;
        worker!.shutdown();
        throw new Error(`Test crash: the worker stops after ${name} did its work, before reporting it.`);
      }
      return result;
    };
  }

  worker = await Worker.create({
    connection: h.env.nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle: await workflowBundle(),
    activities: wrapped,
    // No workflow cache, so no sticky queue: the test server keeps a dead worker's sticky
    // tasks without handing them to the next worker, so every task must go to the shared queue.
    maxCachedWorkflows: 0,
  });
  const running = worker;
  const stopped = worker.run();
  return {
    calls,
    stopped,
    async stop() {
      if (running.getState() === 'RUNNING') running.shutdown();
      await stopped;
    },
  };
}
