// Drives a replay: signs one contract per customer through the API, sends each month's
// usage through the API while the month is open, moves the test server's clock forward
// batch by batch and lets the contract workflows close every month.
import type { StoredAlert } from '../db/alerts';
import { parseTerms, periodBounds, type PeriodStatement, type Terms, type UsageRow } from '../domain';
import type { RuntimeLog } from '../runtime/log';
import { ApiClient, type EventStatus } from './client';
import { closedStatement, closedStatements, contractAlerts, contractInvoices, type IssuedInvoice } from './records';
import type { ReplayCustomer } from './scenario';
import { startReplayStack, type ReplayStack } from './stack';
import { monthOfTrace, readTrace } from './trace';

/** Maximum events in one `POST /v1/usage`, the API's limit. */
const BATCH_EVENTS = 1000;

/** Wall time allowed for a workflow to close a period once its close is due. */
const CLOSE_TIMEOUT_MS = 120_000;

export interface ReplayOptions {
  customers: readonly ReplayCustomer[];
  months: number;
  /** Sends every `sample`-th trace request, its tokens multiplied by `sample`. */
  sample: number;
  dataDir: string;
  closeDelayMs: number;
  smtpUrl: string | undefined;
  mailFrom: string;
  logLevel: string;
  log: RuntimeLog;
  /** Stops the replay between two steps, such as on Ctrl-C; the stack is then stopped too. */
  signal?: AbortSignal;
}

/** Counts of the statuses returned for one customer's events of one month. */
export interface MonthTally {
  sent: number;
  accepted: number;
  deferred: number;
  duplicate: number;
  rejected: number;
  /** Reasons of the first rejected events, for the error message. */
  rejections: string[];
}

/** One customer's contract during and after the replay. */
export interface CustomerRun {
  customer: ReplayCustomer;
  contractId: string;
  termsJson: Record<string, unknown>;
  terms: Terms;
  rows: Required<UsageRow>[];
  tallies: MonthTally[];
  statements: PeriodStatement[];
  invoices: IssuedInvoice[];
  alerts: StoredAlert[];
  /** Contract status at the end: `ended` once the final close has run. */
  status: string;
}

export interface ReplayResult {
  runs: CustomerRun[];
  startDate: string;
  mailDestination: string;
  logFile: string;
  apiUrl: string;
}

/** Progress event that the replay reports while it runs. */
export type ReplayProgress =
  | { kind: 'stack'; apiUrl: string; mailDestination: string; logFile: string }
  | { kind: 'signed'; run: CustomerRun }
  | { kind: 'closed'; periodIndex: number; runs: readonly CustomerRun[]; statements: PeriodStatement[] };

interface Batch {
  run: CustomerRun;
  rows: Required<UsageRow>[];
  /** Server time at which the batch is sent: the time of its last event. */
  postAtMs: number;
}

function emptyTally(): MonthTally {
  return { sent: 0, accepted: 0, deferred: 0, duplicate: 0, rejected: 0, rejections: [] };
}

/** Returns the first day (UTC) of the month after `instantMs`, as YYYY-MM-DD. */
export function nextMonthStart(instantMs: number): string {
  const date = new Date(instantMs);
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1)).toISOString().slice(0, 10);
}

/** Builds every usage row of a customer, month after month, in arrival order. */
function usageRows(customer: ReplayCustomer, terms: Terms, months: number, sample: number): Required<UsageRow>[] {
  const trace = readTrace(customer.traceFile);
  const rows: Required<UsageRow>[] = [];
  for (let index = 0; index < months; index++) {
    const bounds = periodBounds(terms, index);
    const plan = customer.months[index]!;
    const month = monthOfTrace(trace, {
      eventIdPrefix: `${customer.key}-m${String(index).padStart(2, '0')}`,
      start: bounds.start,
      end: bounds.end,
      volumeFactor: plan.volumeFactor,
      sample,
    });
    for (const row of month) rows.push(row);
  }
  return rows;
}

/**
 * Splits a customer's rows into batches of at most 1,000 events that never straddle a close.
 * Events before a period's close time go in batches sent before that close, because an
 * agent platform that reports promptly would have sent them by then.
 */
function batchesOf(run: CustomerRun, closeDueMs: readonly number[]): Batch[] {
  const batches: Batch[] = [];
  let current: Required<UsageRow>[] = [];
  let currentCloses = -1;
  const flush = () => {
    if (current.length === 0) return;
    batches.push({ run, rows: current, postAtMs: Date.parse(current.at(-1)!.occurredAt) });
    current = [];
  };
  let closesBefore = 0;
  for (const row of run.rows) {
    const at = Date.parse(row.occurredAt);
    while (closesBefore < closeDueMs.length && closeDueMs[closesBefore]! <= at) closesBefore++;
    if (current.length === BATCH_EVENTS || closesBefore !== currentCloses) flush();
    currentCloses = closesBefore;
    current.push(row);
  }
  flush();
  return batches;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, awaited: string, timeoutMs: number, signal?: AbortSignal): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${awaited}. The services' log in the data folder may show why.`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function countAnswers(run: CustomerRun, rows: readonly Required<UsageRow>[], statuses: readonly EventStatus[]): void {
  statuses.forEach((answer, position) => {
    const row = rows[position]!;
    const monthIndex = answer.periodIndex ?? Number(/-m(\d+)-/.exec(row.eventId)?.[1] ?? 0);
    const tally = (run.tallies[monthIndex] ??= emptyTally());
    tally.sent += 1;
    tally[answer.status] += 1;
    if (answer.status === 'rejected' && tally.rejections.length < 3) tally.rejections.push(`${answer.eventId}: ${answer.reason ?? 'rejected'}`);
  });
}

