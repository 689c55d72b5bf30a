import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ALL_ROUTES, ROUTES } from '../../src/api/catalog';
import type { RouteSpec } from '../../src/api/route-spec';
import { referenceTerms, signedContract, startApiServer, type ApiServer } from './support';

// Property: a request with at least one malformed part (body, content type, query, path
// parameter, Authorization or Idempotency-Key header) on any route gets a 4xx
// problem document, never a 5xx, and writes nothing.

let api: ApiServer;
let contractId: string;
let invoiceNumber: string;

before(async () => {
  api = await startApiServer();
  contractId = await signedContract(api, {
    prepaid: [{ credits: '120000', discount: '0.15', purchasedOn: '2026-01-01', expiresAfterMonths: 12 }],
  });
  invoiceNumber = (await api.db.selectFrom('invoices').select('number').where('contract_id', '=', contractId).executeTakeFirstOrThrow()).number;
});

after(async () => {
  await api?.close();
});

const ROUTES_UNDER_TEST = ALL_ROUTES.filter((spec) => spec.roles !== 'public');

/** Returns a body the route accepts, which the property then breaks. */
function validBody(spec: RouteSpec): Record<string, unknown> | undefined {
  switch (spec) {
    case ROUTES.createContract:
    case ROUTES.replaceTerms:
      return { terms: referenceTerms() };
    case ROUTES.signContract:
      return { override: { reason: 'approved by the deal desk' } };
    case ROUTES.amendContract:
      return { terms: referenceTerms(), effectiveFromPeriod: 1, reason: 'price change agreed' };
    case ROUTES.terminateContract:
      return { reason: 'customer asked to end' };
    case ROUTES.changeTier:
      return { tier: 'scale', reason: 'customer outgrew growth' };
    case ROUTES.grantCredits:
      return { credits: '100', expiresAt: '2026-03-01T00:00:00Z', reason: 'service credit', grantId: 'g-1' };
    case ROUTES.ingestUsage:
      return { contractId, events: [{ eventId: 'fuzz-1', meter: 'agent_task', quantity: '1', occurredAt: '2026-01-15T11:00:00Z' }] };
    default:
      return undefined;
  }
}

const REQUIRED_FIELDS = new Map<RouteSpec, string[]>([
  [ROUTES.createContract, ['terms']],
  [ROUTES.replaceTerms, ['terms']],
  [ROUTES.amendContract, ['terms', 'effectiveFromPeriod', 'reason']],
  [ROUTES.terminateContract, ['reason']],
  [ROUTES.changeTier, ['tier', 'reason']],
  [ROUTES.grantCredits, ['credits', 'expiresAt', 'reason']],
  [ROUTES.ingestUsage, ['contractId', 'events']],
]);

/**
 * Values that are neither strings, numbers nor arrays, so no field of any body accepts
 * them (`terms` aside, which the terms parser rejects). Arrays are left out because an
 * `events` array of bad events is a valid batch whose events are rejected one by one.
 */
const wrongValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 2 }).map((items) => ({ items })),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
);

type Malformation =
  | { kind: 'drop'; field: number }
  | { kind: 'wrongValue'; field: number; value: unknown }
  | { kind: 'unknownField'; name: string; value: unknown }
  | { kind: 'replaceBody'; value: unknown }
  | { kind: 'invalidJson'; text: string }
  | { kind: 'contentType'; type: string }
  | { kind: 'query'; query: string }
  | { kind: 'path'; value: string }
  | { kind: 'auth'; header: string | undefined }
  | { kind: 'idempotencyKey'; value: string };

