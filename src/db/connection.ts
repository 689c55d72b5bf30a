import { Kysely, PostgresDialect } from 'kysely';
import { Pool, types } from 'pg';
import type { Database } from './schema';

// int8 (bigint, bigserial) and numeric stay strings: both can exceed a JavaScript number exactly.
types.setTypeParser(types.builtins.INT8, (value) => value);

export type Db = Kysely<Database>;

/** Opens a pooled connection to the PostgreSQL at `url`. */
export function createDb(url: string, options: { maxConnections?: number } = {}): Db {
  const pool = new Pool({ connectionString: url, max: options.maxConnections ?? 10 });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
