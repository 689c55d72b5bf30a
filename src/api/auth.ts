import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Db } from '../db/connection';
import { verifyApiKey, type ApiKeyPrincipal } from '../db/api-keys';
import type { Role } from '../db/schema';
import { Problem } from './problem';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      principal?: ApiKeyPrincipal;
    }
  }
}

const unauthorized = () =>
  new Problem(401, 'unauthorized', 'Unauthorized', 'Send an API key as `Authorization: Bearer tu_...`; this one is missing, malformed, unknown or revoked.');

/** Resolves the bearer API key of each request into `req.principal`, or responds 401. */
export function authenticate(db: Db): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    const header = req.get('authorization');
    const match = header ? /^Bearer (\S+)$/i.exec(header) : null;
    if (!match) {
      next(unauthorized());
      return;
    }
    verifyApiKey(db, match[1]!)
      .then((principal) => {
        if (!principal) throw unauthorized();
        req.principal = principal;
        next();
      })
      .catch(next);
  };
}

/** Allows the request only for the given roles; `admin` may do everything. */
export function allow(...roles: Role[]): RequestHandler {
  return (req, _res, next) => {
    const role = req.principal?.role;
    if (role === 'admin' || (role !== undefined && roles.includes(role))) {
      next();
      return;
    }
    next(
      new Problem(403, 'forbidden', 'Forbidden', `The role "${role ?? 'none'}" may not ${req.method} ${req.baseUrl}${req.route?.path ?? req.path}; allowed: admin, ${roles.join(', ')}.`),
    );
  };
}

/** Throws 404 unless the principal may see the customer's contracts (ingest keys see only their own). */
export function assertCustomerScope(principal: ApiKeyPrincipal | undefined, customerId: string, contractId: string): void {
  if (principal?.role !== 'ingest') return;
  if (principal.customerId === customerId) return;
  // 404, not 403: an ingest key must not learn which contract ids exist for other customers.
  throw new Problem(404, 'not-found', 'Not found', `Contract ${contractId} was not found.`);
}