const malformation: fc.Arbitrary<Malformation> = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), field: fc.nat() }),
  fc.record({ kind: fc.constant('wrongValue' as const), field: fc.nat(), value: wrongValue }),
  fc.record({ kind: fc.constant('unknownField' as const), name: fc.string({ minLength: 1, maxLength: 10 }).map((s) => `x_${s}`), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({
    kind: fc.constant('replaceBody' as const),
    value: fc.oneof(fc.jsonValue({ maxDepth: 3 }).filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)), fc.constant({})),
  }),
  fc.record({ kind: fc.constant('invalidJson' as const), text: fc.oneof(fc.constant('{"terms":'), fc.constant('{,}'), fc.string({ minLength: 1, maxLength: 30 }).map((s) => `{${s}`)) }),
  fc.record({ kind: fc.constant('contentType' as const), type: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x') }),
  fc.record({
    kind: fc.constant('query' as const),
    query: fc.oneof(
      fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 })).map(([k, v]) => `x_${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
      fc.constantFrom('limit=0', 'limit=501', 'limit=abc', 'limit=1.5', 'contractId=nope', 'status=lost', 'after=', 'format=pdf', 'limit=1&limit=2'),
    ),
  }),
  fc.record({
    kind: fc.constant('path' as const),
    value: fc.oneof(fc.string({ minLength: 1, maxLength: 40 }).map((s) => `x${encodeURIComponent(s)}`), fc.uuid().filter((u) => u !== contractId), fc.constantFrom('0', '-1', '1e3')),
  }),
  fc.record({
    kind: fc.constant('auth' as const),
    header: fc.oneof(
      fc.constant(undefined),
      fc.string({ maxLength: 60 }).map((s) => `Bearer ${s.replace(/[^\x21-\x7e]/g, 'a')}`),
      fc.constantFrom('Basic YWRtaW46YWRtaW4=', 'Bearer', 'Bearer tu_AAAAAAAAAAAA_short', `Bearer tu_AAAAAAAAAAAA_${'B'.repeat(43)}`),
    ),
  }),
  fc.record({ kind: fc.constant('idempotencyKey' as const), value: fc.constantFrom('a b', 'x'.repeat(256), 'key with spaces') }),
);

/** Returns whether the malformation applies to the route, because one that does not would leave a valid request. */
function applies(spec: RouteSpec, m: Malformation): boolean {
  const hasBody = spec.method !== 'get';
  switch (m.kind) {
    case 'drop':
    case 'wrongValue':
      return REQUIRED_FIELDS.has(spec);
    case 'unknownField':
    case 'replaceBody':
    case 'invalidJson':
      return hasBody && (spec !== ROUTES.signContract || m.kind !== 'replaceBody');
    case 'contentType':
      return hasBody;
    case 'path':
      return spec.path.includes(':');
    case 'idempotencyKey':
      return spec.idempotent === true;
    default:
      return true;
  }
}

interface BuiltRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  auth: string | undefined | 'admin';
}

function build(spec: RouteSpec, m: Malformation): BuiltRequest {
  let param = spec.path.includes(':number') ? invoiceNumber : contractId;
  if (m.kind === 'path') param = m.value;
  let path = `/v1${spec.path}`.replace(':id', param).replace(':number', param);
  if (m.kind === 'query') path += `?${m.query}`;

  const headers: Record<string, string> = {};
  let body: string | undefined;
  const valid = validBody(spec);
  if (spec.method !== 'get') {
    let value: unknown = valid ?? {};
    const required = REQUIRED_FIELDS.get(spec) ?? [];
    if (m.kind === 'drop' && required.length > 0) {
      const copy = { ...(value as Record<string, unknown>) };
      delete copy[required[m.field % required.length]!];
      value = copy;
    }
    if (m.kind === 'wrongValue' && required.length > 0) value = { ...(value as object), [required[m.field % required.length]!]: m.value };
    if (m.kind === 'unknownField') value = { ...(value as object), [m.name]: m.value };
    if (m.kind === 'replaceBody') value = m.value;
    body = m.kind === 'invalidJson' ? m.text : JSON.stringify(value);
    headers['content-type'] = m.kind === 'contentType' ? m.type : 'application/json';
  }
  if (m.kind === 'idempotencyKey') headers['idempotency-key'] = m.value;
  return { method: spec.method.toUpperCase(), path, headers, body, auth: m.kind === 'auth' ? m.header : 'admin' };
}

test('malformed requests get a 4xx problem and write nothing', { timeout: 180_000 }, async () => {
  const adminToken = await api.keyFor('admin');
  const temporalWrites = () => api.temporalCalls.filter((call) => call.kind === 'update' || call.kind === 'start').length;
  const writesBefore = temporalWrites();

  const byId = new Map(ROUTES_UNDER_TEST.map((spec) => [spec.id, spec]));
  const routeAndMalformation = fc
    .tuple(fc.constantFrom(...byId.keys()), malformation)
    .filter(([id, m]) => applies(byId.get(id)!, m));

  await fc.assert(
    fc.asyncProperty(routeAndMalformation, async ([id, m]) => {
      const spec = byId.get(id)!;
      const request = build(spec, m);
      const headers = { ...request.headers };
      if (request.auth === 'admin') headers.authorization = `Bearer ${adminToken}`;
      else if (request.auth !== undefined) headers.authorization = request.auth;

      const before = await api.rowCounts();
      const response = await fetch(`${api.baseUrl}${request.path}`, {
        method: request.method,
        headers,
        ...(request.body === undefined ? {} : { body: request.body }),
      });
      const text = await response.text();
      const label = `${request.method} ${request.path} (${m.kind}): ${response.status} ${text.slice(0, 300)}`;

      assert.ok(response.status >= 400, label);
      assert.ok(response.status < 500, label);
      assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/, label);
      const problem = JSON.parse(text);
      assert.equal(problem.status, response.status, label);
      assert.match(problem.type, /^urn:trueup:problem:/, label);
      assert.equal(typeof problem.detail, 'string', label);
      assert.doesNotMatch(text, /\bat .+\.(ts|js):\d+/, `no stack trace: ${label}`);
      assert.deepEqual(await api.rowCounts(), before, `nothing written: ${label}`);
    }),
    { numRuns: 500, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
  );
  assert.equal(temporalWrites(), writesBefore, 'no workflow update or start was sent');
});
