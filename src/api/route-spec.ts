import type { RequestHandler, Router } from 'express';
import type { z } from 'zod';
import type { Role } from '../db/schema';
import { allow } from './auth';
import { idempotency } from './idempotency';
import { parseRequestPart } from './problem';
import { EmptyQuery } from './schemas';
import type { Logger } from 'pino';
import type { Db } from '../db/connection';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ResponseSpec {
  description: string;
  /** Documents the JSON body; absent for a response without one. */
  schema?: z.ZodType;
  /** Media type of the body, `application/json` by default. */
  contentType?: string;
}

/**
 * One route of the API: the express path under `/v1`, who may call it, and the schemas
 * the OpenAPI document shows. Routes are registered through `mount`, so the document and
 * the server cannot list different roles.
 */
export interface RouteSpec {
  /** The OpenAPI operationId. */
  id: string;
  method: 'get' | 'post' | 'put';
  /** Express path relative to `/v1`, such as `/contracts/:id/amend`. */
  path: string;
  /** Roles allowed besides `admin`, which may call every route; `public` needs no key. */
  roles: readonly Role[] | 'public';
  summary: string;
  description?: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Whether the route honours an `Idempotency-Key` header. */
  idempotent?: boolean;
  /** Success responses by status; the error responses every route shares are added by the document builder. */
  responses: Record<number, ResponseSpec>;
  /** Route-specific error statuses with what they mean, beyond 400, 401, 403, 413, 415 and 429. */
  problems?: Record<number, string>;
}

/** Returns the OpenAPI path of a route: `/v1/contracts/{id}/amend`. */
export function openApiPath(spec: Pick<RouteSpec, 'path'>): string {
  return `/v1${spec.path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}')}`;
}

/** Records the route and the contract it concerns in `res.locals`, for the request log. */
function tagRoute(spec: RouteSpec): RequestHandler {
  return (req, res, next) => {
    res.locals.route = `/v1${spec.path}`;
    const candidates = [req.params?.id, (req.body as { contractId?: unknown } | undefined)?.contractId, req.query?.contractId];
    const contractId = candidates.find((value): value is string => typeof value === 'string' && UUID.test(value));
    if (contractId) res.locals.contractId = contractId;
    next();
  };
}

/** Rejects a query string the route does not define, so a misspelt parameter is a 400 rather than ignored. */
function checkQuery(schema: z.ZodObject): RequestHandler {
  return (req, _res, next) => {
    parseRequestPart(schema, req.query, 'query');
    next();
  };
}

/**
 * Registers a route on the router: role check, query check, then the idempotency check
 * on routes marked `idempotent`, then the handler.
 */
export function mount(router: Router, spec: RouteSpec, deps: { db: Db; logger: Logger }, handler: RequestHandler): void {
  const chain: RequestHandler[] = [tagRoute(spec)];
  if (spec.roles !== 'public') chain.push(allow(...spec.roles));
  chain.push(checkQuery(spec.query ?? EmptyQuery));
  if (spec.idempotent) chain.push(idempotency(deps.db, deps.logger));
  chain.push(handler);
  router[spec.method](spec.path, ...chain);
}
