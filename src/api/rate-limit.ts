import type { RequestHandler } from 'express';
import { Problem } from './problem';

interface Bucket {
  tokens: number;
  updatedAtMs: number;
}

/**
 * Limits each API key to `perMinute` requests a minute with a token bucket: a bucket holds
 * up to `perMinute` tokens, refills at `perMinute / 60` tokens a second, and each request
 * takes one. An empty bucket gets a 429 response with `Retry-After` in whole seconds. Buckets live
 * in this process's memory, so each API process counts on its own. Runs after
 * authentication; requests without a valid key are not counted.
 */
export function rateLimit(perMinute: number, clockMs: () => number = () => performance.now()): RequestHandler {
  const buckets = new Map<string, Bucket>();
  const refillPerMs = perMinute / 60_000;

  return (req, res, next) => {
    const keyId = req.principal?.keyId;
    if (keyId === undefined) {
      next();
      return;
    }
    const now = clockMs();
    const bucket = buckets.get(keyId) ?? { tokens: perMinute, updatedAtMs: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.updatedAtMs) * refillPerMs);
    bucket.updatedAtMs = now;
    buckets.set(keyId, bucket);

    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      next();
      return;
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerMs / 1000));
    res.set('Retry-After', String(retryAfterSeconds));
    next(
      new Problem(
        429,
        'rate-limited',
        'Too many requests',
        `API key ${keyId} exceeded ${perMinute} requests a minute; retry after ${retryAfterSeconds} second(s).`,
        [],
        { retryAfterSeconds },
      ),
    );
  };
}
