import express, { type Express } from 'express';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Db } from '../db/connection';
import { authenticate } from './auth';
import { renderDocsPage } from './docs-page';
import { HTML_PAGE_CSP } from './html';
import { buildOpenApiDocument } from './openapi';
import { notFoundHandler, problemHandler, requireJsonBody } from './problem';
import { rateLimit } from './rate-limit';
import { requestLog } from './request-log';
import { contractsRouter } from './routes/contracts';
import { healthRouter } from './routes/health';
import { operationsRouter } from './routes/operations';
import { publicRouter } from './routes/public';
import { readsRouter } from './routes/reads';
import { usageRouter } from './routes/usage';

/** Dependencies of the API, which tests replace with their own. */
export interface ApiDeps {
  db: Db;
  temporal: Client;
  config: Pick<Config, 'temporalNamespace' | 'taskQueue' | 'bodyLimitBytes' | 'rateLimitPerMinute' | 'closeDelayMs' | 'publicUrl'>;
  logger: Logger;
  /** The current time; tests that skip time pass the test server's clock. */
  now: () => Date;
  /** Clock of the rate limiter in milliseconds, monotonic; `performance.now` unless a test passes its own. */
  rateLimitClockMs?: () => number;
}

/**
 * Builds the express application: the docs page and `/v1/openapi.json` and `/v1/health`
 * without a key, every other `/v1` route behind API-key auth and a per-key rate limit,
 * problem documents for every error, and one log line per request.
 */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(requestLog(deps.logger));
  app.use(requireJsonBody);
  app.use(express.json({ limit: deps.config.bodyLimitBytes, strict: true, type: ['application/json', 'application/*+json'] }));

  const docsPage = renderDocsPage(buildOpenApiDocument());
  app.get('/docs', (_req, res) => {
    res.locals.route = '/docs';
    res.set('Content-Security-Policy', HTML_PAGE_CSP).type('html').send(docsPage);
  });
  app.use('/v1', healthRouter(deps));
  app.use('/v1', publicRouter(deps));

  app.use('/v1', authenticate(deps.db));
  app.use('/v1', rateLimit(deps.config.rateLimitPerMinute, deps.rateLimitClockMs));
  app.use('/v1', contractsRouter(deps));
  app.use('/v1', operationsRouter(deps));
  app.use('/v1', usageRouter(deps));
  app.use('/v1', readsRouter(deps));

  app.use(notFoundHandler);
  app.use(problemHandler(deps.logger));
  return app;
}
