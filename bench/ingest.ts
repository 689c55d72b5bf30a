// Benchmark of ingestion: events per second through `POST /v1/usage` (the real express
// app on loopback, the real embedded PostgreSQL), against the same rows written by plain
// multi-row INSERTs with `pg` into an identical copy of the usage_events table.
import pg from 'pg';
import { sql } from 'kysely';
import { createApiKey } from '../src/db/api-keys';
import { createDb, type Db } from '../src/db/connection';
import { migrateToLatest } from '../src/db/migrate';
import { periodIndexAt } from '../src/domain';
import { benchTerms, firstOfMonth, listenBenchApi, signalCountingClient, signBenchContract, type ApiServer } from './contracts';
import {
  cpuSince,
  fmt,
  loadTraces,
  nodeCpuSince,
  parseBenchArgs,
  percentile,
  postgresCpu,
  printContext,
  printTable,
  startBenchPostgres,
  type TraceRequest,
} from './support';

const CREDITS_PER_TOKEN = { llm_input_token: '0.001', llm_output_token: '0.004' } as const;

interface UsageEvent {
  eventId: string;
  meter: 'llm_input_token' | 'llm_output_token';
  quantity: string;
  occurredAt: string;
}

/**
 * Turns trace requests into usage events, one for the input and one for the output
 * tokens of each request. The trace's hour is replayed to end at `end`, and squeezed
 * into `[start, end)` when the open period began less than an hour ago.
 */
function replayEvents(requests: readonly TraceRequest[], start: number, end: number): UsageEvent[] {
  const span = requests[requests.length - 1]!.offsetMs + 1;
  const window = Math.min(span, end - start);
  const events: UsageEvent[] = [];
  for (const request of requests) {
    const occurredAt = new Date(end - window + Math.floor((request.offsetMs * window) / span)).toISOString();
    const id = `${request.trace}-${request.row}`;
    events.push({ eventId: `${id}-in`, meter: 'llm_input_token', quantity: String(request.inputTokens), occurredAt });
    events.push({ eventId: `${id}-out`, meter: 'llm_output_token', quantity: String(request.outputTokens), occurredAt });
  }
  return events;
}

function batchesOf<T>(items: readonly T[], size: number): T[][] {
  const batches: T[][] = [];
  for (let offset = 0; offset < items.length; offset += size) batches.push(items.slice(offset, offset + size));
  return batches;
}

interface RunFigures {
  rows: number;
  seconds: number;
  latencies: number[];
  nodeCpuMs: number;
  postgresCpuMs: number;
}

/** Sends each batch in turn as one `POST /v1/usage` and checks that every event was accepted. */
async function runApi(api: ApiServer, token: string, contractId: string, batches: readonly UsageEvent[][], postmasterPid: number): Promise<RunFigures> {
  // Bodies are serialized before the clock starts, so the client's own work is small.
  const bodies = batches.map((events) => JSON.stringify({ contractId, events }));
  const responses: string[] = [];
  const latencies: number[] = [];
  const pgBefore = postgresCpu(postmasterPid);
  const nodeBefore = process.cpuUsage();
  const started = performance.now();
  for (const body of bodies) {
    const response = await api.request('POST', '/v1/usage', token, body);
    if (response.status !== 200) throw new Error(`POST /v1/usage returned status ${response.status}: ${response.text.slice(0, 500)}`);
    latencies.push(response.ms);
    responses.push(response.text);
  }
  const seconds = (performance.now() - started) / 1000;
  const nodeCpuMs = nodeCpuSince(nodeBefore);
  const postgresCpuMs = cpuSince(pgBefore, postgresCpu(postmasterPid));

  let accepted = 0;
  for (const text of responses) accepted += (JSON.parse(text) as { summary: { accepted: number } }).summary.accepted;
  const rows = batches.reduce((n, batch) => n + batch.length, 0);
  if (accepted !== rows) throw new Error(`Only ${accepted} of ${rows} events were accepted; the benchmark expects no deferral.`);
  return { rows, seconds, latencies, nodeCpuMs, postgresCpuMs };
}

const BASELINE_COLUMNS = [
  'contract_id', 'event_id', 'meter', 'quantity', 'credits', 'occurred_at', 'arrived_at',
  'consumed_at', 'period_index', 'late', 'status', 'consumed_period_index', 'properties',
];

/**
 * Writes the rows ingestion would write, one plain multi-row INSERT per batch, into
 * `usage_events_baseline`. Statements and parameters are built before the clock starts.
 */
