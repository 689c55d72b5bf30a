import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { signedContract, startApiServer, type ApiServer } from './support';

// Each kind of usage event gets the status the billing rules give it. The contract runs
// 2026-01-01 to 2026-03-01 (two monthly periods, UTC) with a one-hour close delay; the
// API's clock is set per test.

let api: ApiServer;
let contractId: string;
let ingestKey: string;

before(async () => {
  api = await startApiServer({ now: '2026-01-15T12:00:00Z' });
  contractId = await signedContract(api);
  ingestKey = await api.keyFor('ingest', 'acme');
});

after(async () => {
  await api?.close();
});

function event(eventId: string, occurredAt: string, overrides: Record<string, unknown> = {}) {
  return { eventId, meter: 'agent_task', quantity: '1', occurredAt, ...overrides };
}

async function send(events: unknown[], id = contractId) {
  const response = await api.request('POST', '/v1/usage', { as: ingestKey, body: { contractId: id, events } });
  const body = response.body as { summary: Record<string, number>; events: any[] };
  // A batch that stores nothing gets a 422 problem document, which still lists each event's result.
  const expected = body.summary.rejected === body.events.length ? 422 : 200;
  assert.equal(response.status, expected, response.text);
  return body;
}

async function storedCount(eventId: string, id = contractId): Promise<number> {
  const rows = await api.db.selectFrom('usage_events').select('event_id').where('contract_id', '=', id).where('event_id', '=', eventId).execute();
  return rows.length;
}

test('event in the open period is accepted', async () => {
  api.setNow('2026-01-15T12:00:00Z');
  const answer = await send([event('a-1', '2026-01-15T11:00:00Z')]);
  assert.deepEqual(answer.events[0], { eventId: 'a-1', status: 'accepted', periodIndex: 0, late: false });
  assert.equal(await storedCount('a-1'), 1);
});

test('repeated event is a duplicate counted once', async () => {
  api.setNow('2026-01-15T12:00:00Z');
  await send([event('d-1', '2026-01-15T10:00:00Z')]);
  const answer = await send([event('d-1', '2026-01-15T10:00:00Z'), event('d-1', '2026-01-15T10:00:00Z')]);
  assert.equal(answer.events[0].status, 'duplicate');
  assert.equal(answer.events[1].status, 'duplicate');
  assert.deepEqual(answer.summary, { accepted: 0, deferred: 0, duplicate: 2, rejected: 0 });
  assert.equal(await storedCount('d-1'), 1);
});

test('same id with other content is a conflict', async () => {
  api.setNow('2026-01-15T12:00:00Z');
  await send([event('c-1', '2026-01-15T09:00:00Z')]);
  const answer = await send([event('c-1', '2026-01-15T09:00:00Z', { quantity: '2' })]);
  assert.equal(answer.events[0].status, 'rejected');
  assert.equal(answer.events[0].rule, 'conflict');
  assert.equal(answer.events[0].field, 'events[0].eventId');
  const stored = await api.db.selectFrom('usage_events').select('quantity').where('contract_id', '=', contractId).where('event_id', '=', 'c-1').execute();
  assert.deepEqual(stored.map((row) => Number(row.quantity)), [1]);
});

test('event over 5 minutes ahead is rejected', async () => {
  api.setNow('2026-01-15T12:00:00Z');
  const answer = await send([event('f-1', '2026-01-15T12:05:01Z'), event('f-2', '2026-01-15T12:04:59Z')]);
  assert.equal(answer.events[0].status, 'rejected');
  assert.equal(answer.events[0].rule, 'not_in_future');
  assert.equal(answer.events[0].field, 'events[0].occurredAt');
  assert.equal(answer.events[1].status, 'accepted');
  assert.equal(await storedCount('f-1'), 0);
});

test('event before the start is rejected', async () => {
  api.setNow('2026-01-15T12:00:00Z');
  const answer = await send([event('b-1', '2025-12-31T23:59:59Z')]);
  assert.equal(answer.events[0].status, 'rejected');
  assert.equal(answer.events[0].rule, 'after_contract_start');
  assert.equal(await storedCount('b-1'), 0);
});

test('unknown meter is rejected', async () => {
  api.setNow('2026-01-15T12:00:00Z');
  const answer = await send([event('m-1', '2026-01-15T11:00:00Z', { meter: 'gpu_hour' })]);
  assert.equal(answer.events[0].status, 'rejected');
  assert.equal(answer.events[0].rule, 'known_meter');
  assert.equal(answer.events[0].field, 'events[0].meter');
  assert.equal(await storedCount('m-1'), 0);
});

test('malformed events are rejected one by one', async () => {
  api.setNow('2026-01-15T12:00:00Z');
  const answer = await send([
    event('x-1', '2026-01-15T11:00:00'),
    event('x-2', '2026-01-15T11:00:00Z', { quantity: '-1' }),
    event('x-3', '2026-01-15T11:00:00Z', { quantity: 'ten' }),
    { eventId: 'x-4' },
    event('x-5', '2026-01-15T11:00:00Z'),
  ]);
  assert.deepEqual(
    answer.events.map((a) => a.status),
    ['rejected', 'rejected', 'rejected', 'rejected', 'accepted'],
  );
  assert.equal(answer.events[0].rule, 'instant_with_offset');
  assert.equal(answer.events[1].field, 'events[1].quantity');
  assert.equal(answer.events[2].field, 'events[2].quantity');
  assert.match(answer.events[3].field, /^events\[3\]/);
  for (const id of ['x-1', 'x-2', 'x-3', 'x-4']) assert.equal(await storedCount(id), 0, id);
});

