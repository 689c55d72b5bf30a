import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { quietLog } from '../../src/runtime/log';
import { startEmbeddedPostgres } from '../../src/runtime/postgres';

export interface TestDatabase {
  /** Connection URL of a new, empty database that only this caller uses. */
  url: string;
  /** Drops the database, closing any connection still open to it. */
  drop(): Promise<void>;
}

let serverUrl: Promise<string> | undefined;
let databaseCount = 0;

/**
 * Creates a fresh, uniquely named database. It lives on the server of `DATABASE_URL` when set
 * (whose user needs the CREATEDB privilege), else on one embedded PostgreSQL per test process,
 * started on first use in a temporary folder and stopped when the process exits.
 */
export async function testDatabase(): Promise<TestDatabase> {
  serverUrl ??= process.env.DATABASE_URL ? Promise.resolve(process.env.DATABASE_URL) : startSharedServer();
  const adminUrl = await serverUrl;

  databaseCount += 1;
  const name = `trueup_test_${process.pid}_${databaseCount}_${crypto.randomBytes(3).toString('hex')}`;
  await runAdminQuery(adminUrl, `CREATE DATABASE ${pg.escapeIdentifier(name)}`);

  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => runAdminQuery(adminUrl, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
  };
}

async function runAdminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Starts the embedded PostgreSQL shared by this test process and returns the URL of its
 * `postgres` database. Durability is off, because the data is thrown away at exit.
 */
async function startSharedServer(): Promise<string> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trueup-test-pg-'));
  process.once('exit', () => stopAndRemove(dataDir, serverPid));
  const server = await startEmbeddedPostgres({ dataDir, log: quietLog, durable: false, unref: true });
  serverPid = server.pid;
  return server.adminUrl;
}

let serverPid: number | undefined;

/**
 * Asks PostgreSQL for a fast shutdown, waits up to 5 seconds for it to exit, then deletes its
 * data. This runs inside the `exit` hook, where only synchronous code runs, so it sleeps with
 * Atomics.wait.
 */
function stopAndRemove(dataDir: string, pid: number | undefined): void {
  if (pid !== undefined && isRunning(pid)) process.kill(pid, 'SIGINT');
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 5000;
  while (pid !== undefined && isRunning(pid) && Date.now() < deadline) {
    Atomics.wait(pause, 0, 0, 20);
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
}

/** Treats a zombie (exited but not yet reaped by this process) as stopped. */
function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
