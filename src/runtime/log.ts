/**
 * Logger that the runtime helpers write progress and failures to. A pino logger fits, and so
 * does `consoleLog` below.
 */
export interface RuntimeLog {
  info(message: string): void;
  warn(message: string): void;
}

/** Writes each message as one line on stderr, so stdout stays free for a command's output. */
export const consoleLog: RuntimeLog = {
  info: (message) => process.stderr.write(`${message}\n`),
  warn: (message) => process.stderr.write(`warning: ${message}\n`),
};

/** Discards progress messages and writes warnings to stderr, for tests. */
export const quietLog: RuntimeLog = {
  info: () => undefined,
  warn: consoleLog.warn,
};

/** Formats a duration in milliseconds as `1m05s` or `4.2s`. */
export function formatElapsed(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}
