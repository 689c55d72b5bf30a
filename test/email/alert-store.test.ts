import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { alertMessageId, listAlerts, pendingAlerts, recordAlertFailed, recordAlertSent, storeAlerts } from '../../src/db/alerts';
import { createDb, type Db } from '../../src/db/connection';
import { createDraft } from '../../src/db/contracts';
import { migrateToLatest } from '../../src/db/migrate';
import { tierByName } from '../../src/domain/terms';
import { unbilledDeferredAlert, usageThresholdAlert } from '../../src/domain/alerts';
import { testDatabase, type TestDatabase } from '../support/postgres';
import { referenceTerms } from './support';

describe('alert store', () => {
  let database: TestDatabase;
  let db: Db;
  const terms = referenceTerms();
  const growth = tierByName(terms, 'growth');

  before(async () => {
    database = await testDatabase();
    db = createDb(database.url);
    await migrateToLatest(db);
  });

  after(async () => {
    await db?.destroy();
    await database?.drop();
  });

  test('message id derives from the key', () => {
    const id = alertMessageId('c1/4/renegotiation_trigger');
    assert.match(id, /^<[0-9a-f]{32}@trueup\.alerts>$/);
    assert.equal(alertMessageId('c1/4/renegotiation_trigger'), id);
    assert.notEqual(alertMessageId('c1/5/renegotiation_trigger'), id);
  });

  test('storeAlerts stores each key once', async () => {
    const contractId = await createDraft(db, terms, 'test');
    const first = usageThresholdAlert(terms, contractId, 2, growth, '80');
    const second = usageThresholdAlert(terms, contractId, 2, growth, '100');

    assert.deepEqual(await storeAlerts(db, contractId, [first, second, first]), [first.key, second.key]);
    assert.deepEqual(await storeAlerts(db, contractId, [second, first]), []);
    assert.deepEqual(await storeAlerts(db, contractId, []), []);

    const stored = await listAlerts(db, { contractId, limit: 10 });
    assert.equal(stored.length, 2);
    const [row] = stored.filter((alert) => alert.key === first.key);
    assert.ok(row);
    assert.equal(row.status, 'pending');
    assert.equal(row.attempts, 0);
    assert.equal(row.kind, 'usage_threshold');
    assert.equal(row.periodIndex, 2);
    assert.deepEqual(row.recipients, ['dana@vendor.example', 'ap@acme.example']);
    assert.deepEqual(row.data, first.data);
    assert.equal(row.messageId, alertMessageId(first.key));
    assert.equal(row.lastError, null);
    assert.equal(row.sentAt, null);
  });

  test('storeAlerts works inside a transaction', async () => {
    const contractId = await createDraft(db, terms, 'test');
    const alert = unbilledDeferredAlert(terms, contractId, 11, '2000');
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        assert.deepEqual(await storeAlerts(trx, contractId, [alert]), [alert.key]);
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.deepEqual(await listAlerts(db, { contractId, limit: 10 }), []);
  });

  test('listAlerts pages and filters', async () => {
    const contractId = await createDraft(db, terms, 'test');
    const alerts = ['80', '100'].map((percent) => usageThresholdAlert(terms, contractId, 1, growth, percent));
    alerts.push(unbilledDeferredAlert(terms, contractId, 11, '5'));
    await storeAlerts(db, contractId, alerts);
    const keys = alerts.map((alert) => alert.key).sort();

    const firstPage = await listAlerts(db, { contractId, limit: 2 });
    assert.deepEqual(firstPage.map((alert) => alert.key), keys.slice(0, 2));
    const secondPage = await listAlerts(db, { contractId, limit: 2, after: firstPage.at(-1)?.key });
    assert.deepEqual(secondPage.map((alert) => alert.key), keys.slice(2));

    const sentAt = new Date('2026-06-01T01:00:00.000Z');
    await recordAlertSent(db, keys[0]!, sentAt);
    await recordAlertFailed(db, keys[1]!, 'connect ECONNREFUSED 127.0.0.1:25');
    const sent = await listAlerts(db, { contractId, status: 'sent', limit: 10 });
    assert.deepEqual(sent.map((alert) => alert.key), [keys[0]]);
    assert.equal(sent[0]?.sentAt, sentAt.toISOString());
    assert.equal(sent[0]?.attempts, 1);
    const failed = await listAlerts(db, { contractId, status: 'failed', limit: 10 });
    assert.deepEqual(failed.map((alert) => alert.key), [keys[1]]);
    assert.equal(failed[0]?.lastError, 'connect ECONNREFUSED 127.0.0.1:25');
    assert.deepEqual((await pendingAlerts(db, contractId)).map((alert) => alert.key), keys.slice(1));
  });

  test('a sent alert stays sent', async () => {
    const contractId = await createDraft(db, terms, 'test');
    const alert = unbilledDeferredAlert(terms, contractId, 11, '7');
    await storeAlerts(db, contractId, [alert]);
    const sentAt = new Date('2026-06-01T01:00:00.000Z');
    await recordAlertSent(db, alert.key, sentAt);
    await recordAlertFailed(db, alert.key, 'late failure');
    await recordAlertSent(db, alert.key, new Date('2026-07-01T00:00:00.000Z'));

    const [row] = await listAlerts(db, { contractId, limit: 10 });
    assert.equal(row?.status, 'sent');
    assert.equal(row?.attempts, 1);
    assert.equal(row?.lastError, null);
    assert.equal(row?.sentAt, sentAt.toISOString());
  });

  test('long errors are truncated', async () => {
    const contractId = await createDraft(db, terms, 'test');
    const alert = unbilledDeferredAlert(terms, contractId, 11, '9');
    await storeAlerts(db, contractId, [alert]);
    await recordAlertFailed(db, alert.key, 'x'.repeat(5000));
    const [row] = await listAlerts(db, { contractId, limit: 10 });
    assert.equal(row?.lastError?.length, 1000);
    assert.ok(row?.lastError?.endsWith('...'));
  });
});
