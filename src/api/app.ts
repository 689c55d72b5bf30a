import express, { type Express } from 'express';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Db } from '../db/connection';
import { authenticate } from './auth';
import { notFoundHandler, problemHandler } from './problem';
import { healthRouter } from './routes/health';
import { contractsRouter } from './routes/contracts';
import { usageRouter } from './routes/usage';

/** What the API needs from the outside; tests pass their own. */
export interface ApiDeps {
  db: Db;
  temporal: Client;
  config: Pick<Config, 'temporalNamespace' | 'taskQueue' | 'bodyLimitBytes' | 'rateLimitPerMinute' | 'closeDelayMs' | 'publicUrl'>;
  logger: Logger;
  /** The current time; tests that skip time pass the test server's clock. */
  now: () => Date;
}

/** Builds the express application: `/v1` routes behind API-key auth, problem documents for every error. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(express.json({ limit: deps.config.bodyLimitBytes, strict: true, type: ['application/json', 'application/*+json'] }));

  app.use('/v1/health', healthRouter(deps));
  app.use('/v1', authenticate(deps.db));
  app.use('/v1', usageRouter(deps));
  app.use('/v1/contracts', contractsRouter(deps));

  app.use(notFoundHandler);
  app.use(problemHandler(deps.logger));
  return app;
}
