import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { createDb } from '../../src/db/connection';
import { testDatabase } from '../support/postgres';

test('closed idle connection is reported, not thrown', async () => {
  const database = await testDatabase();
  const errors: Error[] = [];
  const db = createDb(database.url, { onIdleError: (error) => errors.push(error) });
  const admin = createDb(database.url, { onIdleError: () => undefined });
  try {
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db);
    await sql`select pg_terminate_backend(${rows[0]!.pid})`.execute(admin);
    for (let i = 0; i < 50 && errors.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));

    assert.equal(errors.length, 1);
    // The pool replaces the closed connection on next use.
    const again = await sql<{ one: number }>`select 1 as one`.execute(db);
    assert.equal(again.rows[0]?.one, 1);
  } finally {
    await db.destroy();
    await admin.destroy();
    await database.drop();
  }
});
