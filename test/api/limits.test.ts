import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ALL_ROUTES } from '../../src/api/catalog';
import { openApiPath } from '../../src/api/route-spec';
import { referenceTerms, signedContract, startApiServer, type ApiServer } from './support';

// Idempotency keys, the per-key rate limit, the body size limit, the OpenAPI document
// and the docs page.

let api: ApiServer;

before(async () => {
  api = await startApiServer({
    bodyLimitBytes: 16_384,
    rateLimitPerMinute: 1_000_000,
    updateResults: {
      changeTier: (request: { tier: string }) => ({ previousTier: 'growth', tier: request.tier, effective: 'now', effectiveFromPeriod: 0 }),
      grantCredits: (request: { credits: string; expiresAt: string; grantId?: string }) => ({
        grantId: request.grantId ?? 'adjustment-1',
        credits: request.credits,
        validFrom: '2026-01-15T12:00:00.000Z',
        expiresAt: request.expiresAt,
      }),
    },
  });
});

after(async () => {
  await api?.close();
});

async function contractCount(): Promise<number> {
  return (await api.rowCounts()).contracts!;
}

test('idempotency key replays the first response', async () => {
  const before = await contractCount();
  const headers = { 'idempotency-key': 'create-1' };
  const first = await api.request('POST', '/v1/contracts', { as: 'sales', body: { terms: referenceTerms() }, headers });
  assert.equal(first.status, 201, first.text);
  const second = await api.request('POST', '/v1/contracts', { as: 'sales', body: { terms: referenceTerms() }, headers });
  assert.equal(second.status, 201);
  assert.equal(second.body.id, first.body.id);
  assert.equal(second.headers.get('idempotent-replayed'), 'true');
  assert.equal(second.headers.get('location'), first.headers.get('location'));
  assert.equal(await contractCount(), before + 1);
});

test('idempotency key with other body is refused', async () => {
  const headers = { 'idempotency-key': 'create-2' };
  const first = await api.request('POST', '/v1/contracts', { as: 'sales', body: { terms: referenceTerms() }, headers });
  assert.equal(first.status, 201);
  const before = await contractCount();
  const other = await api.request('POST', '/v1/contracts', { as: 'sales', body: { terms: referenceTerms({ termMonths: 3 }) }, headers });
  assert.equal(other.status, 422);
  assert.match(other.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(other.body.type, 'urn:trueup:problem:idempotency-key-reused');
  assert.equal(other.body.errors[0].path, 'header.Idempotency-Key');
  assert.equal(await contractCount(), before);
});

test('idempotency keys are scoped per API key', async () => {
  const headers = { 'idempotency-key': 'create-3' };
  const bySales = await api.request('POST', '/v1/contracts', { as: 'sales', body: { terms: referenceTerms() }, headers });
  const byAdmin = await api.request('POST', '/v1/contracts', { as: 'admin', body: { terms: referenceTerms() }, headers });
  assert.equal(bySales.status, 201);
  assert.equal(byAdmin.status, 201);
  assert.notEqual(byAdmin.body.id, bySales.body.id);
  assert.equal(byAdmin.headers.get('idempotent-replayed'), null);
});

test('failed request leaves the key unused', async () => {
  const headers = { 'idempotency-key': 'create-4' };
  const invalid = await api.request('POST', '/v1/contracts', { as: 'sales', body: { terms: { currency: 'USD' } }, headers });
  assert.equal(invalid.status, 400);
  const valid = await api.request('POST', '/v1/contracts', { as: 'sales', body: { terms: referenceTerms() }, headers });
  assert.equal(valid.status, 201, valid.text);
});

test('invalid idempotency key header is a 400', async () => {
  const response = await api.request('POST', '/v1/contracts', {
    as: 'sales',
    body: { terms: referenceTerms() },
    headers: { 'idempotency-key': 'x'.repeat(256) },
  });
  assert.equal(response.status, 400);
  assert.equal(response.body.errors[0].path, 'header.Idempotency-Key');
});

test('replayed operation runs its update once', async () => {
  const contractId = await signedContract(api);
  const headers = { 'idempotency-key': 'grant-1' };
  const body = { credits: '500', expiresAt: '2026-03-01T00:00:00Z', reason: 'service credit for an outage' };
  const first = await api.request('POST', `/v1/contracts/${contractId}/grants`, { as: 'ops', body, headers });
  const second = await api.request('POST', `/v1/contracts/${contractId}/grants`, { as: 'ops', body, headers });
  assert.equal(first.status, 201, first.text);
  assert.deepEqual(second.body, first.body);
  const updates = api.temporalCalls.filter((call) => call.kind === 'update' && call.workflowId === `contract-${contractId}`);
  assert.equal(updates.length, 1);
  assert.match(updates[0]!.updateId ?? '', /^grantCredits-/);
  const opsKeyId = (await api.keyFor('ops')).slice(3, 15);
  assert.deepEqual(updates[0]!.args[0], { credits: '500', expiresAt: '2026-03-01T00:00:00.000Z', by: opsKeyId, reason: 'service credit for an outage' });
});

test('tier change returns what changed', async () => {
  const contractId = await signedContract(api);
  const response = await api.request('POST', `/v1/contracts/${contractId}/tier`, { as: 'ops', body: { tier: 'scale', reason: 'customer outgrew growth' } });
  assert.equal(response.status, 200, response.text);
  assert.deepEqual(response.body, { contractId, previousTier: 'growth', tier: 'scale', effective: 'now', effectiveFromPeriod: 0 });
});

test('operation on a draft is a 409', async () => {
  const created = await api.request('POST', '/v1/contracts', { body: { terms: referenceTerms() } });
  const response = await api.request('POST', `/v1/contracts/${created.body.id}/terminate`, { as: 'ops', body: { reason: 'never signed' } });
  assert.equal(response.status, 409);
  assert.equal(response.body.type, 'urn:trueup:problem:contract-not-running');
});

test('rate limit returns 429 with Retry-After', async () => {
  const limited = await startApiServer({ rateLimitPerMinute: 5 });
  try {
    const token = await limited.keyFor('finance');
    const statuses = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await limited.request('GET', '/v1/invoices', { as: token })).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);

    const refused = await limited.request('GET', '/v1/invoices', { as: token });
    assert.equal(refused.status, 429);
    assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
    // 5 a minute refill one token every 12 seconds.
    assert.equal(refused.headers.get('retry-after'), '12');
    assert.equal(refused.body.type, 'urn:trueup:problem:rate-limited');

    const otherKey = await limited.request('GET', '/v1/invoices', { as: 'account_manager' });
    assert.equal(otherKey.status, 200, 'each key has its own bucket');

    limited.advanceRateClock(12_000);
    assert.equal((await limited.request('GET', '/v1/invoices', { as: token })).status, 200);
    assert.equal((await limited.request('GET', '/v1/invoices', { as: token })).status, 429);
  } finally {
    await limited.close();
  }
});

