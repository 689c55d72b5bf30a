import path from 'node:path';
import type { Config } from '../config';
import { startEmbeddedPostgres } from '../runtime/postgres';
import type { Stack } from './stack';

/**
 * Returns DATABASE_URL when set; otherwise the embedded PostgreSQL's URL, starting it
 * for the length of the command when `trueup start` is not already running it.
 */
export async function resolveDatabaseUrl(config: Config, stack: Stack): Promise<string> {
  if (config.databaseUrl) return config.databaseUrl;
  const postgres = await startEmbeddedPostgres({
    dataDir: path.join(config.dataDir, 'postgres'),
    port: config.postgresPort,
    log: { info: (m: string) => stack.logger.info(m), warn: (m: string) => stack.logger.warn(m) },
  });
  stack.add('postgresql', postgres.stop);
  return postgres.url;
}