/**
 * Runs the replay on its own stack and returns what the live contracts recorded. The
 * stack is stopped before this returns, whether the replay succeeded or not.
 */
export async function runReplayScenario(options: ReplayOptions, progress: (event: ReplayProgress) => void): Promise<ReplayResult> {
  const stack = await startReplayStack(options);
  try {
    progress({ kind: 'stack', apiUrl: stack.apiUrl, mailDestination: stack.mailDestination, logFile: stack.logFile });
    return await drive(stack, options, progress);
  } finally {
    await stack.stop();
  }
}

async function drive(stack: ReplayStack, options: ReplayOptions, progress: (event: ReplayProgress) => void): Promise<ReplayResult> {
  const { months, sample } = options;
  const api = new ApiClient(stack.apiUrl, () => stack.clock.refresh());
  const salesKey = await stack.createKey('sales');
  const financeKey = await stack.createKey('finance');

  // The test server's clock starts at the real time and only moves forward, so the
  // contracts start on the first day of next month.
  const startDate = nextMonthStart(await stack.clock.refresh());
  const runs: CustomerRun[] = [];
  const ingestKeys = new Map<CustomerRun, string>();
  for (const customer of options.customers) {
    const termsJson = customer.terms(startDate, months);
    const terms = parseTerms(termsJson);
    const contractId = await api.createContract(salesKey, termsJson);
    await api.signContract(salesKey, contractId);
    const run: CustomerRun = {
      customer,
      contractId,
      termsJson,
      terms,
      rows: usageRows(customer, terms, months, sample),
      tallies: Array.from({ length: months }, emptyTally),
      statements: [],
      invoices: [],
      alerts: [],
      status: 'signed',
    };
    runs.push(run);
    ingestKeys.set(run, await stack.createKey('ingest', terms.customer.id));
    progress({ kind: 'signed', run });
  }

  // Every contract starts on the same day, so their periods close at the same instants.
  const closeDueMs = Array.from({ length: months }, (_, index) => periodBounds(runs[0]!.terms, index).end.getTime() + options.closeDelayMs);
  const batches = runs.flatMap((run) => batchesOf(run, closeDueMs)).sort((a, b) => a.postAtMs - b.postAtMs);

  const passClose = async (periodIndex: number) => {
    await stack.clock.skipTo(closeDueMs[periodIndex]!);
    const statements: PeriodStatement[] = [];
    for (const run of runs) {
      const close = `the close of period ${periodIndex} of contract ${run.contractId} (${run.customer.key})`;
      statements.push(await waitFor(() => closedStatement(api, financeKey, run.contractId, periodIndex), close, CLOSE_TIMEOUT_MS, options.signal));
      await waitFor(
        async () => ((await contractInvoices(api, financeKey, run.contractId)).some((invoice) => invoice.periodIndex === periodIndex) ? true : undefined),
        `the invoice of period ${periodIndex} of contract ${run.contractId}`,
        CLOSE_TIMEOUT_MS,
        options.signal,
      );
    }
    progress({ kind: 'closed', periodIndex, runs, statements });
  };

  let nextClose = 0;
  for (const batch of batches) {
    options.signal?.throwIfAborted();
    while (nextClose < months && batch.postAtMs >= closeDueMs[nextClose]!) await passClose(nextClose++);
    await stack.clock.skipTo(batch.postAtMs);
    const statuses = await api.postUsage(ingestKeys.get(batch.run)!, batch.run.contractId, batch.rows);
    countAnswers(batch.run, batch.rows, statuses);
  }
  while (nextClose < months) await passClose(nextClose++);

  for (const run of runs) {
    const ended = await waitFor(
      async () => {
        const contract = await api.getContract(financeKey, run.contractId);
        return contract.status === 'ended' ? contract : undefined;
      },
      `contract ${run.contractId} to end after its final close`,
      CLOSE_TIMEOUT_MS,
      options.signal,
    );
    run.status = ended.status;
    run.alerts = await waitFor(
      async () => {
        const alerts = await contractAlerts(api, financeKey, run.contractId);
        return alerts.every((alert) => alert.status === 'sent') ? alerts : undefined;
      },
      `the alert emails of contract ${run.contractId} to be delivered`,
      CLOSE_TIMEOUT_MS,
      options.signal,
    );
    run.statements = await closedStatements(api, financeKey, run.contractId);
    run.invoices = await contractInvoices(api, financeKey, run.contractId);
  }

  return { runs, startDate, mailDestination: stack.mailDestination, logFile: stack.logFile, apiUrl: stack.apiUrl };
}