async function runBaseline(pool: pg.Pool, contractId: string, batches: readonly UsageEvent[][], periodIndex: number, postmasterPid: number): Promise<RunFigures> {
  const statements = batches.map((events) => {
    const values: unknown[] = [];
    const tuples = events.map((event, row) => {
      const arrivedAt = new Date();
      const credits = (Number(event.quantity) * Number(CREDITS_PER_TOKEN[event.meter])).toFixed(3);
      values.push(contractId, event.eventId, event.meter, event.quantity, credits, event.occurredAt, arrivedAt, event.occurredAt, periodIndex, false, 'admitted', periodIndex, null);
      const base = row * BASELINE_COLUMNS.length;
      return `(${BASELINE_COLUMNS.map((_, column) => `$${base + column + 1}`).join(', ')})`;
    });
    return { text: `INSERT INTO usage_events_baseline (${BASELINE_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, values };
  });
  const client = await pool.connect();
  try {
    const latencies: number[] = [];
    const pgBefore = postgresCpu(postmasterPid);
    const nodeBefore = process.cpuUsage();
    const started = performance.now();
    for (const statement of statements) {
      const sent = performance.now();
      await client.query(statement.text, statement.values);
      latencies.push(performance.now() - sent);
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      rows: batches.reduce((n, batch) => n + batch.length, 0),
      seconds,
      latencies,
      nodeCpuMs: nodeCpuSince(nodeBefore),
      postgresCpuMs: cpuSince(pgBefore, postgresCpu(postmasterPid)),
    };
  } finally {
    client.release();
  }
}

/** Creates `usage_events_baseline` with the columns, defaults, keys, checks and indexes of usage_events. */
async function createBaselineTable(db: Db): Promise<void> {
  await sql`CREATE TABLE usage_events_baseline (LIKE usage_events INCLUDING ALL)`.execute(db);
  await sql`ALTER TABLE usage_events_baseline ADD FOREIGN KEY (contract_id) REFERENCES contracts (id)`.execute(db);
}

function describeRun(label: string, batchSize: number, run: RunFigures): Record<string, string> {
  const cpuTotal = run.nodeCpuMs + run.postgresCpuMs;
  return {
    writer: label,
    batch: fmt(batchSize),
    rows: fmt(run.rows),
    'rows/s': fmt(run.rows / run.seconds),
    'p50 ms': fmt(percentile(run.latencies, 50), 1),
    'p99 ms': fmt(percentile(run.latencies, 99), 1),
    'node CPU s': fmt(run.nodeCpuMs / 1000, 2),
    'PostgreSQL CPU s': fmt(run.postgresCpuMs / 1000, 2),
    'CPU µs/row': fmt((cpuTotal * 1000) / run.rows, 1),
    'busy %': fmt((cpuTotal / 1000 / run.seconds) * 100),
  };
}

async function main(): Promise<void> {
  const args = parseBenchArgs();
  printContext('Ingestion: POST /v1/usage against plain INSERTs', args);
  const traces = loadTraces();
  const requests = args.quick ? traces.slice(0, 2_500) : traces;

  const postgres = await startBenchPostgres();
  const db = createDb(postgres.url, { maxConnections: 10 });
  const pool = new pg.Pool({ connectionString: postgres.url, max: 2 });
  const { client: temporal, signals } = signalCountingClient();
  let api: ApiServer | undefined;
  try {
    await migrateToLatest(db);
    await createBaselineTable(db);
    api = await listenBenchApi(db, temporal);

    const now = new Date();
    const startDate = firstOfMonth(now, 0);
    const terms = (customerId: string) => benchTerms({ startDate, termMonths: 12, spendCap: undefined, customerId });
    const periodStart = Date.parse(`${startDate}T00:00:00Z`);
    const events = replayEvents(requests, periodStart, now.getTime() - 1000);
    const periodIndex = periodIndexAt(terms('bench'), now)!;

    // A warm-up on a contract of its own, so that both writers run with compiled code and open connections.
    const warmupEvents = events.slice(0, 2_000);
    const warmupId = await signBenchContract(db, terms('warmup'));
    const warmupKey = (await createApiKey(db, { role: 'ingest', customerId: 'warmup' })).token;
    await runApi(api, warmupKey, warmupId, batchesOf(warmupEvents, 100), postgres.pid);
    await runBaseline(pool, warmupId, batchesOf(warmupEvents, 100), periodIndex, postgres.pid);

    const rows: Record<string, string>[] = [];
    const ratios: Record<string, string>[] = [];
    for (const batchSize of [100, 1000]) {
      const customerId = `batch-${batchSize}`;
      const contractId = await signBenchContract(db, terms(customerId));
      const token = (await createApiKey(db, { role: 'ingest', customerId })).token;
      const batches = batchesOf(events, batchSize);
      await sql`CHECKPOINT`.execute(db);
      const viaApi = await runApi(api, token, contractId, batches, postgres.pid);
      await sql`CHECKPOINT`.execute(db);
      const plain = await runBaseline(pool, contractId, batches, periodIndex, postgres.pid);
      rows.push(describeRun('POST /v1/usage', batchSize, viaApi), describeRun('plain INSERT', batchSize, plain));
      ratios.push({
        batch: fmt(batchSize),
        'API rows/s ÷ INSERT rows/s': fmt(viaApi.rows / viaApi.seconds / (plain.rows / plain.seconds), 2),
        'API CPU ÷ INSERT CPU': fmt((viaApi.nodeCpuMs + viaApi.postgresCpuMs) / (plain.nodeCpuMs + plain.postgresCpuMs), 2),
        'API share of its CPU': `${fmt((viaApi.nodeCpuMs / (viaApi.nodeCpuMs + viaApi.postgresCpuMs)) * 100)} %`,
      });
    }

    console.log(`${fmt(events.length)} events from ${fmt(requests.length)} trace requests, one client, one request at a time; no spend cap.\n`);
    printTable(rows);
    printTable(ratios);
    console.log(`Workflow signals for alerts raised by admission (sent to a stand-in client): ${signals()}.`);
  } finally {
    await api?.close();
    await pool.end();
    await db.destroy();
    await postgres.remove();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
