import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { Db } from '../db/connection';
import { Problem, badRequest } from './problem';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** Longest accepted `Idempotency-Key`; a UUID or a ULID fits many times over. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/**
 * How long a request holding a key may run before another request with the same key may
 * take the key over. It exceeds the longest route (a workflow update waits at most 30
 * seconds), so only a request whose process died leaves a claim this old.
 */
const ABANDONED_CLAIM_MS = 120_000;

/** `status_code` of a key whose first request is still running. */
const IN_PROGRESS = 0;

const KEY_PATTERN = /^[\x21-\x7e]+$/;

interface StoredResponse {
  body: unknown;
  location?: string;
}

/** Serializes JSON with object keys sorted, so that two bodies differing only in key order hash the same. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Returns the SHA-256 of the method, the URL and the canonical body. */
export function requestHash(req: Pick<Request, 'method' | 'originalUrl' | 'body'>): string {
  return createHash('sha256')
    .update(`${req.method} ${req.originalUrl}\n${canonicalJson(req.body ?? null)}`)
    .digest('hex');
}

/** Reads and validates the header; undefined when the request has none. */
function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.get(IDEMPOTENCY_HEADER);
  if (key === undefined) return undefined;
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !KEY_PATTERN.test(key)) {
    throw badRequest(`The ${IDEMPOTENCY_HEADER} header must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters, such as a UUID.`, [
      { path: `header.${IDEMPOTENCY_HEADER}`, rule: 'idempotency_key', message: `must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters` },
    ]);
  }
  return key;
}

/**
 * Claims the key for this request. Returns `claimed`, or the stored row when another
 * request owns or completed the key. A claim older than `ABANDONED_CLAIM_MS` is taken over.
 */
async function claim(
  db: Db,
  apiKeyId: string,
  key: string,
  hash: string,
): Promise<'claimed' | { request_hash: string; status_code: number; response: object }> {
  const inserted = await db
    .insertInto('idempotency_keys')
    .values({ api_key_id: apiKeyId, idempotency_key: key, request_hash: hash, status_code: IN_PROGRESS, response: '{}' })
    .onConflict((oc) => oc.columns(['api_key_id', 'idempotency_key']).doNothing())
    .returning('api_key_id')
    .executeTakeFirst();
  if (inserted) return 'claimed' as const;

  const abandoned = await db
    .deleteFrom('idempotency_keys')
    .where('api_key_id', '=', apiKeyId)
    .where('idempotency_key', '=', key)
    .where('status_code', '=', IN_PROGRESS)
    .where('created_at', '<', new Date(Date.now() - ABANDONED_CLAIM_MS))
    .executeTakeFirst();
  if (abandoned.numDeletedRows > 0n) return claim(db, apiKeyId, key, hash);

  return db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'status_code', 'response'])
    .where('api_key_id', '=', apiKeyId)
    .where('idempotency_key', '=', key)
    .executeTakeFirstOrThrow();
}

/** Deletes the claim of a request that did not succeed, so that a retry with the same key runs again. */
async function release(db: Db, apiKeyId: string, key: string): Promise<void> {
  await db
    .deleteFrom('idempotency_keys')
    .where('api_key_id', '=', apiKeyId)
    .where('idempotency_key', '=', key)
    .where('status_code', '=', IN_PROGRESS)
    .execute();
}

/**
 * Honours an `Idempotency-Key` header on a route that creates or changes something. Keys
 * are scoped per API key. The first request with a key runs and, when it succeeds (2xx),
 * its status and JSON body are stored before they are sent. A repeat with the same method,
 * URL and body gets the stored response with `Idempotent-Replayed: true`. A repeat with
 * a different request is a 422 problem. A failed request (4xx or 5xx) stores
 * nothing, so a retry with the same key runs again. While the first request runs, a
 * repeat is a 409 problem with `Retry-After`.
 */
export function idempotency(db: Db, logger: Logger): RequestHandler {
  return async (req: Request, res: Response, next) => {
    const key = idempotencyKeyOf(req);
    if (key === undefined) {
      next();
      return;
    }
    const apiKeyId = req.principal!.keyId;
    const hash = requestHash(req);

    const claimed = await claim(db, apiKeyId, key, hash);
    if (claimed !== 'claimed') {
      if (claimed.request_hash !== hash) {
        throw new Problem(
          422,
          'idempotency-key-reused',
          'Idempotency key reused',
          `The ${IDEMPOTENCY_HEADER} "${key}" was already used for a different request; use a new key for a new request.`,
          [{ path: `header.${IDEMPOTENCY_HEADER}`, rule: 'same_request', message: 'was used with a different method, URL or body' }],
        );
      }
      if (claimed.status_code === IN_PROGRESS) {
        res.set('Retry-After', '1');
        throw new Problem(409, 'idempotency-request-in-progress', 'Request in progress', `A request with ${IDEMPOTENCY_HEADER} "${key}" is still running; retry after it completes.`);
      }
      const stored = claimed.response as StoredResponse;
      res.set('Idempotent-Replayed', 'true');
      if (stored.location) res.location(stored.location);
      res.status(claimed.status_code).json(stored.body);
      return;
    }

    res.locals.idempotencyKey = key;
    // Both outcomes are settled before the response goes out, so a client that retries
    // at once finds the stored response or a released key, never a running claim.
    let settled = false;
    const json = res.json.bind(res);
    const send = res.send.bind(res);
    res.json = (body: unknown) => {
      if (settled || res.statusCode < 200 || res.statusCode >= 300) return json(body);
      settled = true;
      const location = res.get('location');
      const response: StoredResponse = location ? { body, location } : { body };
      db.updateTable('idempotency_keys')
        .set({ status_code: res.statusCode, response: JSON.stringify(response) })
        .where('api_key_id', '=', apiKeyId)
        .where('idempotency_key', '=', key)
        .execute()
        .catch((error: unknown) => {
          // The work is done, so the client still gets its response; a repeat will run the request again.
          logger.error({ errorName: (error as Error)?.name, errorMessage: (error as Error)?.message, keyId: apiKeyId }, 'failed to store the response of an idempotency key');
          return release(db, apiKeyId, key).catch(() => undefined);
        })
        .finally(() => json(body));
      return res;
    };
    res.send = (body?: unknown) => {
      if (settled) return send(body);
      settled = true;
      release(db, apiKeyId, key)
        .catch((error: unknown) => {
          logger.error({ errorName: (error as Error)?.name, errorMessage: (error as Error)?.message, keyId: apiKeyId }, 'failed to release an idempotency key');
        })
        .finally(() => send(body));
      return res;
    };
    next();
  };
}
