import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { quietLog } from '../../src/runtime/log';
import { startEmbeddedPostgres } from '../../src/runtime/postgres';
import { freePort, isProcessAlive } from '../../src/runtime/process';
import { testDatabase } from '../support/postgres';

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trueup-pg-restart-'));
after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

test('embedded postgres keeps data across restart', async () => {
  const first = await startEmbeddedPostgres({ dataDir, log: quietLog });
  try {
    const selected = await query(first.url, 'SELECT 1 AS one');
    assert.equal(selected.rows[0].one, 1);
    await query(first.url, 'CREATE TABLE kept (note text)');
    await query(first.url, "INSERT INTO kept VALUES ('survives a restart')");
  } finally {
    await first.stop();
  }
  assert.equal(isProcessAlive(first.pid), false, 'postmaster still running after stop()');

  const second = await startEmbeddedPostgres({ dataDir, log: quietLog });
  try {
    const keptRows = await query(second.url, 'SELECT note FROM kept');
    assert.deepEqual(keptRows.rows, [{ note: 'survives a restart' }]);
    assert.match(second.url, /^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/trueup$/);
  } finally {
    await second.stop();
  }
  assert.equal(isProcessAlive(second.pid), false, 'postmaster still running after stop()');
});

test('embedded postgres removes stale pid file', async () => {
  const pidFile = path.join(dataDir, 'postgres', 'postmaster.pid');
  // The pid of this test process: alive, but not PostgreSQL, as after a reboot reused it.
  fs.writeFileSync(pidFile, `${process.pid}\n${path.dirname(pidFile)}\n1764876000\n5432\n\n127.0.0.1\n`);
  const server = await startEmbeddedPostgres({ dataDir, log: quietLog });
  try {
    const selected = await query(server.url, 'SELECT 1 AS one');
    assert.equal(selected.rows[0].one, 1);
  } finally {
    await server.stop();
  }
});

test('embedded postgres reuses a running cluster', async () => {
  const first = await startEmbeddedPostgres({ dataDir, log: quietLog });
  try {
    const second = await startEmbeddedPostgres({ dataDir, log: quietLog });
    assert.equal(second.owned, false);
    assert.equal(second.port, first.port);
    assert.equal(second.pid, first.pid);
    const selected = await query(second.url, 'SELECT 1 AS one');
    assert.equal(selected.rows[0].one, 1);
    await second.stop();
    assert.equal(isProcessAlive(first.pid), true, 'stop() of a reused cluster stopped it');
  } finally {
    await first.stop();
  }
});

test('embedded postgres rejects a port in use', async () => {
  const port = await freePort();
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
  try {
    await assert.rejects(startEmbeddedPostgres({ dataDir, port, log: quietLog }), /port \d+ on 127\.0\.0\.1 is already in use/);
  } finally {
    blocker.close();
  }
});

test('testDatabase creates separate databases', async () => {
  const first = await testDatabase();
  const second = await testDatabase();
  assert.notEqual(first.url, second.url);

  await query(first.url, 'CREATE TABLE only_here (id int)');
  const inSecond = await query(second.url, "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'only_here'");
  assert.equal(inSecond.rows[0].n, 0);

  await first.drop();
  await assert.rejects(query(first.url, 'SELECT 1'), /does not exist/);
  await second.drop();
});
