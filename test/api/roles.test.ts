import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_ROUTES, ROUTES } from '../../src/api/catalog';
import type { RouteSpec } from '../../src/api/route-spec';
import type { Role } from '../../src/db/schema';
import { referenceTerms, startApiServer, type ApiServer } from './support';

// Every route with every kind of caller: allowed exactly where the catalog allows, with
// ingest keys confined to their own customer's contracts.

type Caller = { name: string; token: () => Promise<string | undefined>; role?: Role; customer?: string };

const UNKNOWN_TOKEN = `tu_AAAAAAAAAAAA_${'B'.repeat(43)}`;

let api: ApiServer;
let contractId: string;
let invoiceNumber: string;

const updateResults = {
  amend: () => ({ version: 2, effectiveFromPeriod: 1 }),
  terminate: () => ({ finalPeriodIndex: 0, endsAt: '2026-02-01T00:00:00.000Z' }),
  changeTier: () => ({ previousTier: 'growth', tier: 'scale', effective: 'now', effectiveFromPeriod: 0 }),
  grantCredits: () => ({ grantId: 'g-1', credits: '100', validFrom: '2026-01-15T12:00:00.000Z', expiresAt: '2026-03-01T00:00:00.000Z' }),
};

before(async () => {
  api = await startApiServer({ updateResults });
  const terms = referenceTerms({
    prepaid: [{ credits: '120000', discount: '0.15', purchasedOn: '2026-01-01', expiresAfterMonths: 12 }],
  });
  const created = await api.request('POST', '/v1/contracts', { body: { terms } });
  assert.equal(created.status, 201, created.text);
  contractId = created.body.id;
  const signed = await api.request('POST', `/v1/contracts/${contractId}/sign`, { body: {} });
  assert.equal(signed.status, 200, signed.text);
  const invoice = await api.db.selectFrom('invoices').select('number').where('contract_id', '=', contractId).executeTakeFirstOrThrow();
  invoiceNumber = invoice.number;
});

after(async () => {
  await api?.close();
});

const callers: Caller[] = [
  ...(['admin', 'sales', 'ops', 'account_manager', 'finance'] as Role[]).map((role) => ({ name: role, role, token: () => api.keyFor(role) })),
  { name: 'ingest of the customer', role: 'ingest', customer: 'acme', token: () => api.keyFor('ingest', 'acme') },
  { name: 'ingest of another customer', role: 'ingest', customer: 'globex', token: () => api.keyFor('ingest', 'globex') },
  { name: 'no key', token: async () => undefined },
  { name: 'unknown key', token: async () => UNKNOWN_TOKEN },
];

/** A request each route accepts from an allowed caller (it may still get a 409 where the state forbids a repeat). */
function requestFor(spec: RouteSpec, attempt: number): { path: string; body?: unknown } {
  const path = `/v1${spec.path}`.replace(':id', contractId).replace(':number', invoiceNumber);
  switch (spec) {
    case ROUTES.createContract:
    case ROUTES.replaceTerms:
      return { path, body: { terms: referenceTerms() } };
    case ROUTES.signContract:
      return { path, body: {} };
    case ROUTES.amendContract:
      return { path, body: { terms: referenceTerms(), effectiveFromPeriod: 1, reason: 'price change agreed' } };
    case ROUTES.terminateContract:
      return { path, body: { reason: 'customer asked to end' } };
    case ROUTES.changeTier:
      return { path, body: { tier: 'scale', reason: 'customer outgrew growth' } };
    case ROUTES.grantCredits:
      return { path, body: { credits: '100', expiresAt: '2026-03-01T00:00:00Z', reason: 'service credit' } };
    case ROUTES.ingestUsage:
      return {
        path,
        body: { contractId, events: [{ eventId: `roles-${attempt}`, meter: 'agent_task', quantity: '1', occurredAt: '2026-01-15T11:00:00Z' }] },
      };
    default:
      return { path };
  }
}

function isAllowed(spec: RouteSpec, caller: Caller): boolean {
  if (spec.roles === 'public') return true;
  if (caller.role === undefined) return false;
  return caller.role === 'admin' || (spec.roles as readonly Role[]).includes(caller.role);
}

test('every route answers every caller as its roles say', async () => {
  let attempt = 0;
  const failures: string[] = [];
  for (const spec of ALL_ROUTES) {
    for (const caller of callers) {
      attempt += 1;
      const { path, body } = requestFor(spec, attempt);
      const token = await caller.token();
      const response = await api.request(spec.method.toUpperCase(), path, {
        as: token ?? 'none',
        ...(body === undefined ? {} : { body }),
      });
      const label = `${spec.method.toUpperCase()} ${spec.path} as ${caller.name}: ${response.status} ${response.text.slice(0, 200)}`;

      if (response.status >= 500) failures.push(`server error: ${label}`);
      if (!isAllowed(spec, caller)) {
        const expected = caller.role === undefined ? 401 : 403;
        if (response.status !== expected) failures.push(`expected ${expected}: ${label}`);
        continue;
      }
      if (caller.customer === 'globex' && spec.roles !== 'public') {
        if (response.status !== 404) failures.push(`expected 404 for another customer's contract: ${label}`);
        continue;
      }
      if ([401, 403, 404].includes(response.status)) failures.push(`expected access: ${label}`);
    }
  }
  assert.deepEqual(failures, []);
});

test('forbidden answers are problem documents', async () => {
  const response = await api.request('GET', '/v1/audit', { as: 'sales' });
  assert.equal(response.status, 403);
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(response.body.type, 'urn:trueup:problem:forbidden');
  assert.match(response.body.detail, /allowed: admin, ops, finance/);

  const anonymous = await api.request('GET', '/v1/contracts', { as: 'none' });
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.body.type, 'urn:trueup:problem:unauthorized');
});
