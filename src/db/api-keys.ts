import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from './connection';
import type { Role } from './schema';

export const ROLES: readonly Role[] = ['admin', 'sales', 'ops', 'account_manager', 'finance', 'ingest'];

export interface ApiKeyPrincipal {
  keyId: string;
  role: Role;
  /** For `ingest` keys: the one customer whose contracts the key may touch. */
  customerId: string | null;
}

const KEY_PREFIX = 'tu';

function hashSecret(secret: string): string {
  // The secret is 256 random bits, so a fast hash is enough: nothing to brute-force.
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * Creates an API key and returns its token once; only a hash of the secret is stored.
 * Tokens look like `tu_<keyId>_<secret>`.
 */
export async function createApiKey(
  db: Db,
  input: { role: Role; customerId?: string | null; label?: string | null },
): Promise<{ keyId: string; token: string }> {
  if (input.role === 'ingest' && !input.customerId) {
    throw new Error('An ingest key needs the customer id whose usage it may send (--customer).');
  }
  const keyId = randomBytes(9).toString('base64url');
  const secret = randomBytes(32).toString('base64url');
  await db
    .insertInto('api_keys')
    .values({
      id: keyId,
      secret_hash: hashSecret(secret),
      role: input.role,
      customer_id: input.role === 'ingest' ? (input.customerId ?? null) : null,
      label: input.label ?? null,
    })
    .execute();
  return { keyId, token: `${KEY_PREFIX}_${keyId}_${secret}` };
}

/** Returns the principal of a token, or undefined when it is malformed, unknown or revoked. */
export async function verifyApiKey(db: Db, token: string): Promise<ApiKeyPrincipal | undefined> {
  const match = /^tu_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return undefined;
  const [, keyId, secret] = match as unknown as [string, string, string];

  const row = await db
    .selectFrom('api_keys')
    .select(['id', 'secret_hash', 'role', 'customer_id', 'revoked_at'])
    .where('id', '=', keyId)
    .executeTakeFirst();
  if (!row || row.revoked_at !== null) return undefined;

  const expected = Buffer.from(row.secret_hash, 'hex');
  const actual = Buffer.from(hashSecret(secret), 'hex');
  if (!timingSafeEqual(expected, actual)) return undefined;
  return { keyId: row.id, role: row.role, customerId: row.customer_id };
}

export interface ApiKeySummary {
  keyId: string;
  role: Role;
  customerId: string | null;
  label: string | null;
  createdAt: string;
  revokedAt: string | null;
}

/** Lists every API key (never its secret), oldest first. */
export async function listApiKeys(db: Db): Promise<ApiKeySummary[]> {
  const rows = await db.selectFrom('api_keys').select(['id', 'role', 'customer_id', 'label', 'created_at', 'revoked_at']).orderBy('created_at').execute();
  return rows.map((row) => ({
    keyId: row.id,
    role: row.role,
    customerId: row.customer_id,
    label: row.label,
    createdAt: row.created_at.toISOString(),
    revokedAt: row.revoked_at ? new Date(row.revoked_at).toISOString() : null,
  }));
}

/** Revokes a key: requests with it get 401 from then on. Returns false when no such key exists. */
export async function revokeApiKey(db: Db, keyId: string, at: Date): Promise<boolean> {
  const result = await db
    .updateTable('api_keys')
    .set({ revoked_at: at })
    .where('id', '=', keyId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  if ((result.numUpdatedRows ?? 0n) > 0n) return true;
  const existing = await db.selectFrom('api_keys').select('id').where('id', '=', keyId).executeTakeFirst();
  return existing !== undefined;
}
