import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, termsStartingAfter } from '../support/harness';

// Ops' operations through the real contract workflow on the time-skipping Temporal
// server: results, refusals mapped to problems that name the field, and the audit log.

test('operations on a running contract', { timeout: 180_000 }, async () => {
  const h = await startHarness();
  try {
    await h.startWorker();
    const terms = termsStartingAfter(new Date(await h.env.currentTimeMs()));
    const created = await h.request('POST', '/v1/contracts', { terms }, 'sales');
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id: string = created.body.id;
    assert.equal((await h.request('POST', `/v1/contracts/${id}/sign`, {}, 'sales')).status, 200);

    // Move into period 0, which starts on terms.startDate.
    const start = Date.parse(`${terms.startDate}T00:00:00Z`);
    await h.env.sleep(start - (await h.env.currentTimeMs()) + 86_400_000);

    const read = await h.request('GET', `/v1/contracts/${id}`, undefined, 'ops');
    assert.equal(read.status, 200);
    assert.equal(read.body.lifecycle?.status, 'running', JSON.stringify(read.body.lifecycle));
    assert.equal(read.body.lifecycle?.periodIndex, 0);

    const upgrade = await h.request('POST', `/v1/contracts/${id}/tier`, { tier: 'scale', reason: 'customer outgrew growth' }, 'ops');
    assert.equal(upgrade.status, 200, JSON.stringify(upgrade.body));
    assert.deepEqual(upgrade.body, { contractId: id, previousTier: 'growth', tier: 'scale', effective: 'now', effectiveFromPeriod: 0 });

    const unknownTier = await h.request('POST', `/v1/contracts/${id}/tier`, { tier: 'platinum', reason: 'typo in the tier' }, 'ops');
    assert.equal(unknownTier.status, 422, JSON.stringify(unknownTier.body));
    assert.equal(unknownTier.body.errors[0].path, 'body.tier');

    const sameTier = await h.request('POST', `/v1/contracts/${id}/tier`, { tier: 'scale', reason: 'asked twice' }, 'ops');
    assert.equal(sameTier.status, 422, JSON.stringify(sameTier.body));
    assert.equal(sameTier.body.errors[0].path, 'body.tier');

    const expiresAt = new Date(start + 40 * 86_400_000).toISOString();
    const grant = await h.request('POST', `/v1/contracts/${id}/grants`, { credits: '1000', expiresAt, reason: 'service credit', grantId: 'outage-1' }, 'ops');
    assert.equal(grant.status, 201, JSON.stringify(grant.body));
    assert.equal(grant.body.grantId, 'outage-1');
    assert.equal(grant.body.credits, '1000');

    const sameGrant = await h.request('POST', `/v1/contracts/${id}/grants`, { credits: '1000', expiresAt, reason: 'service credit', grantId: 'outage-1' }, 'ops');
    assert.equal(sameGrant.status, 409, JSON.stringify(sameGrant.body));
    assert.equal(sameGrant.body.errors[0].path, 'body.grantId');

    const pastGrant = await h.request('POST', `/v1/contracts/${id}/grants`, { credits: '5', expiresAt: terms.startDate + 'T00:00:00Z', reason: 'already expired' }, 'ops');
    assert.equal(pastGrant.status, 422, JSON.stringify(pastGrant.body));
    assert.equal(pastGrant.body.errors[0].path, 'body.expiresAt');

    const otherCurrency = await h.request('POST', `/v1/contracts/${id}/amend`, { terms: { ...terms, currency: 'EUR' }, effectiveFromPeriod: 1, reason: 'move to euros' }, 'ops');
    assert.equal(otherCurrency.status, 422, JSON.stringify(otherCurrency.body));
    assert.equal(otherCurrency.body.errors[0].path, 'body.terms.currency');

    const amended = await h.request('POST', `/v1/contracts/${id}/amend`, { terms: { ...terms, overageMultiplier: '1.4' }, effectiveFromPeriod: 1, reason: 'new overage price' }, 'sales');
    assert.equal(amended.status, 200, JSON.stringify(amended.body));
    assert.deepEqual(amended.body, { contractId: id, version: 2, effectiveFromPeriod: 1 });

    const terminated = await h.request('POST', `/v1/contracts/${id}/terminate`, { reason: 'customer asked to end' }, 'ops');
    assert.equal(terminated.status, 200, JSON.stringify(terminated.body));
    assert.equal(terminated.body.finalPeriodIndex, 0);

    const again = await h.request('POST', `/v1/contracts/${id}/terminate`, { reason: 'customer asked to end' }, 'ops');
    assert.equal(again.status, 409, JSON.stringify(again.body));
    assert.equal(again.body.errors[0].path, 'path.id');

    const audit = await h.request('GET', `/v1/audit?contractId=${id}`, undefined, 'finance');
    assert.equal(audit.status, 200);
    const actions = audit.body.entries.map((entry: { action: string }) => entry.action);
    for (const action of ['tier.upgraded', 'credits.granted', 'terms.amended', 'contract.terminated']) {
      assert.ok(actions.includes(action), `${action} missing from ${actions.join(', ')}`);
    }
    const opsKeyId = (await h.keyFor('ops')).slice(3, 15);
    const upgraded = audit.body.entries.find((entry: { action: string }) => entry.action === 'tier.upgraded');
    assert.equal(upgraded.actor, opsKeyId);
    assert.equal(upgraded.reason, 'customer outgrew growth');
  } finally {
    await h.close();
  }
});
