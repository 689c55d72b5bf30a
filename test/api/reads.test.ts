import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeContractPeriod } from '../../src/db/closing';
import { signedContract, startApiServer, type ApiServer } from './support';

// Periods, invoices (JSON and HTML), alerts with their delivery state.

let api: ApiServer;
let contractId: string;

before(async () => {
  api = await startApiServer({ now: '2026-01-20T00:00:00Z' });
  contractId = await signedContract(api, {
    customer: { id: 'acme', name: '<script>alert("x")</script> & Sons', billingEmail: 'ap@acme.example' },
    prepaid: [{ credits: '120000', discount: '0.15', purchasedOn: '2026-01-01', expiresAfterMonths: 12 }],
  });
  // 41 events of 1,000 credits: past 80% of the 50,000 commit, so a usage alert is raised.
  const events = Array.from({ length: 41 }, (_, i) => ({
    eventId: `r-${i}`,
    meter: 'agent_task',
    quantity: '100',
    occurredAt: new Date(Date.parse('2026-01-10T00:00:00Z') + i * 60_000).toISOString(),
  }));
  const sent = await api.request('POST', '/v1/usage', { as: await api.keyFor('ingest', 'acme'), body: { contractId, events } });
  assert.equal(sent.body.summary.accepted, 41, sent.text);
});

after(async () => {
  await api?.close();
});

test('open period shows live figures', async () => {
  const response = await api.request('GET', `/v1/contracts/${contractId}/periods`, { as: 'finance' });
  assert.equal(response.status, 200, response.text);
  const [period] = response.body.periods;
  assert.equal(period.index, 0);
  assert.equal(period.status, 'open');
  assert.equal(period.admittedCredits, '41000');
  assert.equal(period.demandCredits, '41000');
  assert.equal(period.deferredCredits, '0');
  assert.equal(period.admittedEvents, 41);
  assert.equal(period.throttled, false);
  assert.equal(period.overageCredits, '0');
  assert.deepEqual(period.charges, { platformFee: '5000.00', commitFee: '10000.00', overage: '0.00', total: '15000.00' });
});

test('closed period shows its statement', async () => {
  const other = await signedContract(api);
  await closeContractPeriod(api.db, { contractId: other, periodIndex: 0, finalPeriodIndex: 1, closedAt: '2026-02-01T01:00:00.000Z' });
  const response = await api.request('GET', `/v1/contracts/${other}/periods`, { as: 'account_manager' });
  assert.equal(response.status, 200, response.text);
  const closed = response.body.periods.find((p: { index: number }) => p.index === 0);
  assert.equal(closed.status, 'closed');
  assert.equal(closed.statement.charges.total, '15000.00');
  assert.equal(closed.statement.forfeitedCredits, '37500');
});

test('invoice reads as JSON', async () => {
  const list = await api.request('GET', `/v1/invoices?contractId=${contractId}`, { as: 'finance' });
  assert.equal(list.status, 200, list.text);
  assert.equal(list.body.invoices.length, 1);
  const [invoice] = list.body.invoices;
  assert.equal(invoice.kind, 'prepaid');
  assert.equal(invoice.key, undefined, 'the issuing key stays internal');

  const one = await api.request('GET', `/v1/invoices/${invoice.number}`, { as: 'account_manager' });
  assert.equal(one.status, 200);
  assert.deepEqual(one.body, invoice);

  const missing = await api.request('GET', '/v1/invoices/999999', { as: 'finance' });
  assert.equal(missing.status, 404);
});

test('invoice HTML escapes every value', async () => {
  const [invoice] = (await api.request('GET', `/v1/invoices?contractId=${contractId}`, { as: 'finance' })).body.invoices;
  for (const path of [`/v1/invoices/${invoice.number}.html`, `/v1/invoices/${invoice.number}?format=html`]) {
    const response = await api.request('GET', path, { as: 'finance' });
    assert.equal(response.status, 200, path);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.ok(response.text.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Sons'), 'the customer name is escaped');
    assert.doesNotMatch(response.text, /<script/i);
    assert.ok(response.text.includes(invoice.total));
  }
});

test('alerts list their delivery state', async () => {
  const response = await api.request('GET', `/v1/alerts?contractId=${contractId}`, { as: 'account_manager' });
  assert.equal(response.status, 200, response.text);
  const usage = response.body.alerts.find((alert: { kind: string }) => alert.kind === 'usage_threshold');
  assert.ok(usage, JSON.stringify(response.body.alerts.map((a: { kind: string }) => a.kind)));
  assert.equal(usage.status, 'pending');
  assert.equal(usage.attempts, 0);
  assert.equal(usage.sentAt, null);

  const sent = await api.request('GET', `/v1/alerts?contractId=${contractId}&status=sent`, { as: 'ops' });
  assert.deepEqual(sent.body.alerts, []);
});

test('audit log pages by id', async () => {
  const response = await api.request('GET', '/v1/audit?limit=1', { as: 'ops' });
  assert.equal(response.status, 200, response.text);
  assert.ok(response.body.entries.length <= 1);
  if (response.body.entries.length === 1) {
    assert.equal(response.body.next, response.body.entries[0].id);
  }
});
