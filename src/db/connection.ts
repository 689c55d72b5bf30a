import { Kysely, PostgresDialect } from 'kysely';
import { Pool, types } from 'pg';
import type { Database } from './schema';

// int8 (bigint, bigserial) and numeric stay strings: both can exceed a JavaScript number exactly.
types.setTypeParser(types.builtins.INT8, (value) => value);

export type Db = Kysely<Database>;

/**
 * Opens a pooled connection to the PostgreSQL at `url`. An idle connection that the
 * server closes (a restart, a dropped database) is reported to `onIdleError` and replaced
 * on next use; pg's pool would otherwise raise it as an uncaught exception and end the process.
 */
export function createDb(
  url: string,
  options: { maxConnections?: number; onIdleError?: (error: Error) => void } = {},
): Db {
  const pool = new Pool({ connectionString: url, max: options.maxConnections ?? 10 });
  pool.on('error', options.onIdleError ?? ((error) => process.stderr.write(`PostgreSQL closed an idle connection: ${error.message}\n`)));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
