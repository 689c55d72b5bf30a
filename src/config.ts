import path from 'node:path';

/** Settings read from the environment; every one has a default that works on a laptop. */
export interface Config {
  /** PostgreSQL connection string; unset means the embedded PostgreSQL under `dataDir`. */
  databaseUrl: string | undefined;
  /** Temporal frontend `host:port`; unset means a local dev server under `dataDir`. */
  temporalAddress: string | undefined;
  temporalNamespace: string;
  taskQueue: string;
  /** Folder for the embedded PostgreSQL, the dev server's database, the outbox and keys. */
  dataDir: string;
  apiHost: string;
  apiPort: number;
  postgresPort: number;
  temporalPort: number;
  temporalUiPort: number;
  /** SMTP connection URL (`smtp://user:pass@host:587`, `smtps://...`); unset writes `.eml` files. */
  smtpUrl: string | undefined;
  mailFrom: string;
  /** Time after a period's end before it closes, so events in flight still count in it. */
  closeDelayMs: number;
  /** Public base URL of the API, used in links inside emails. */
  publicUrl: string;
  logLevel: string;
  /** Largest accepted request body, in bytes. */
  bodyLimitBytes: number;
  /** Requests per minute allowed to one API key. */
  rateLimitPerMinute: number;
  /** Workflow runs the worker keeps cached; unset keeps the Temporal SDK's default, sized from the heap. */
  workerMaxCachedWorkflows: number | undefined;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration such as `90s`, `1h`, `15m` or a plain number of milliseconds. */
export function parseDuration(text: string, variable: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) {
    throw new ConfigError(variable, `"${text}" is not a duration; use a number with ms, s, m, h or d, such as 1h.`);
  }
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2] ?? 'ms']!);
}

function parsePort(text: string | undefined, fallback: number, variable: string): number {
  if (text === undefined || text === '') return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(variable, `"${text}" is not a TCP port (0 to 65535).`);
  }
  return port;
}

function parsePositiveInteger(text: string | undefined, fallback: number, variable: string): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    throw new ConfigError(variable, `"${text}" is not a positive integer.`);
  }
  return value;
}

/** Reads the configuration from `env`; see docs/configuration.md for each variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const apiPort = parsePort(env.PORT, 3000, 'PORT');
  const apiHost = env.HOST || '127.0.0.1';
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    temporalAddress: env.TEMPORAL_ADDRESS || undefined,
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.TRUEUP_TASK_QUEUE || 'trueup-contracts',
    dataDir: path.resolve(env.TRUEUP_DATA_DIR || '.data'),
    apiHost,
    apiPort,
    postgresPort: parsePort(env.TRUEUP_POSTGRES_PORT, 5433, 'TRUEUP_POSTGRES_PORT'),
    temporalPort: parsePort(env.TRUEUP_TEMPORAL_PORT, 7233, 'TRUEUP_TEMPORAL_PORT'),
    temporalUiPort: parsePort(env.TRUEUP_TEMPORAL_UI_PORT, 8233, 'TRUEUP_TEMPORAL_UI_PORT'),
    smtpUrl: env.SMTP_URL || undefined,
    mailFrom: env.MAIL_FROM || 'trueup <billing@trueup.localhost>',
    closeDelayMs: parseDuration(env.CLOSE_DELAY || '1h', 'CLOSE_DELAY'),
    publicUrl: env.PUBLIC_URL || `http://${apiHost}:${apiPort}`,
    logLevel: env.LOG_LEVEL || 'info',
    bodyLimitBytes: parsePositiveInteger(env.BODY_LIMIT_BYTES, 1_048_576, 'BODY_LIMIT_BYTES'),
    rateLimitPerMinute: parsePositiveInteger(env.RATE_LIMIT_PER_MINUTE, 6000, 'RATE_LIMIT_PER_MINUTE'),
    workerMaxCachedWorkflows: env.TRUEUP_WORKER_MAX_CACHED_WORKFLOWS
      ? parsePositiveInteger(env.TRUEUP_WORKER_MAX_CACHED_WORKFLOWS, 1, 'TRUEUP_WORKER_MAX_CACHED_WORKFLOWS')
      : undefined,
  };
}
