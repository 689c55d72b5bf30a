// Benchmark of admission latency for one hot contract at its spend cap: GET entitlement
// and single-event POST /v1/usage, against a `SELECT 1` round trip through the same
// connection pool that the API uses.
import { sql } from 'kysely';
import { createApiKey } from '../src/db/api-keys';
import { createDb } from '../src/db/connection';
import { migrateToLatest } from '../src/db/migrate';
import { benchTerms, firstOfMonth, listenBenchApi, signalCountingClient, signBenchContract, type ApiServer } from './contracts';
import { cpuSince, fmt, nodeCpuSince, parseBenchArgs, percentile, postgresCpu, printContext, printTable, startBenchPostgres } from './support';

interface Sample {
  latencies: number[];
  seconds: number;
  nodeCpuMs: number;
  postgresCpuMs: number;
}

/**
 * Runs `operation` `count` times from each of `clients` concurrent loops, after `count / 10`
 * warm-up calls, and records each call's latency in milliseconds.
 */
async function measure(count: number, clients: number, postmasterPid: number, operation: (call: number) => Promise<void>): Promise<Sample> {
  for (let i = 0; i < Math.ceil(count / 10); i++) await operation(-i - 1);
  const latencies: number[] = [];
  const pgBefore = postgresCpu(postmasterPid);
  const nodeBefore = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < count * clients) {
        const call = next++;
        const sent = performance.now();
        await operation(call);
        latencies.push(performance.now() - sent);
      }
    }),
  );
  return {
    latencies,
    seconds: (performance.now() - started) / 1000,
    nodeCpuMs: nodeCpuSince(nodeBefore),
    postgresCpuMs: cpuSince(pgBefore, postgresCpu(postmasterPid)),
  };
}

function describe(operation: string, clients: number, sample: Sample, baselineP50: number): Record<string, string> {
  const p50 = percentile(sample.latencies, 50);
  return {
    operation,
    clients: String(clients),
    calls: fmt(sample.latencies.length),
    'p50 ms': fmt(p50, 2),
    'p99 ms': fmt(percentile(sample.latencies, 99), 2),
    'max ms': fmt(Math.max(...sample.latencies), 1),
    'calls/s': fmt(sample.latencies.length / sample.seconds),
    'p50 ÷ SELECT 1 p50': fmt(p50 / baselineP50, 1),
    'node CPU ms/call': fmt(sample.nodeCpuMs / sample.latencies.length, 2),
    'PostgreSQL CPU ms/call': fmt(sample.postgresCpuMs / sample.latencies.length, 2),
  };
}

function expectStatus(response: { status: number; text: string }, expected: number, what: string): void {
  if (response.status !== expected) throw new Error(`${what} returned status ${response.status}, expected ${expected}: ${response.text.slice(0, 500)}`);
}

async function main(): Promise<void> {
  const args = parseBenchArgs();
  printContext('Admission: one hot contract at its spend cap', args);
  const count = args.quick ? 200 : 3_000;

  const postgres = await startBenchPostgres();
  const db = createDb(postgres.url, { maxConnections: 10 });
  const { client: temporal, signals } = signalCountingClient();
  let api: ApiServer | undefined;
  try {
    await migrateToLatest(db);
    api = await listenBenchApi(db, temporal);
    const terms = benchTerms({ startDate: firstOfMonth(new Date(), 0), termMonths: 12, spendCap: '25000.00', customerId: 'hot' });
    const contractId = await signBenchContract(db, terms);
    const token = (await createApiKey(db, { role: 'ingest', customerId: 'hot' })).token;

    // Ten events of 10,000 credits: the ninth would bring the charges over the 25,000.00
    // cap (5,000 fee + 10,000 commit + 0.26 per overage credit), so the contract throttles.
    const fill = Array.from({ length: 10 }, (_, i) => ({ eventId: `fill-${i}`, meter: 'agent_task', quantity: '1000', occurredAt: new Date().toISOString() }));
    const filled = await api.request('POST', '/v1/usage', token, JSON.stringify({ contractId, events: fill }));
    expectStatus(filled, 200, 'POST /v1/usage (filling up to the cap)');
    const summary = (JSON.parse(filled.text) as { summary: { accepted: number; deferred: number } }).summary;
    if (summary.deferred === 0) throw new Error(`The contract did not reach its cap: ${filled.text.slice(0, 300)}`);

    const server = api;
    const selectOne = () => sql`SELECT 1`.execute(db).then(() => undefined);
    const entitlement = async () => {
      const response = await server.request('GET', `/v1/contracts/${contractId}/entitlement`, token);
      expectStatus(response, 200, 'GET entitlement');
    };
    const ingestOne = async (call: number) => {
      const event = { eventId: `hot-${call}`, meter: 'llm_input_token', quantity: String(1000 + (call % 977)), occurredAt: new Date().toISOString() };
      const response = await server.request('POST', '/v1/usage', token, JSON.stringify({ contractId, events: [event] }));
      expectStatus(response, 200, 'POST /v1/usage');
      if (!response.text.includes('"deferred":1')) throw new Error(`Expected the event to be deferred at the cap: ${response.text.slice(0, 300)}`);
    };

    const rows: Record<string, string>[] = [];
    const baseline = await measure(count, 1, postgres.pid, selectOne);
    const baselineP50 = percentile(baseline.latencies, 50);
    rows.push(describe('SELECT 1 (pool, baseline)', 1, baseline, baselineP50));
    rows.push(describe('GET entitlement', 1, await measure(count, 1, postgres.pid, entitlement), baselineP50));
    rows.push(describe('POST /v1/usage, 1 event', 1, await measure(count, 1, postgres.pid, ingestOne), baselineP50));
    // Four clients of one contract queue on its row lock, as agents of one customer would.
    const offset = count * 10;
    rows.push(describe('POST /v1/usage, 1 event', 4, await measure(count / 4, 4, postgres.pid, (call) => ingestOne(offset + call)), baselineP50));
    rows.push(describe('GET entitlement', 4, await measure(count / 4, 4, postgres.pid, entitlement), baselineP50));

    console.log(`The contract is throttled, so every event is deferred; each client sends one request at a time.\n`);
    printTable(rows);
    console.log(`Workflow signals for alerts raised by admission (sent to a stand-in client): ${signals()}.`);
  } finally {
    await api?.close();
    await db.destroy();
    await postgres.remove();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
