import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApiKey, listApiKeys, revokeApiKey, verifyApiKey } from '../../src/db/api-keys';
import { migratedDatabase } from '../support/harness';

test('revoked key no longer authenticates', async () => {
  const database = await migratedDatabase();
  try {
    const { keyId, token } = await createApiKey(database.db, { role: 'ops', label: 'on-call' });
    assert.equal((await verifyApiKey(database.db, token))?.role, 'ops');

    assert.equal(await revokeApiKey(database.db, keyId, new Date('2026-12-04T12:00:00Z')), true);
    assert.equal(await verifyApiKey(database.db, token), undefined);

    const [listed] = await listApiKeys(database.db);
    assert.equal(listed?.keyId, keyId);
    assert.equal(listed?.label, 'on-call');
    assert.equal(listed?.revokedAt, '2026-12-04T12:00:00.000Z');
  } finally {
    await database.drop();
  }
});

test('revoking an unknown key reports it', async () => {
  const database = await migratedDatabase();
  try {
    assert.equal(await revokeApiKey(database.db, 'nosuchkey123', new Date()), false);
  } finally {
    await database.drop();
  }
});

test('ingest key needs its customer', async () => {
  const database = await migratedDatabase();
  try {
    await assert.rejects(createApiKey(database.db, { role: 'ingest' }), /needs the customer id/);
  } finally {
    await database.drop();
  }
});
