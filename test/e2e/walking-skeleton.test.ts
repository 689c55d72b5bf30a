import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contractWorkflowId } from '../../src/workflows/messages';
import { startHarness, termsStartingAfter } from '../support/harness';

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test('signed contract closes its first period and invoices the fees', { timeout: 180_000 }, async () => {
  const h = await startHarness();
  try {
    await h.startWorker();
    const now = new Date(await h.env.currentTimeMs());
    const terms = termsStartingAfter(now);

    const created = await h.request('POST', '/v1/contracts', { terms }, 'sales');
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const contractId: string = created.body.id;
    assert.equal(created.body.status, 'draft');

    const signed = await h.request('POST', `/v1/contracts/${contractId}/sign`, {}, 'sales');
    assert.equal(signed.status, 200, JSON.stringify(signed.body));
    assert.equal(signed.body.status, 'signed');

    const secondSign = await h.request('POST', `/v1/contracts/${contractId}/sign`, {}, 'sales');
    assert.equal(secondSign.status, 409);

    const handle = h.env.client.workflow.getHandle(contractWorkflowId(contractId));
    const description = await handle.describe();
    assert.equal(description.status.name, 'RUNNING');

    // Period 0 is the calendar month starting on terms.startDate; it closes 1 hour after its end.
    const start = new Date(`${terms.startDate}T00:00:00Z`);
    const end = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
    const closeDue = end.getTime() + 3_600_000;
    await h.env.sleep(closeDue - (await h.env.currentTimeMs()) + 60_000);

    const invoice = await waitFor(
      () =>
        h.db
          .selectFrom('invoices')
          .selectAll()
          .where('contract_id', '=', contractId)
          .where('period_index', '=', 0)
          .executeTakeFirst(),
      'the invoice of period 0',
    );
    const lines = await h.db
      .selectFrom('invoice_lines')
      .select(['kind', 'quantity', 'unit_price', 'amount'])
      .where('invoice_number', '=', invoice.number)
      .orderBy('line_no')
      .execute();

    const platformFee = lines.find((line) => line.kind === 'platform_fee');
    const commitFee = lines.find((line) => line.kind === 'commit_fee');
    assert.equal(platformFee?.amount, '5000.00');
    // Commit fee: 50,000 credits x 0.20 = 10,000.00.
    assert.equal(commitFee?.amount, '10000.00');
    assert.equal(invoice.total, '15000.00');
    assert.equal(invoice.currency, 'USD');

    const period = await h.db
      .selectFrom('periods')
      .select(['status', 'tier'])
      .where('contract_id', '=', contractId)
      .where('period_index', '=', 0)
      .executeTakeFirstOrThrow();
    assert.equal(period.status, 'closed');
    assert.equal(period.tier, 'growth');
  } finally {
    await h.close();
  }
});
