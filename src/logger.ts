import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Creates the service logger: JSON lines on stdout. Lines about one contract carry its
 * `contractId` (use `logger.child({ contractId })`); secrets are redacted by path.
 */
export function createLogger(level = 'info', name = 'trueup'): Logger {
  return pino({
    name,
    level,
    redact: ['req.headers.authorization', 'authorization', 'apiKey', 'secret', 'password', 'smtpUrl'],
  });
}
