import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { Config } from '../config';
import { startEmbeddedPostgres } from '../runtime/postgres';
import { EMBEDDED_POSTGRES_DATABASE } from '../runtime/versions';
import type { Stack } from './stack';

/**
 * Returns the URL of the embedded PostgreSQL that `trueup start` runs, found by its
 * password file and port, or undefined when no server accepts a connection there.
 */
async function runningEmbeddedPostgresUrl(dataDir: string, port: number): Promise<string | undefined> {
  const passwordFile = path.join(dataDir, 'postgres.password');
  if (!fs.existsSync(passwordFile)) return undefined;
  const password = fs.readFileSync(passwordFile, 'utf8').trim();
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${EMBEDDED_POSTGRES_DATABASE}`;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return url;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Returns DATABASE_URL when set; otherwise the embedded PostgreSQL's URL: the one
 * `trueup start` is running, or one started for the length of the command.
 */
export async function resolveDatabaseUrl(config: Config, stack: Stack): Promise<string> {
  if (config.databaseUrl) return config.databaseUrl;
  const dataDir = path.join(config.dataDir, 'postgres');
  const running = await runningEmbeddedPostgresUrl(dataDir, config.postgresPort);
  if (running) return running;

  const postgres = await startEmbeddedPostgres({
    dataDir,
    port: config.postgresPort,
    log: { info: (m: string) => stack.logger.info(m), warn: (m: string) => stack.logger.warn(m) },
  });
  stack.add('postgresql', postgres.stop);
  return postgres.url;
}