test('batch with every event rejected is a 422', async () => {
  const response = await api.request('POST', '/v1/usage', {
    as: ingestKey,
    body: { contractId, events: [event('r-1', '2026-01-15T11:00:00Z', { meter: 'gpu_minute' }), event('r-2', '2025-12-31T23:00:00Z')] },
  });
  assert.equal(response.status, 422);
  assert.match(response.headers.get('content-type') ?? '', /application\/problem\+json/);
  const problem = response.body as { type: string; errors: { path: string; rule: string }[]; events: { status: string }[] };
  assert.equal(problem.type, 'urn:trueup:problem:all-events-rejected');
  assert.deepEqual(problem.errors.map((e) => e.path), ['body.events[0].meter', 'body.events[1].occurredAt']);
  assert.deepEqual(problem.events.map((e) => e.status), ['rejected', 'rejected']);
  assert.equal(await storedCount('r-1'), 0);
  assert.equal(await storedCount('r-2'), 0);
});

test('late event goes to the period open at arrival', async () => {
  // January closed at 01:00 on 1 February (its end plus the close delay).
  api.setNow('2026-02-03T00:00:00Z');
  const answer = await send([event('l-1', '2026-01-20T08:00:00Z')]);
  assert.deepEqual(answer.events[0], { eventId: 'l-1', status: 'accepted', periodIndex: 1, late: true });
  const row = await api.db
    .selectFrom('usage_events')
    .select(['period_index', 'late', 'consumed_at'])
    .where('contract_id', '=', contractId)
    .where('event_id', '=', 'l-1')
    .executeTakeFirstOrThrow();
  assert.equal(row.period_index, 1);
  assert.equal(row.late, true);
  assert.equal(row.consumed_at.toISOString(), '2026-02-03T00:00:00.000Z');
});

test('late event repeated in a batch counts once', async () => {
  // January has closed, so both copies belong to February, the period open at arrival.
  api.setNow('2026-02-03T00:00:00Z');
  const answer = await send([event('l-2', '2026-01-21T08:00:00Z'), event('l-2', '2026-01-21T08:00:00Z')]);
  assert.deepEqual(answer.events[0], { eventId: 'l-2', status: 'accepted', periodIndex: 1, late: true });
  assert.deepEqual(answer.events[1], { eventId: 'l-2', status: 'duplicate', periodIndex: 1 });
  assert.equal(await storedCount('l-2'), 1);
});

test('event within the close delay stays in its period', async () => {
  api.setNow('2026-02-01T00:30:00Z');
  const answer = await send([event('cd-1', '2026-01-31T23:59:00Z')]);
  assert.deepEqual(answer.events[0], { eventId: 'cd-1', status: 'accepted', periodIndex: 0, late: false });
});

test('event after the end is rejected', async () => {
  api.setNow('2026-02-28T23:58:00Z');
  const answer = await send([event('e-1', '2026-03-01T00:01:00Z')]);
  assert.equal(answer.events[0].status, 'rejected');
  assert.equal(answer.events[0].rule, 'before_contract_end');
  assert.equal(await storedCount('e-1'), 0);
});

test('deferred answer carries the next period start', async () => {
  api.setNow('2026-01-20T00:00:00Z');
  const capped = await signedContract(api);
  // 100 tasks are 1,000 credits. After 88 such events the charges are 24,880.00; the 89th
  // would bring them to 25,140.00, over the 25,000.00 cap, so it and every later one wait.
  const events = Array.from({ length: 90 }, (_, i) =>
    event(`cap-${i + 1}`, new Date(Date.parse('2026-01-10T00:00:00Z') + i * 60_000).toISOString(), { quantity: '100' }),
  );
  const answer = await send(events, capped);
  assert.deepEqual(answer.summary, { accepted: 88, deferred: 2, duplicate: 0, rejected: 0 });
  assert.deepEqual(answer.events[88], { eventId: 'cap-89', status: 'deferred', periodIndex: 0, late: false, nextPeriodStart: '2026-02-01T00:00:00.000Z' });
  assert.equal(answer.events[89].status, 'deferred');

  const small = await send([event('cap-small', '2026-01-19T00:00:00Z')], capped);
  assert.equal(small.events[0].status, 'deferred', 'a throttled period defers every later event');
  assert.equal(small.events[0].nextPeriodStart, '2026-02-01T00:00:00.000Z');

  const stored = await api.db.selectFrom('usage_events').select(['event_id', 'status']).where('contract_id', '=', capped).where('status', '=', 'deferred').execute();
  assert.deepEqual(stored.map((row) => row.event_id).sort(), ['cap-89', 'cap-90', 'cap-small']);
});

test('another customer cannot send usage', async () => {
  api.setNow('2026-01-15T12:00:00Z');
  const other = await api.keyFor('ingest', 'globex');
  const response = await api.request('POST', '/v1/usage', { as: other, body: { contractId, events: [event('o-1', '2026-01-15T11:00:00Z')] } });
  assert.equal(response.status, 404);
  assert.equal(await storedCount('o-1'), 0);
});
