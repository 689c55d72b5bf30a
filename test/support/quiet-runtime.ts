import { DefaultLogger, Runtime } from '@temporalio/worker';

let installed = false;

/**
 * Installs the Temporal runtime with WARN-level logging for the SDK's TypeScript side and
 * ERROR-level logging for its native core, so workers do not print a line per state change.
 * Call it before the first worker, test environment or connection of the process: the
 * runtime is created once per process. `TEST_LOG_LEVEL` (for example `INFO`) overrides
 * both levels when a failing test needs the SDK's own logs.
 */
export function quietTemporalRuntime(): void {
  if (installed) return;
  installed = true;
  const level = (process.env.TEST_LOG_LEVEL?.toUpperCase() ?? 'WARN') as 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  const coreLevel = process.env.TEST_LOG_LEVEL ? level : 'ERROR';
  Runtime.install({
    logger: new DefaultLogger(level),
    telemetryOptions: { logging: { filter: { core: coreLevel, other: 'ERROR' }, forward: {} } },
  });
}
