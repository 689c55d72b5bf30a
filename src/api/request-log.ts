import type { RequestHandler } from 'express';
import type { Logger } from 'pino';

/**
 * Logs each request at info once the response is sent: method, route pattern, status,
 * duration, API key id and the contract id when the request names one. The URL's query
 * and every header stay out of the log, so no secret is logged.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info(
        {
          method: req.method,
          // Before a route matches (a 401, or a 404 for an unknown path) only the path is known.
          ...(res.locals.route ? { route: res.locals.route as string } : { path: req.path }),
          status: res.statusCode,
          durationMs: Math.round(durationMs * 10) / 10,
          keyId: req.principal?.keyId ?? null,
          ...(res.locals.contractId ? { contractId: res.locals.contractId as string } : {}),
        },
        'request',
      );
    });
    next();
  };
}
