import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { closePeriod, initialTriggerState, parseTerms, periodBounds } from '../../src/domain';
import { listTermsVersions } from '../../src/db/contracts';
import { grantBalances } from '../../src/db/ledger';
import { signedContract, startApiServer, type ApiServer } from './support';

// 20 clients send overlapping usage at once to one contract just under its spend cap
// (throttle policy). The row lock of ingestion must keep the cap and count each event once.

const CLIENTS = 20;
const REQUESTS_PER_CLIENT = 6;
const EVENTS_PER_REQUEST = 5;
const DISTINCT_IDS = 150;

let api: ApiServer;

before(async () => {
  api = await startApiServer({ now: '2026-01-20T00:00:00Z' });
});

after(async () => {
  await api?.close();
});

/** Event `n` always has the same content, so that any two clients sending it send the same event. */
function sharedEvent(n: number) {
  return { eventId: `shared-${n}`, meter: 'agent_task', quantity: '1', occurredAt: new Date(Date.parse('2026-01-15T00:00:00Z') + n * 1000).toISOString() };
}

test('parallel clients at the cap', { timeout: 180_000 }, async () => {
  const contractId = await signedContract(api);
  const ingestKey = await api.keyFor('ingest', 'acme');

  // 88 events of 1,000 credits bring the charges to 24,880.00; 120.00 of room is left,
  // which is 461.5 credits at the overage price of 0.26, so 46 events of 10 credits fit.
  const preload = Array.from({ length: 88 }, (_, i) => ({
    eventId: `preload-${i}`,
    meter: 'agent_task',
    quantity: '100',
    occurredAt: new Date(Date.parse('2026-01-05T00:00:00Z') + i * 60_000).toISOString(),
  }));
  const loaded = await api.request('POST', '/v1/usage', { as: ingestKey, body: { contractId, events: preload } });
  assert.equal(loaded.body.summary.accepted, 88, loaded.text);

  const answers: { eventId: string; status: string; nextPeriodStart?: string }[] = [];
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let request = 0; request < REQUESTS_PER_CLIENT; request += 1) {
        const events = Array.from({ length: EVENTS_PER_REQUEST }, (_, j) => sharedEvent((client * 7 + request * 5 + j) % DISTINCT_IDS));
        const response = await api.request('POST', '/v1/usage', { as: ingestKey, body: { contractId, events } });
        statuses.push(response.status);
        if (response.status === 200) answers.push(...response.body.events);
      }
    }),
  );
  assert.ok(statuses.every((status) => status === 200), `statuses: ${[...new Set(statuses)].join(', ')}`);
  assert.equal(answers.length, CLIENTS * REQUESTS_PER_CLIENT * EVENTS_PER_REQUEST);
  assert.ok(answers.every((answer) => answer.status !== 'rejected'), 'no event is rejected');

  // Each event is accepted or deferred by exactly one request; every repeat is a duplicate.
  const counted = new Map<string, string>();
  for (const answer of answers) {
    if (answer.status !== 'accepted' && answer.status !== 'deferred') continue;
    assert.ok(!counted.has(answer.eventId), `${answer.eventId} was counted twice`);
    counted.set(answer.eventId, answer.status);
  }
  const sentIds = new Set(answers.map((answer) => answer.eventId));
  assert.equal(counted.size, sentIds.size, 'every event sent was counted once');
  for (const answer of answers) {
    if (answer.status === 'deferred') assert.equal(answer.nextPeriodStart, '2026-02-01T00:00:00.000Z');
  }

  const rows = await api.db
    .selectFrom('usage_events')
    .select(['event_id', 'status', 'credits', 'consumed_at', 'occurred_at', 'arrival_seq'])
    .where('contract_id', '=', contractId)
    .orderBy('arrival_seq')
    .execute();
  const stored = new Map(rows.map((row) => [row.event_id, row]));
  assert.equal(rows.length, 88 + counted.size, 'one row per event');
  for (const [eventId, status] of counted) {
    const row = stored.get(eventId);
    assert.ok(row, `${eventId} was answered ${status} but is not stored`);
    assert.equal(row.status, status === 'accepted' ? 'admitted' : 'deferred', eventId);
  }

  // Throttle: once an event is deferred, every later arrival of the period is deferred too.
  const firstDeferred = rows.findIndex((row) => row.status === 'deferred');
  assert.ok(firstDeferred > 0, 'the cap was reached');
  assert.ok(rows.slice(firstDeferred).every((row) => row.status === 'deferred'), 'no event admitted after the first deferral');
  assert.equal(rows.filter((row) => row.status === 'admitted').length, 88 + 46);

  // The domain's close over the stored events stays within the cap.
  const terms = parseTerms((await listTermsVersions(api.db, contractId))[0]!.terms);
  const start = periodBounds(terms, 0).start;
  const result = closePeriod({
    contractId,
    terms,
    periodIndex: 0,
    tier: 'growth',
    grants: await grantBalances(api.db, contractId, 0, start),
    admitted: rows.filter((row) => row.status === 'admitted').map((row) => ({ credits: row.credits, consumedAt: row.consumed_at.toISOString() })),
    deferred: rows
      .filter((row) => row.status === 'deferred')
      .map((row) => ({ credits: row.credits, occurredAt: row.occurred_at.toISOString(), eventId: row.event_id })),
    trigger: initialTriggerState(),
    accruedOverage: [],
    final: false,
  });
  assert.ok(Number(result.statement.charges.total) <= 25_000, `charges ${result.statement.charges.total} exceed the cap`);
  assert.equal(result.statement.charges.total, '24999.60');
});
