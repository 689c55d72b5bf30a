import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';

/** One rule a request broke: where (a JSON path such as `body.events[3].quantity`) and which rule. */
export interface FieldError {
  path: string;
  rule: string;
  message: string;
}

/**
 * An RFC 9457 problem document. `type` is a stable URN per problem kind so that clients
 * can branch on it; `errors` lists every field rule broken.
 */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    readonly title: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'Problem';
  }

  toJSON(instance?: string): Record<string, unknown> {
    return {
      type: `urn:trueup:problem:${this.kind}`,
      title: this.title,
      status: this.status,
      detail: this.detail,
      ...(instance ? { instance } : {}),
      ...(this.errors.length > 0 ? { errors: this.errors } : {}),
      ...this.extra,
    };
  }
}

export const badRequest = (detail: string, errors: FieldError[] = []) =>
  new Problem(400, 'invalid-request', 'Invalid request', detail, errors);
export const notFound = (detail: string) => new Problem(404, 'not-found', 'Not found', detail);
export const conflict = (detail: string, kind = 'conflict', extra: Record<string, unknown> = {}) =>
  new Problem(409, kind, 'Conflict', detail, [], extra);
export const unprocessable = (detail: string, kind: string, errors: FieldError[] = [], extra: Record<string, unknown> = {}) =>
  new Problem(422, kind, 'Request refused', detail, errors, extra);

/** Converts zod issues to field errors whose path starts at the request part (`body`, `query`). */
export function fieldErrorsFromZod(error: z.ZodError, root: string): FieldError[] {
  return error.issues.map((issue) => ({
    path: formatPath([root, ...issue.path]),
    rule: issue.code,
    message: issue.message,
  }));
}

/** Formats a path as `body.tiers[1].commitCredits`. */
export function formatPath(parts: readonly PropertyKey[]): string {
  let text = '';
  for (const part of parts) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? String(part) : `.${String(part)}`;
  }
  return text;
}

/** Parses one request part with a zod schema, or throws a 400 problem naming each broken field. */
export function parseRequestPart<T extends z.ZodType>(schema: T, value: unknown, root: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  if (value === undefined && root === 'body') {
    throw badRequest('The request body is missing; send a JSON object with Content-Type: application/json.', [
      { path: 'body', rule: 'required', message: 'is missing' },
    ]);
  }
  const errors = fieldErrorsFromZod(result.error, root);
  throw badRequest(`The request ${root} is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(notFound(`No route matches ${req.method} ${req.path}; see /v1/openapi.json for the routes.`));
};

/**
 * Rejects with 415 a request whose body is not JSON (`application/json` or
 * `application/*+json`), because every route reads JSON and would otherwise see no body.
 */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  const hasBody = req.get('transfer-encoding') !== undefined || Number(req.get('content-length') ?? '0') > 0;
  if (!hasBody || req.is(['application/json', 'application/*+json'])) {
    next();
    return;
  }
  next(
    new Problem(415, 'unsupported-media-type', 'Unsupported media type', 'Send the request body as JSON with `Content-Type: application/json`.', [
      { path: 'header.Content-Type', rule: 'json', message: 'must be application/json' },
    ]),
  );
};

/**
 * Maps every error to a problem document. Errors of body parsing keep their 4xx status.
 * Anything unexpected gets a 500 with no internals and is logged with its name and
 * message (the stack at debug level only).
 */
export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const problem = toProblem(err);
    if (problem.status >= 500) {
      // The stack goes to debug only: error-level logs carry the error's name and message.
      const error = err instanceof Error ? err : new Error(String(err));
      logger.error({ errorName: error.name, errorMessage: error.message, method: req.method, route: res.locals.route ?? req.path }, 'request failed');
      logger.debug({ stack: error.stack }, 'stack of the failed request');
    }
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem.toJSON(req.originalUrl)));
  };
}

function toProblem(err: unknown): Problem {
  if (err instanceof Problem) return err;

  const httpError = err as { status?: unknown; type?: unknown; expose?: unknown; message?: unknown };
  if (typeof httpError?.status === 'number' && httpError.status >= 400 && httpError.status < 500) {
    if (httpError.type === 'entity.too.large') {
      const limit = (err as { limit?: unknown }).limit;
      const size = typeof limit === 'number' ? ` of ${limit} bytes` : '';
      return new Problem(413, 'payload-too-large', 'Payload too large', `The request body exceeds the size limit${size}; send fewer events per request.`, [
        { path: 'body', rule: 'max_size', message: `must be at most${size || ' the size limit'}` },
      ]);
    }
    if (httpError.type === 'entity.parse.failed') {
      // express.json in strict mode also rejects valid JSON whose top level is not an object or array.
      const body = (err as { body?: unknown }).body;
      const scalar = typeof body === 'string' && /^\s*(null|true|false|-?\d|")/.test(body);
      return scalar
        ? badRequest('The request body must be a JSON object.', [{ path: 'body', rule: 'object', message: 'must be a JSON object' }])
        : badRequest('The request body is not valid JSON.', [{ path: 'body', rule: 'json', message: 'is not valid JSON' }]);
    }
    if (httpError.type === 'encoding.unsupported' || httpError.type === 'charset.unsupported') {
      return new Problem(415, 'unsupported-encoding', 'Unsupported encoding', 'The request body encoding is not supported; send UTF-8 JSON.');
    }
    const message = httpError.expose === true && typeof httpError.message === 'string' ? httpError.message : 'Bad request.';
    return new Problem(httpError.status, 'invalid-request', 'Invalid request', message);
  }
  return new Problem(500, 'internal', 'Internal server error', 'The server failed to handle the request; it is logged.');
}