test('body over the limit is a 413', async () => {
  const before = await api.rowCounts();
  const response = await api.request('POST', '/v1/contracts', {
    as: 'sales',
    body: { terms: referenceTerms({ padding: 'x'.repeat(20_000) }) },
  });
  assert.equal(response.status, 413);
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(response.body.type, 'urn:trueup:problem:payload-too-large');
  assert.deepEqual(await api.rowCounts(), before);
});

test('body that is not JSON is a 415', async () => {
  const response = await api.request('POST', '/v1/contracts', { as: 'sales', rawBody: 'terms=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(response.status, 415);
  assert.equal(response.body.errors[0].path, 'header.Content-Type');
});

test('OpenAPI document lists every route with roles', async () => {
  const response = await api.request('GET', '/v1/openapi.json', { as: 'none' });
  assert.equal(response.status, 200);
  const document = response.body;
  assert.equal(document.openapi, '3.1.0');
  for (const spec of ALL_ROUTES) {
    const operation = document.paths[openApiPath(spec)]?.[spec.method];
    assert.ok(operation, `${spec.method} ${openApiPath(spec)} is missing`);
    const roles = spec.roles === 'public' ? ['public'] : ['admin', ...spec.roles];
    assert.deepEqual(operation['x-roles'], roles, spec.id);
    assert.ok(operation.responses['200'] || operation.responses['201'], `${spec.id} has no success response`);
  }
  const amend = document.paths['/v1/contracts/{id}/amend'].post;
  assert.ok(amend.requestBody.content['application/json'].schema.properties.effectiveFromPeriod);
  assert.ok(amend.parameters.some((p: { name: string; in: string }) => p.name === 'Idempotency-Key' && p.in === 'header'));
});

test('docs page renders offline', async () => {
  const response = await fetch(`${api.baseUrl}/docs`);
  const html = await response.text();
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  for (const spec of ALL_ROUTES) assert.ok(html.includes(`<code>${openApiPath(spec)}</code>`), `${openApiPath(spec)} is missing`);
  assert.doesNotMatch(html, /<script|<link|src=|https?:\/\//i);
});

test('request log names route and key, never the secret', async () => {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const logged = await startApiServer({ logger });
  try {
    const token = await logged.keyFor('sales');
    const created = await logged.request('POST', '/v1/contracts', { as: token, body: { terms: referenceTerms() } });
    const id = created.body.id as string;
    await logged.request('GET', `/v1/contracts/${id}/review?secret=hunter2`, { as: token });

    // The line is written when the response finishes, which can be just after the client reads it.
    const isReview = (line: Record<string, unknown>) => line.msg === 'request' && line.route === '/v1/contracts/:id/review';
    for (let waited = 0; waited < 2000 && !lines.some(isReview); waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    const requests = lines.filter((line) => line.msg === 'request');
    const review = requests.find(isReview);
    assert.ok(review, JSON.stringify(requests));
    assert.equal(review.method, 'GET');
    assert.equal(review.status, 400);
    assert.equal(review.keyId, token.slice(3, 15));
    assert.equal(review.contractId, id);
    assert.equal(typeof review.durationMs, 'number');

    const text = lines.map((line) => JSON.stringify(line)).join('\n');
    assert.ok(!text.includes(token.slice(16)), 'the key secret is not logged');
    assert.ok(!text.includes('hunter2'), 'query strings are not logged');
  } finally {
    await logged.close();
  }
});
