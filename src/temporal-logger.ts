import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import type { Logger } from 'pino';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Adapts a pino logger to the Temporal SDK's logger interface, so the SDK's lines are JSON too. */
export function temporalLoggerFor(logger: Logger): TemporalLogger {
  const child = logger.child({ component: 'temporal-sdk' });
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => child[LEVELS[level]](meta ?? {}, message);
  return {
    log: (level, message, meta) => log(adjustLevel(level, message, meta), message, meta),
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log(adjustLevel('INFO', message, meta), message, meta),
    warn: (message, meta) => log(adjustLevel('WARN', message, meta), message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}

/**
 * Lowers two kinds of routine SDK lines. The bundler's asset report, a multi-kilobyte
 * line at each worker start, goes to debug. An activity that failed by rejecting an
 * operation, an ops request that the API returns as a 4xx, goes to info.
 */
function adjustLevel(level: LogLevel, message: string, meta?: LogMetadata): LogLevel {
  if (level === 'INFO' && message.startsWith('asset ')) return 'DEBUG';
  const error = (meta as { error?: { type?: unknown } } | undefined)?.error;
  if (level === 'WARN' && message === 'Activity failed' && error?.type === 'OperationRejected') return 'INFO';
  return level;
}

let installed = false;

/**
 * Routes the Temporal SDK's logs (worker and core) to `logger`. The SDK's runtime is
 * created once per process, so only the first call has an effect.
 */
export function installTemporalLogger(logger: Logger): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    logger: temporalLoggerFor(logger),
    telemetryOptions: { logging: { forward: {}, filter: { core: 'WARN', other: 'ERROR' } } },
  });
}
